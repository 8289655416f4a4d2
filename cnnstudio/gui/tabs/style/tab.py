"""The Style tab: neural style transfer with a live preview.

On the left the pictures (:class:`StylePictures`: a content slot and weighted style
pictures) over the form (:class:`StyleForm`: the controls <-> StyleParams); on the right
the picture changing live, snapshots to step back through, the progress and the three
loss terms. The job is ``core.style.stylize``, run by a :class:`JobRunner`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox, QVBoxLayout, QWidget

from cnnstudio.core.errors import InputError, StudioError
from cnnstudio.core.events import Preview, Progress
from cnnstudio.core.style import job as style_job
from cnnstudio.core.style import memory as style_memory
from cnnstudio.core.style import params as style_params
from cnnstudio.core.style.params import StyleParams
from cnnstudio.gui.messages import describe, error_text
from cnnstudio.gui.settings import last_folder, remember_folder
from cnnstudio.gui.tabs.batch import BatchJob
from cnnstudio.gui.tabs.image_job import ImageJobTab
from cnnstudio.gui.tabs.motion.controller import MotionController
from cnnstudio.gui.tabs.motion.questions import ask_open_media
from cnnstudio.gui.tabs.style.batch_job import style_batch_job
from cnnstudio.gui.tabs.style.estimate import RunEstimate
from cnnstudio.gui.tabs.style.form import StyleForm
from cnnstudio.gui.tabs.style.memory_box import show_memory_error
from cnnstudio.gui.tabs.style.modes import StyleModes
from cnnstudio.gui.tabs.style.pictures import StylePictures
from cnnstudio.gui.tabs.style.snapshots import Snapshots
from cnnstudio.gui.tabs.style.video import StyleVideo
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.plots import LossPlot
from cnnstudio.gui.widgets.progress import JobProgress
from cnnstudio.gui.workers import JobRunner

_HINT = "Drop a content picture and at least one style picture, then press Run"
_BUSY = "Stop the run before changing the pictures"


class StyleTab(StyleModes, ImageJobTab):
    """Neural style transfer: pictures and parameters left, live result right."""

    title = "Style"
    settings_key = "style"
    object_prefix = "style"
    job_name = "Style"
    made_verb = "painted"
    stopped_text = "Stopped at step {step}: the picture so far can be saved"
    nothing_to_save = "Nothing to save yet: run a style transfer first"
    running_work = "a style transfer"
    result_work = "the styled picture"
    batch_suffix = "-style"

    form: StyleForm

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("styleTab")
        self.runner = JobRunner("Style", self)
        self._run_params: StyleParams | None = None
        self._run_meta: dict = {}
        self._result: np.ndarray | None = None
        self._result_meta: dict = {}
        self._last_preview: Preview | None = None
        self._last_step = 0
        self._progress_text = ""  # the bar's text after the latest Progress
        self.snapshot_bar = Snapshots(self)
        self.snapshot_slider = self.snapshot_bar.slider
        self.snapshot_label = self.snapshot_bar.label
        self._next_snapshot = 0
        self.pictures = StylePictures()
        self.estimate = RunEstimate(self)  # the run time, over Run
        self._settings_restored = False
        self.motion = MotionController(self, "style", StyleVideo(self))  # a video as content
        under_preview = QVBoxLayout()
        under_preview.addLayout(self.snapshot_bar.bar)
        under_preview.addWidget(self.motion.panel)
        loss_plot = LossPlot(x_label="iteration", y_label="loss (log)")
        loss_plot.set_log_y(True)  # content, style and TV differ by decades
        self._build_job_layout(
            StyleForm(),
            inputs=self.pictures,
            button_tips=(
                "Start painting",
                "Stop after the current iteration",
                "Save the picture shown (with its parameters)",
            ),
            placeholder=_HINT,
            compare_tip="Shows the content picture while pressed",
            fit_tip="Fit the picture to the view (the wheel zooms)",
            progress=JobProgress(stage_name="Scale", step_word="iteration"),
            loss_plot=loss_plot,
            under_preview=under_preview,
            run_note=self.estimate.label,
        )
        self._connect()
        self._build_modes()  # the mode switch: this page, fast style training and use
        self._update_buttons()

    @property
    def snapshots(self) -> list[tuple[int, np.ndarray]]:
        """(iteration, picture) every N iterations of the current or last run, the
        final picture last."""
        return self.snapshot_bar.items

    def _connect(self) -> None:
        self._connect_job()
        pictures = self.pictures
        pictures.open_content_button.clicked.connect(self._open_content_clicked)
        pictures.add_style_button.clicked.connect(self._add_style_clicked)
        pictures.remove_style_button.clicked.connect(self.remove_selected_style)
        pictures.content_slot.image_dropped.connect(self.open_image)
        pictures.content_slot.accept_folders = True  # a folder of contents: a batch
        pictures.content_slot.folder_dropped.connect(self.ask_batch)
        pictures.content_slot.accept_videos = True  # a video: painted frame by frame
        pictures.content_slot.video_dropped.connect(self.motion.open_video)
        # several style pictures may be dropped at once: each becomes a style
        pictures.style_slot.images_dropped.connect(self.add_style_files)
        self.snapshot_bar.chosen.connect(self._show_snapshot)
        self.form.changed.connect(self._update_estimate)
        self.estimate.text_changed.connect(
            lambda text: self.run_button.setToolTip(f"Start painting (F5). {text}")
        )
        self._update_estimate()

    def _update_buttons(self) -> None:
        running = self.runner.running
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.save_button.setEnabled(self.shown_picture() is not None)  # also mid-run
        self.pictures.setEnabled(not running)
        self.form.setEnabled(not running)

    # ------------------------------------------------------------------ pictures in

    def ask_open_path(self, title: str = "Content picture") -> str | None:
        """A picture or a video from a dialog (replaced in tests)."""
        return ask_open_media(self, title)

    def ask_open_paths(self, title: str = "Style pictures") -> list[str]:
        """Image files from a dialog that allows several (replaced in tests)."""
        paths, _ = QFileDialog.getOpenFileNames(
            self, title, last_folder(), dialogs.image_file_filter()
        )
        if paths:
            remember_folder(paths[0])
        return list(paths)

    def _open_content_clicked(self) -> None:
        path = self.ask_open_path("Content picture")
        if path:
            self.open_image(path)

    def _add_style_clicked(self) -> None:
        self.add_style_files(self.ask_open_paths("Style pictures"))

    def open_image(self, path: str) -> None:
        """Use ``path`` as the content picture; offer to restore embedded parameters."""
        if self.open_in_mode(path):  # "Train a fast style model": a style picture
            return
        if self.runner.running:
            self.status.emit(_BUSY)
            return
        if self.open_motion_file(path):
            return  # a video (or an animated GIF): painted frame by frame
        image = self._load_picture(path)
        if image is None or not self._may_replace_result(Path(path).name):
            return
        self.motion.leave_video()
        self.set_content(image, Path(path).name)
        self.status.emit(f"Content: {Path(path).name} ({image.shape[1]}x{image.shape[0]})")
        self.recent_file.emit(str(path))
        self._offer_params_from(path)

    def _offer_params_from(self, path: str) -> None:
        from cnnstudio.core import images

        try:
            meta = images.read_params(path)
        except (StudioError, OSError):
            return
        if not meta or meta.get("job") != "style" or self.offer_fast_model(meta, path):
            return
        try:
            params = style_params.params_from_metadata(meta)
            params.validate()
        except (StudioError, TypeError, ValueError) as error:
            self.status.emit(
                f"{Path(path).name}: its saved parameters are not usable ({error_text(error)})"
            )
            return
        if self.ask_restore_params(path):
            message = f"Restored the parameters of {Path(path).name}"
            weights = params.weights
            picker = self.form.weights_picker
            if weights not in ("imagenet", "random") and not Path(weights).is_file():
                # a weights file that is gone: keep the current choice, and say so
                params = dataclasses.replace(params, weights=picker.value())
                message += (
                    f"; its weights file {weights} no longer exists, so the weights stay "
                    f"'{picker.currentText()}': choose the file again"
                )
            self.form.set_params(params)
            self.status.emit(message)

    def set_content(self, image: np.ndarray, name: str = "content") -> None:
        """Paint ``image`` (uint8 RGB) from now on."""
        self.pictures.set_content(image, name)
        # the last run's picture, snapshots, curves and notice belong to the old content
        self._forget_result()
        self.snapshot_bar.clear()
        self.preview.set_reference(self.pictures.content)
        self.preview.set_image(self.pictures.content)
        self.form.set_content_shape(image.shape)
        self.content_changed(image, name)  # "Use a fast style model" styles it
        self._update_estimate()
        self._update_buttons()

    def add_style_file(self, path: str) -> None:
        """Add the picture at ``path`` to the styles (weight 1)."""
        self.add_style_files([path])

    def add_style_files(self, paths: list[str]) -> None:
        """Add each picture in ``paths`` as a style (weight 1); unreadable ones are reported."""
        if self.runner.running:
            self.status.emit(_BUSY)
            return
        added = []
        for path in paths:
            image = self._load_picture(path)
            if image is not None:
                self.pictures.add_style(image, Path(path).name)
                added.append(Path(path).name)
        if added:
            self.status.emit(f"Style added: {', '.join(added)}")

    def add_style(self, image: np.ndarray, name: str = "style", weight: float = 1.0) -> None:
        """Add a style picture (uint8 RGB) with a blend weight."""
        self.pictures.add_style(image, name, weight)

    def remove_selected_style(self) -> None:
        if not self.runner.running:
            self.pictures.remove_selected_style()

    def receive_image(self, image: object, role: str) -> None:
        """From another tab: role "style" adds a style, anything else sets the content."""
        if isinstance(image, np.ndarray):
            if self.runner.running:
                self.status.emit(_BUSY)
            elif role == "style":
                self.add_style(image, "style")
                self.status.emit(f"Style added: the picture ({image.shape[1]}x{image.shape[0]})")
            elif self._may_replace_result(f"the {role or 'content'}"):
                self.motion.leave_video()
                self.set_content(image, role or "content")
                self.status.emit(
                    f"Content: the {role or 'picture'} ({image.shape[1]}x{image.shape[0]})"
                )
        elif isinstance(image, str) and role == "style":
            self.add_style_file(image)
        else:
            super().receive_image(image, role)

    # ------------------------------------------------------------------ the job

    def run_job(self) -> None:
        if self.run_in_mode() or self.runner.running:
            return
        if self.motion.active():
            self.motion.start()  # every frame of the video (style/video.py)
            return
        content, styles = self.pictures.content, self.pictures.styles
        if content is None or not styles:
            self.status.emit(_HINT)
            self.show_error(_HINT)
            return
        params = self.form.params()
        blend = self.pictures.style_blend()
        try:
            params.validate()
            if sum(blend) <= 0:
                raise InputError("every style weight is 0: give at least one style a weight")
            style_memory.check_memory(params, content.shape)
        except style_memory.MemoryTooLargeError as error:
            self.status.emit(describe(error))
            self.show_memory_error(error)
            return
        except InputError as error:
            self.report_error(error)
            return
        self._run_params = params
        self._run_meta = {
            "content": self.pictures.content_name,
            "styles": [s.name for s in styles],
            "style_blend": blend,
        }
        self._progress_text = ""
        self.snapshot_bar.clear()
        self._next_snapshot = 1  # the first picture, then every N iterations
        self._reset_for_run(content)
        from cnnstudio.core.weights import weights_label

        self._announce_run(f"VGG19, {weights_label(params.weights)}", "Painting")
        self.estimate.run_started()
        self.runner.run_generator(
            style_job.stylize, content, [s.image for s in styles], params, style_weights=blend
        )
        self._update_buttons()

    def batch_job(self) -> BatchJob | None:
        """Each picture of a batch painted as the content (style/batch_job.py)."""
        return style_batch_job(self)

    def batch_started(self) -> None:
        super().batch_started()
        self.snapshot_bar.clear()
        self._next_snapshot = 2**62  # no snapshots in a batch: each result is saved

    def _on_other_progress(self, event: object) -> None:
        if isinstance(event, style_job.LbfgsEvaluation):
            # inside an L-BFGS iteration: the bar stays where the last iteration left it,
            # the text counts the iteration being worked on and its evaluations
            if self.progress.maximum() != event.total:
                self.progress.setRange(0, event.total)
                self.progress.setValue(event.iteration - 1)
            self.progress.show_within_step(
                event.iteration,
                event.total,
                event.stage,
                event.stages,
                f"evaluation {event.evaluation} ({event.evaluations} in all)",
            )

    def _on_step(self, event: Progress) -> None:
        self.estimate.run_progress(event)
        self._progress_text = self.progress.format()
        for name, value in event.terms.items():
            if value > 0:  # log axis: a switched-off term has nothing to show
                self.loss_plot.add_point(name, event.step, value)
        if event.message:
            self.progress.setFormat(f"{self._progress_text} - {event.message}")

    def _on_preview(self, event: Preview) -> None:
        first = self._last_preview is None
        self._last_preview = event
        if first:
            self._update_buttons()  # the picture so far can be saved (Ctrl+S)
        if event.step >= self._next_snapshot:
            self.snapshot_bar.add(event.step, event.image)
            every = self.form.snapshot_every()
            self._next_snapshot = (event.step // every + 1) * every
        if self._following():
            self.preview.set_image(event.image)

    def _result_untrained(self) -> bool:
        return bool(self._result_meta.get("untrained"))

    def _keep_result(self, image: np.ndarray, stopped_at: int | None) -> None:
        if self._run_params is not None and self.pictures.content is not None:
            self.estimate.run_ended(self._run_params, self.pictures.content.shape)
        self._result = image
        step = stopped_at if stopped_at is not None else self._last_step
        self.snapshot_bar.keep_result(step, image)
        meta = style_params.style_metadata(
            self._run_params, **self._run_meta, output_size=[image.shape[1], image.shape[0]]
        )
        if stopped_at is not None:
            meta["stopped_at_step"] = int(stopped_at)
        self._result_meta = meta
        self.preview.set_image(image)

    def show_memory_error(self, error: style_memory.MemoryTooLargeError) -> QMessageBox:
        """The run will not fit: say so and offer the size that fits as a button."""
        return show_memory_error(self, error, self.form.size_spin.setValue)

    # ------------------------------------------------------------------ snapshots

    def _following(self) -> bool:
        """True when the slider sits at the latest snapshot (the view follows the run)."""
        return self.snapshot_bar.following()

    def _show_snapshot(self, index: int) -> None:
        if 0 <= index < len(self.snapshots):
            self.preview.set_image(self.snapshots[index][1])
        self._update_buttons()

    def select_snapshot(self, index: int) -> None:
        """Show snapshot ``index`` (the slider does the same)."""
        self.snapshot_bar.select(index)

    def shown_picture(self) -> tuple[int, np.ndarray] | None:
        """(iteration, picture) that Save writes: the snapshot on show, else the result;
        during a run the snapshot chosen on the slider, else the latest preview."""
        if self.runner.running:
            if self.snapshots and not self._following():
                return self.snapshot_bar.shown()
            if self._last_preview is not None:
                return self._last_preview.step, self._last_preview.image
            return None
        if self.snapshots:
            return self.snapshot_bar.shown()
        if self._result is not None:
            return self._last_step, self._result
        return None

    # ------------------------------------------------------------------ results out

    def ask_save_path(self) -> str | None:
        """Where to save (replaced in tests). QFileDialog asks before replacing a file."""
        return dialogs.ask_save_image(self, self.suggested_name(), "Save styled picture")

    def suggested_name(self) -> str:
        """``content-style.png``; a snapshot or a picture so far: ``content-style-step40.png``."""
        stem = Path(self._run_meta.get("content") or "picture").stem
        shown = self.shown_picture()
        if shown is not None and shown[1] is not self._result:
            return f"{stem}-style-step{shown[0]}.png"
        return f"{stem}-style.png"

    def _picture_to_save(self) -> tuple[np.ndarray, dict] | None:
        shown = self.shown_picture()
        if shown is None or self._run_params is None:
            return None
        step, picture = shown
        if self.runner.running or not self._result_meta:
            meta = style_params.style_metadata(self._run_params, **self._run_meta)
        else:
            meta = dict(self._result_meta)
        meta["output_size"] = [int(picture.shape[1]), int(picture.shape[0])]
        if self.runner.running:
            meta["preview_step"] = int(step)  # a picture of a run still going
            meta["preview_of_steps"] = int(self.progress.maximum())
        elif picture is not self._result:
            meta["snapshot_step"] = int(step)
        return picture, meta

    # ------------------------------------------------------------------ settings

    def save_settings(self, settings: QSettings) -> None:
        self.form.save_settings(settings)
        self.motion.panel.save_settings(settings)
        self.save_mode_settings(settings)

    def restore_settings(self, settings: QSettings) -> None:
        # the user's own settings are never replaced by the device's defaults
        self._settings_restored = bool(settings.value("params", ""))
        self.form.restore_settings(settings)
        self.motion.panel.restore_settings(settings)
        self.restore_mode_settings(settings)

    # ------------------------------------------------------------------ device, run time

    def device_changed(self, info: object) -> None:
        """The device is known: a GPU gets the tutorial's recipe (if the form is still at
        the CPU start and no settings were restored), and the speed can be measured."""
        self.motion.device_changed(info)
        gpu = getattr(info, "kind", "") == "GPU"
        if not self._settings_restored and self.form.use_device_defaults(gpu):
            self.status.emit("Style: a GPU is there, so the tutorial's recipe is the start")
        self.estimate.device_known()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.estimate.tab_shown()

    def _update_estimate(self) -> None:
        content = self.pictures.content
        self.estimate.update(self.form.params(), None if content is None else content.shape)

    def shutdown(self) -> None:
        super().shutdown()
        self.estimate.runner.shutdown()
