"""What the picture-making tabs (Dream, Style) share: a job that paints one picture.

:class:`ImageJobTab` lays out the right side (live preview with Hold-to-compare and Fit,
a notice line, the progress bar and the loss plot in a splitter) and the Run/Stop/Save
row under the controls, wires them and the :class:`JobRunner`'s signals, and handles
what every such job does alike: progress, notices, the stop, the failure, saving the
picture with its parameters. A subclass builds its controls, keeps its own state and
implements the hooks (``_keep_result``, ``_on_step``, ``_picture_to_save``...).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLayout,
    QMessageBox,
    QSplitter,
    QWidget,
)

from cnnstudio.core.errors import ResourceMissingError, StudioError
from cnnstudio.core.events import DownloadProgress, Preview, Progress
from cnnstudio.gui.messages import capitalized, describe, error_text
from cnnstudio.gui.tabs import image_job_layout as layout_parts
from cnnstudio.gui.tabs.base import StudioTab
from cnnstudio.gui.tabs.batch import BatchJob, TabBatch
from cnnstudio.gui.tabs.motion.controller import MotionController, is_motion_file
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.plots import LossPlot
from cnnstudio.gui.widgets.progress import JobProgress
from cnnstudio.gui.workers import JobRunner

#: the largest picture a tab keeps in memory as a source (the jobs shrink it themselves)
SOURCE_MAX_SIDE = 4096


class ImageJobTab(StudioTab):
    """Base of a tab whose job paints one picture with a live preview.

    Subclasses set ``object_prefix`` (objectNames: "dream" -> "dreamRunButton"),
    ``job_name`` (status lines) and the texts below, create ``self.runner`` and the
    ``_result`` / ``_last_preview`` / ``_last_step`` state, then call
    :meth:`_build_job_layout` with their form (which has a ``weights_picker``) and
    :meth:`_connect_job`.
    """

    object_prefix = ""
    job_name = ""
    picture_max_side = SOURCE_MAX_SIDE
    #: "{name} was <made_verb> by CNN Studio" when a saved picture is opened again
    made_verb = "made"
    #: the status line after a stop that left a picture (``{step}`` is its step)
    stopped_text = "Stopped: the picture of step {step} can be saved"
    nothing_to_save = "Nothing to save yet: run the job first"
    #: what a running job is called in the question before closing ("a dream")
    running_work = "a job"
    #: what an unsaved result is called in that question ("the dreamed picture")
    result_work = "the picture"
    #: a batch's results are named <picture><batch_suffix>.png
    batch_suffix = "-result"

    runner: JobRunner
    form: QWidget
    _result: np.ndarray | None
    _last_preview: Preview | None
    _last_step: int
    #: the picture last saved (by identity): a result that is it needs no question
    _saved_picture: np.ndarray | None = None
    #: what the preview shows while a run starts, and again if it fails (the source)
    _run_reference: np.ndarray | None = None
    #: motion (a video in, Dream's zoom): set by the tabs that have it
    motion: MotionController | None = None

    # ------------------------------------------------------------------ construction

    def _build_job_layout(
        self,
        form: QWidget,
        *,
        inputs: QWidget | None = None,
        button_tips: tuple[str, str, str],
        extra_buttons: tuple[QWidget, ...] = (),
        placeholder: str | None,
        compare_tip: str,
        fit_tip: str,
        progress: JobProgress,
        loss_plot: LossPlot,
        under_preview: QLayout | None = None,
        run_note: QWidget | None = None,
    ) -> None:
        """The form (scrolled, under ``inputs``: the pictures the job paints, if they are
        not part of the preview) over Run/Stop/Save on the left; preview, progress and
        loss on the right. ``button_tips``: the Run, Stop and Save tool tips;
        ``run_note``: a line just over the buttons (Style: how long a run will take)."""
        self.form = form
        left = layout_parts.form_column(self, form, inputs, button_tips, extra_buttons, run_note)
        right = layout_parts.view_column(
            self, placeholder, compare_tip, fit_tip, progress, loss_plot, under_preview
        )
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        self.splitter = splitter
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

    def _connect_job(self) -> None:
        """Wire the buttons, the preview and the runner to the shared handlers."""
        self.batch = TabBatch(self)
        self.preview.accept_folders = True  # a folder dropped: a batch over it
        self.preview.folder_dropped.connect(self.ask_batch)
        self.run_button.clicked.connect(self.run_job)
        self.stop_button.clicked.connect(self.stop_job)
        self.save_button.clicked.connect(self.save_result)
        self.preview.image_dropped.connect(self.open_image)
        self.compare_button.pressed.connect(lambda: self.preview.set_comparing(True))
        self.compare_button.released.connect(lambda: self.preview.set_comparing(False))
        self.split_button.toggled.connect(self.preview.set_split)
        self.fit_button.clicked.connect(self.preview.fit)
        self.runner.progress.connect(self._on_progress)
        self.runner.preview.connect(self._on_preview)
        self.runner.notice.connect(self._on_notice)
        self.runner.finished.connect(self._on_finished)
        self.runner.stopped.connect(self._on_stopped)
        self.runner.failed.connect(self._on_failed)
        self.runner.done.connect(self._update_buttons)

    # ------------------------------------------------------------------ hooks

    def _update_buttons(self) -> None:
        """Enable what fits the state (running, a result to save...)."""
        raise NotImplementedError

    def _keep_result(self, image: np.ndarray, stopped_at: int | None) -> None:
        """Keep ``image`` as the result (``stopped_at``: the step a stopped run reached)."""
        raise NotImplementedError

    def _on_step(self, event: Progress) -> None:
        """A step's Progress, after the bar has shown it (the loss plot...)."""

    def _on_other_progress(self, event: object) -> None:
        """A progress event of the job's own kind (neither a download nor a step)."""

    def _on_preview(self, event: Preview) -> None:
        first = self._last_preview is None
        self._last_preview = event
        self.preview.set_image(event.image)
        if first:
            self._update_buttons()  # the picture so far can be saved (Ctrl+S)

    def _result_untrained(self) -> bool:
        """Whether the result was made by a network with random weights."""
        return False

    def _picture_to_save(self) -> tuple[np.ndarray, dict] | None:
        """(picture, parameters to embed) that Save writes, or None for nothing yet."""
        raise NotImplementedError

    def ask_save_path(self) -> str | None:
        """Where to save (replaced in tests)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the job

    def _reset_for_run(self, reference: np.ndarray | None) -> None:
        """Forget the last result and clear the plot and notice before a run;
        ``reference`` is what Hold to compare shows."""
        self._result = None
        self._last_preview = None
        self._last_step = 0
        self.loss_plot.clear()
        self.notice_label.setText("")
        self.preview.set_reference(reference)
        # the last result must not stay on show as if the new run had made it
        self._run_reference = reference
        if reference is not None:
            self.preview.set_image(reference)

    def _forget_result(self) -> None:
        """A new picture to work on: the last run's result, loss curves, notice and
        progress belong to the old one."""
        self._result = None
        self._last_preview = None
        self._last_step = 0
        self._run_reference = None
        self.loss_plot.clear()
        self.notice_label.setText("")
        self.progress.reset_progress()

    def _announce_run(self, label: str, doing: str) -> None:
        """Bar and status line as the run starts: "Preparing <label>...", "<doing> with"."""
        self.progress.start(f"Preparing {label}...")
        self.status.emit(f"{doing} with {label}")

    def stop_job(self) -> None:
        if self.runner.running:
            self.runner.stop()
            self.progress.setFormat(self.progress.format() + " - stopping...")

    def _on_progress(self, event: object) -> None:
        if self.batch.active and self.batch.handle(event):
            return
        if self._motion_running() and self.motion.handle(event):
            return
        if isinstance(event, DownloadProgress):
            self.progress.show_download(event)  # the weights, before the first step
            self.status.emit(f"{self.job_name}: {event.text}")
            return
        if not isinstance(event, Progress):
            self._on_other_progress(event)
            return
        self._last_step = event.step
        self.progress.update_progress(event)
        self._on_step(event)

    def _on_notice(self, text: str) -> None:
        self.notice_label.setText(capitalized(text))
        self.status.emit(f"{self.job_name}: {text}")

    def _on_finished(self, result: object) -> None:
        if self.batch.active:
            self.batch.ended("finished", result)
            return
        if self._motion_running():
            self.motion.ended("finished", result)
            return
        image = np.asarray(result)
        self._keep_result(image, stopped_at=None)
        self.progress.finish("Done")
        untrained = " (untrained network)" if self._result_untrained() else ""
        self.status.emit(f"{self.job_name} finished: {image.shape[1]}x{image.shape[0]}{untrained}")

    def _on_stopped(self) -> None:
        if self.batch.active:
            self.batch.ended("stopped", self.runner.result)
            return
        if self._motion_running():
            self.motion.ended("stopped")
            return
        self.progress.finish("Stopped")
        if self._last_preview is not None:
            # the picture so far is worth keeping; the saved metadata says where it stopped
            # (the last frame shown may be a few steps older than the last step taken)
            step = self._last_preview.step
            self._keep_result(self._last_preview.image, stopped_at=step)
            self.status.emit(self.stopped_text.format(step=step))
        else:
            self.status.emit("Stopped before the first picture")

    def _on_failed(self, message: str) -> None:
        if self.batch.active:
            self.batch.ended("failed")
        if self._motion_running():
            self.motion.ended("failed")
        self.progress.finish("Failed")
        self.status.emit(message)
        # no picture of the failed run: show what it started from, not an older result
        self.preview.set_image(self._run_reference)
        if isinstance(getattr(self.runner, "error", None), ResourceMissingError):
            self.show_missing_weights(message)
        else:
            self.show_error(message, self.runner.error_details)

    def show_missing_weights(self, message: str) -> QMessageBox:
        """The weights are not on this machine: say so and offer the ways out."""
        return dialogs.show_missing_weights(
            self, message, lambda: self.form.weights_picker.set_value("random")
        )

    # ------------------------------------------------------------------ pictures in

    def _load_picture(self, path: str) -> np.ndarray | None:
        """The picture at ``path`` (uint8 RGB), or None after saying why not."""
        from cnnstudio.core import images

        try:
            return images.load_image(path, max_side=self.picture_max_side)
        except StudioError as error:
            message = describe(error)
        except OSError as error:
            message = f"{Path(path).name}: cannot be read ({error.strerror or error})"
        self.status.emit(message)
        self.show_error(message)
        return None

    def ask_restore_params(self, path: str) -> bool:
        """Whether to restore the parameters found in ``path`` (replaced in tests)."""
        return dialogs.ask_yes_no(
            self,
            f"{Path(path).name} was {self.made_verb} by CNN Studio. "
            "Restore the parameters it was made with?",
        )

    # ------------------------------------------------------------------ results out

    def has_result(self) -> bool:
        """A picture to save: the result, or during a run the picture so far (or the
        frames of a video or a zoom)."""
        if self.motion_mode():
            return self.motion.has_frames()
        return self._result is not None or (self.runner.running and self._last_preview is not None)

    def result_image(self) -> np.ndarray | None:
        return self._result

    def is_busy(self) -> bool:
        return self.runner.running

    def save_result(self) -> None:
        """Save the picture with its parameters embedded, where the user says (during a
        run: the picture so far, labelled with its step)."""
        self._save_shown()

    def _save_shown(self) -> bool:
        """Save what :meth:`_picture_to_save` gives; False if nothing was saved."""
        if self.batch.active:
            self.status.emit("A batch saves each result itself, as soon as it is made")
            return False
        if self.motion_mode():
            return self.motion.save_video()
        to_save = self._picture_to_save()
        if to_save is None:
            self.status.emit(self.nothing_to_save)
            return False
        path = self.ask_save_path()
        if not path:
            return False
        from cnnstudio.core import image_saving

        picture, meta = to_save
        try:
            # the dialog has confirmed replacing an existing file
            saved = image_saving.save_image(path, picture, params=meta, overwrite=True)
        except (StudioError, OSError) as error:
            message = f"{Path(path).name}: not saved ({error_text(error)})"
            self.status.emit(message)
            self.show_error(message)
            return False
        self._saved_picture = picture
        self.recent_file.emit(str(saved))
        step = meta.get("preview_step")
        self.status.emit(f"Saved {saved}" + (f" (the picture of step {step})" if step else ""))
        return True

    def copy_picture(self) -> np.ndarray | None:
        """Ctrl+C: the picture Save would write (the result, the snapshot shown, the
        picture so far), else what the preview shows."""
        to_save = self._picture_to_save()
        return to_save[0] if to_save is not None else self.preview.image()

    # ------------------------------------------------------------------ unsaved work

    def unsaved_work(self) -> str | None:
        if self.batch.active:
            return f"{self.title}: a batch is running; closing stops it (its results stay)."
        if self.runner.running:
            return f"{self.title}: {self.running_work} is running; closing stops it."
        motion = self.motion.unsaved_work() if self.motion is not None else None
        if motion is not None:
            return motion
        if self._result is not None and self._saved_picture is not self._result:
            return f"{self.title}: {self.result_work} is not saved."
        return None

    def can_save_work(self) -> bool:
        if self.motion is not None and self.motion.has_frames() and not self.motion.saved:
            return not self.batch.active
        return not self.batch.active and self._picture_to_save() is not None

    def save_work(self) -> bool:
        if self.motion is not None and self.motion.has_frames() and not self.motion.saved:
            return self.motion.save_video(wait=True)
        return self._save_shown()

    # ------------------------------------------------------------------ motion

    def _motion_running(self) -> bool:
        return self.motion is not None and self.motion.running

    def motion_mode(self) -> bool:
        """A video or a zoom is the job (Save saves its video)."""
        motion = self.motion
        return motion is not None and (motion.running or motion.active() or self.zoom_enabled())

    def zoom_enabled(self) -> bool:
        """Dream's zoom animation is ticked (the other tabs have none)."""
        return False

    def open_motion_file(self, path: str) -> bool:
        """``path`` is a video (or an animated GIF): open it as the input; True when it
        was one (the tab opens pictures itself)."""
        if self.motion is None or not is_motion_file(path):
            return False
        self.motion.open_video(path)
        return True

    def ask_unsaved(self, message: str, can_save: bool) -> str:
        """Save / Discard / Cancel (replaced in tests): ``dialogs.SAVE``, ..."""
        return dialogs.ask_unsaved_work(self, message, can_save, self.title)

    def _may_replace_result(self, new_name: str) -> bool:
        """Before a new picture replaces an unsaved result: ask, as image editors do.
        True when the result is saved (now or before) or may go."""
        if self._result is None or self._saved_picture is self._result:
            return True
        answer = self.ask_unsaved(
            f"{capitalized(self.result_work)} is not saved. Save it before opening {new_name}?",
            can_save=self.can_save_work(),
        )
        if answer == dialogs.SAVE:
            return self._save_shown()
        return answer == dialogs.DISCARD

    # ------------------------------------------------------------------ batches

    def ask_batch(self, folder: str = "") -> bool:
        """File > Batch..., or a folder dropped on the picture: this tab's job over every
        picture of a folder (:class:`TabBatch`)."""
        return self.batch.start(folder)

    def batch_job(self) -> BatchJob | None:
        """What the batch does to each picture, with the tab's settings; None (after
        saying why) when the settings cannot make one."""
        return None

    def batch_started(self) -> None:
        """A batch starts: forget the last result, as a run does."""
        self._reset_for_run(None)
        self.preview.set_image(None)

    def show_batch_report(self, message: str) -> None:
        """The pictures a batch skipped (replaced in tests)."""
        dialogs.show_info(self, message, f"{self.job_name} batch")

    def shutdown(self) -> None:
        self.runner.shutdown()
        if self.motion is not None:
            self.motion.shutdown()
