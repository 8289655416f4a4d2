"""The Style tab's "Train a fast style model" mode: train a style network (Johnson et al.
2016) on a folder of photos, watch a held-out photo being styled next to the loss curves,
Stop (the best network so far is kept), Resume a run folder after a kill, and Save the
trained network to the model library as a style model.

The job is :func:`cnnstudio.core.faststyle.job.train` (or ``resume``), a callback job
run by the panel's own :class:`JobRunner`; its events are listed in
:mod:`cnnstudio.core.faststyle.events`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core import paths
from cnnstudio.core.errors import ResourceMissingError, StudioError
from cnnstudio.core.events import DownloadProgress, Preview
from cnnstudio.core.faststyle import job, runs
from cnnstudio.core.faststyle.events import (
    CheckpointSaved,
    PhotosRead,
    RunStarted,
)
from cnnstudio.gui.messages import capitalized, describe, error_text
from cnnstudio.gui.settings import last_folder, read_str, remember_folder
from cnnstudio.gui.tabs.style.fast_inputs import STYLE_READ_SIDE, TrainingStyle
from cnnstudio.gui.tabs.style.fast_train_form import FastTrainForm
from cnnstudio.gui.tabs.style.fast_train_view import TrainView
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.buttons import named_button
from cnnstudio.gui.workers import JobRunner


class FastTrainPanel(QWidget):
    """Form and buttons on the left; the held-out photo styled, the progress (with the
    ETA and images/s) and the loss curves on the right."""

    status = Signal(str)
    #: (message, details) for the tab's error box
    error = Signal(str, str)
    #: a style model went into the library (its name)
    model_saved = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fastTrainPanel")
        self.runner = JobRunner("Fast style training", self)
        self.result = None  # the last run's FastStyleResult (also after Stop)
        self.saved_name = ""  # the library name the result was saved under
        self.last_run_dir = ""
        self.form = FastTrainForm()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_controls())
        self.view = TrainView()
        self.preview, self.progress = self.view.preview, self.view.progress
        self.loss_plot = self.view.loss_plot
        splitter.addWidget(self.view)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._connect()
        self.update_buttons()

    def _build_controls(self) -> QWidget:
        scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(self.form.sizeHint().width() + 24)
        self.run_button = named_button(
            "Train", "fastRunButton", "Start training a style model (F5)"
        )
        self.stop_button = named_button(
            "Stop", "fastStopButton", "Stop after this step: the best network so far is kept (Esc)"
        )
        self.resume_button = named_button(
            "Resume...",
            "fastResumeButton",
            "Go on with a run folder (after a Stop, a crash or a kill) up to the Steps box",
        )
        self.save_button = named_button(
            "Save to library...",
            "fastSaveButton",
            "Put the trained style model into the model library (Ctrl+S)",
        )
        self.run_label = QLabel("")
        self.run_label.setObjectName("fastRunLabel")
        self.run_label.setWordWrap(True)
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        for button in (self.run_button, self.stop_button, self.resume_button):
            buttons.addWidget(button)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(scroll, 1)
        column.addWidget(self.run_label)
        column.addLayout(buttons)
        column.addWidget(self.save_button)
        return left

    def _connect(self) -> None:
        form = self.form
        form.add_style_button.clicked.connect(self._add_style_clicked)
        form.style_list.files_dropped.connect(self.add_style_files)
        form.photos.folder_requested.connect(self._choose_folder)
        self.run_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume_from_folder)
        self.save_button.clicked.connect(self.save_to_library)
        self.runner.progress.connect(self._on_event)
        self.runner.preview.connect(self._on_preview)
        self.runner.notice.connect(self._on_notice)
        self.runner.finished.connect(self._on_finished)
        self.runner.stopped.connect(self._on_stopped)
        self.runner.failed.connect(self._on_failed)
        self.runner.done.connect(self.update_buttons)

    # ------------------------------------------------------------------ dialogs (tests replace)

    def ask_style_files(self) -> list[str]:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Style pictures", last_folder(), dialogs.image_file_filter()
        )
        if files:
            remember_folder(files[0])
        return list(files)

    def ask_folder(self, title: str, start: str = "") -> str | None:
        return QFileDialog.getExistingDirectory(self, title, start or last_folder()) or None

    def ask_model_name(self, suggested: str) -> str | None:
        name, ok = QInputDialog.getText(
            self, "Save to library", "Style model name:", text=suggested
        )
        return name.strip() if ok and name.strip() else None

    # ------------------------------------------------------------------ inputs

    def _add_style_clicked(self) -> None:
        self.add_style_files(self.ask_style_files())

    def add_style_files(self, files: list[str]) -> None:
        """Each readable picture of ``files`` becomes a style picture."""
        from cnnstudio.core import images

        if self.runner.running:
            self.status.emit("Stop the training before changing the style pictures")
            return
        for path in files:
            try:
                picture = images.load_image(path, max_side=STYLE_READ_SIDE)
            except StudioError as error:
                self.error.emit(describe(error), "")
                continue
            self.add_style(picture, Path(path).name, str(path))
            self.status.emit(f"Style picture: {Path(path).name}")

    def add_style(self, picture, name: str = "style", path: str = "") -> None:
        self.form.style_list.add(TrainingStyle(name, picture, path))

    def set_photo_folder(self, folder: str) -> None:
        if not self.runner.running:
            self.form.photos.set_folder(folder)
            remember_folder(folder)

    def _choose_folder(self) -> None:
        folder = self.ask_folder("Folder of photos to learn from", self.form.photos.folder)
        if folder:
            self.set_photo_folder(folder)

    # ------------------------------------------------------------------ the job

    def start(self) -> None:
        """Train a new style model with the form's settings."""
        if self.runner.running:
            return
        params = self.form.params()
        try:
            params.validate()
        except StudioError as error:
            self._report(describe(error))
            return
        self._begin(f"Starting: {len(params.styles)} style picture(s), photos of {params.data}")
        self.runner.run_callbacks(job.train, params, styles=self.form.style_images())
        self.update_buttons()

    def resume_from_folder(self) -> None:
        """Go on with a run folder the user picks (the last run's is offered first)."""
        if self.runner.running:
            return
        start = self.last_run_dir or str(paths.runs_dir())
        run_dir = self.ask_folder("Fast style run folder to resume", start)
        if run_dir:
            self.resume(run_dir)

    def resume(self, run_dir: str) -> None:
        """Continue the run of ``run_dir`` from its last checkpoint up to the Steps box
        (or the steps it was started with, when more); the form shows its settings."""
        if self.runner.running:
            return
        try:
            params, _ = runs.load_config(run_dir)
            styles = runs.read_styles(Path(run_dir), len(params.styles))
        except StudioError as error:
            self._report(describe(error))
            return
        steps = max(int(self.form.steps_spin.value()), params.steps)
        self.form.set_params(params)
        self.form.steps_spin.setValue(steps)
        self.form.style_list.clear_styles()
        for picture, name in zip(styles, params.styles, strict=False):
            self.add_style(picture, Path(name).name, str(name))
        self.last_run_dir = str(run_dir)
        self._begin(f"Resuming {Path(run_dir).name} (up to {steps} steps)...")
        self.run_label.setText(f"Run folder: {run_dir}")
        self.runner.run_callbacks(job.resume, str(run_dir), steps=steps)
        self.update_buttons()

    def _begin(self, text: str) -> None:
        self.result = None
        self.saved_name = ""
        self.view.clear()
        self.progress.start(text)
        self.status.emit(text)

    def stop(self) -> None:
        if self.runner.running:
            self.runner.stop()
            self.progress.setFormat(self.progress.format() + " - stopping...")

    def _on_event(self, event: object) -> None:
        if self.view.show_event(event):
            if isinstance(event, DownloadProgress):
                self.status.emit(f"Fast style: {event.text}")
        elif isinstance(event, CheckpointSaved):
            self.run_label.setText(
                f"Run folder: {self.last_run_dir} (checkpoint at step {event.step})"
            )
        elif isinstance(event, RunStarted):
            self._on_run_started(event)
        elif isinstance(event, PhotosRead):
            self.form.photos.set_read(event.training, event.held_out, event.skipped)

    def _on_run_started(self, event: RunStarted) -> None:
        self.last_run_dir = event.run_dir
        self.run_label.setText(f"Run folder: {event.run_dir}")
        if event.start_step:  # resumed: the curves so far come from the folder
            self.view.show_history(event.run_dir, event.start_step)
        if event.start_step >= event.total:
            self.status.emit(
                f"The run had done its {event.start_step} steps: raise Steps to train it further"
            )
        else:
            going_on = f", going on from step {event.start_step}" if event.start_step else ""
            self.status.emit(f"Training a fast style model: {event.total} steps{going_on}")

    def _on_preview(self, event: Preview) -> None:
        self.preview.set_image(event.image)

    def _on_notice(self, text: str) -> None:
        self.view.notice_label.setText(capitalized(text))
        self.status.emit(f"Fast style: {text}")

    def _on_finished(self, result: object) -> None:
        self._keep(result)
        self.progress.finish("Done")
        if self.result is not None:
            self.status.emit(
                f"Trained {self.result.steps_done} steps: the network of step "
                f"{self.result.best_step} (lowest held-out loss) can go to the library"
            )

    def _on_stopped(self) -> None:
        self._keep(self.runner.result)  # the best network so far, even after Stop
        self.progress.finish("Stopped")
        if self.result is None:
            self.status.emit("Stopped before the first step: nothing to keep")
        else:
            self.status.emit(
                f"Stopped at step {self.result.steps_done}: the best network (step "
                f"{self.result.best_step}) is kept: Save to library, or Resume"
            )

    def _keep(self, result: object) -> None:
        self.result = result if hasattr(result, "model") else None

    def _on_failed(self, message: str) -> None:
        self.progress.finish("Failed")
        error = self.runner.error
        skipped = getattr(error, "details", {}).get("skipped") if error is not None else None
        if skipped:
            self.form.photos.set_skipped(skipped)
        if isinstance(error, ResourceMissingError):
            self.status.emit(message)
            dialogs.show_missing_weights(
                self, message, lambda: self.form.weights_picker.set_value("random")
            )
        else:
            self._report(message, self.runner.error_details)

    def _report(self, message: str, details: str = "") -> None:
        self.status.emit(message)
        self.error.emit(message, details)

    # ------------------------------------------------------------------ the library

    def suggested_name(self) -> str:
        styles = (self.result.meta.get("styles") if self.result else None) or ["style"]
        return Path(str(styles[0])).stem or "style"

    def save_to_library(self) -> bool:
        """Ask a name and put the trained network into the library (its style's
        thumbnail in the sidecar); False when there is none, cancelled or not saved."""
        if self.result is None or self.runner.running:
            self.status.emit("Nothing to save yet: train a style model first")
            return False
        name = self.ask_model_name(self.suggested_name())
        if not name:
            return False
        from cnnstudio.core.faststyle import models

        try:
            entry = models.save_style_model(self.result.model, name, self.result.meta)
        except Exception as error:  # noqa: BLE001 - a full disk, a read-only folder...
            self._report(f"The style model was not saved: {error_text(error)}")
            return False
        self.saved_name = entry.name
        self.status.emit(
            f"Saved style model '{entry.name}' to the library: choose it in "
            "'Use a fast style model'"
        )
        self.model_saved.emit(entry.name)
        self.update_buttons()
        return True

    def unsaved(self) -> bool:
        return self.result is not None and not self.saved_name

    def update_buttons(self) -> None:
        running = self.runner.running
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.resume_button.setEnabled(not running)
        self.save_button.setEnabled(not running and self.result is not None)
        self.form.setEnabled(not running)

    # ------------------------------------------------------------------ settings

    def save_settings(self, settings) -> None:
        self.form.save_settings(settings)
        settings.setValue("fast_last_run_dir", self.last_run_dir)

    def restore_settings(self, settings) -> None:
        self.form.restore_settings(settings)
        run_dir = read_str(settings, "fast_last_run_dir", "")
        if run_dir and Path(run_dir, runs.CONFIG).exists():
            self.last_run_dir = run_dir
            self.run_label.setText(f"Last run folder: {run_dir}")

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.form.photos.shutdown()
