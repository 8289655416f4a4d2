"""The Train tab: pick a recipe and data, Start/Stop/Resume, live curves, results, library.

The form (:class:`TrainForm`) maps the controls to a TrainConfig. Training runs through
:func:`cnnstudio.core.training.job.train` in a process of its own, through the tab's
:class:`JobRunner` (``run_callbacks_in_process``; :mod:`.run_process` holds the tab's
side of that: the spare process, the trained model left as a file for Save). Batch and
epoch events arrive as ``progress`` signals (already throttled at the source), Stop sets
``should_stop`` and Keras stops through ``model.stop_training``. Every run checkpoints
into its run folder, so Resume continues the last run (or a run folder chosen by the
user) after a stop or a crash. The pages (:class:`TrainPages`) show the curves and the
results.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core import child_process
from cnnstudio.core.backbones import get_backbone
from cnnstudio.core.errors import ResourceMissingError
from cnnstudio.core.events import DownloadProgress, Progress
from cnnstudio.core.training import events, job, monitor, runs
from cnnstudio.core.training.data_files import BUILTIN_DATASETS, find_dataset_file
from cnnstudio.core.training.params import get_recipe, untrained_base_warning
from cnnstudio.core.weights import find_imagenet_weights
from cnnstudio.gui.messages import error_text, sentence
from cnnstudio.gui.settings import last_folder, read_str, remember_folder
from cnnstudio.gui.tabs.base import StudioTab
from cnnstudio.gui.tabs.train.dataset_input import DatasetInput
from cnnstudio.gui.tabs.train.form import TrainForm
from cnnstudio.gui.tabs.train.pages import TrainPages
from cnnstudio.gui.tabs.train.run_process import RunProcess
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.buttons import named_button
from cnnstudio.gui.widgets.library_dialog import LibraryDialog, show_library
from cnnstudio.gui.widgets.progress import JobProgress
from cnnstudio.gui.workers import JobRunner

log = logging.getLogger(__name__)

STOP_TIP = "Stop after this batch; the model so far is tested and can be saved (Esc)"
FORCE_STOP_TIP = "End the training process now: the run folder keeps its last finished epoch (Esc)"

#: the start of the trainer's notice for an image file it could not read (class folders)
SKIPPED_PREFIX = "skipped unreadable file "


class TrainTab(RunProcess, DatasetInput, StudioTab):
    """Train a recipe on a dataset and watch it learn."""

    title = "Train"
    settings_key = "train"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainTab")
        self.setAcceptDrops(True)  # a folder or .npz dropped anywhere on the tab
        self.runner = JobRunner("Training", self)
        self._result: events.TrainResult | None = None
        self._run_started = False  # the running job's RunStarted has come
        self._resuming = False  # the running job continues a run folder
        self._force_stopped = False
        self._closing = False
        self._saved_entry_name = ""
        self._last_run_dir = ""
        self._skipped: list[str] = []
        self.form = TrainForm()
        self.pages = TrainPages()
        # the Dataset page follows the dataset field once typing pauses
        self._survey_timer = QTimer(self, singleShot=True, interval=400)
        self._survey_timer.timeout.connect(self.survey_dataset)
        splitter = QSplitter()
        splitter.addWidget(self._build_controls())
        splitter.addWidget(self._build_view())
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._connect()
        self._update_buttons()

    # ------------------------------------------------------------------ construction

    def _build_controls(self) -> QScrollArea:
        """The form, the run buttons, the library buttons and the run folder, scrolled."""
        self.start_button = named_button(
            "Start", "trainStartButton", "Start a new run with these settings (F5)"
        )
        self.stop_button = named_button("Stop", "trainStopButton", STOP_TIP)
        self.resume_button = named_button(
            "Resume",
            "trainResumeButton",
            "Continue the last run (or a run folder you choose) up to the Epochs box",
        )
        self.resume_from_button = named_button(
            "Resume from folder...", "trainResumeFromButton", "Continue a run folder you choose"
        )
        self.save_button = named_button(
            "Save to library...",
            "trainSaveButton",
            "Add the trained model to the model library: Classify and Dream list it (Ctrl+S)",
        )
        self.library_button = named_button(
            "Model library...",
            "trainLibraryButton",
            "Rename, delete, export or import trained models",
        )
        self.run_label = QLabel("")
        self.run_label.setObjectName("trainRunLabel")
        self.run_label.setWordWrap(True)
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        run_row = QHBoxLayout()
        for button in (self.start_button, self.stop_button, self.resume_button):
            run_row.addWidget(button)
        library_row = QHBoxLayout()
        library_row.addWidget(self.save_button)
        library_row.addWidget(self.library_button)
        controls = QWidget()
        column = QVBoxLayout(controls)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(self.form)
        column.addLayout(run_row)
        column.addWidget(self.resume_from_button)
        column.addLayout(library_row)
        column.addWidget(self.run_label)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(controls)
        # as wide as the controls need, with room for the vertical scroll bar: a narrower
        # column hid the Resume button and the Dataset "..." behind a horizontal bar
        scroll.setMinimumWidth(
            max(
                300, controls.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4
            )
        )
        return scroll

    def _build_view(self) -> QWidget:
        """The progress bar (the run's one ETA), the speed and notice lines, the pages."""
        self.progress = JobProgress(stage_name="Epoch")
        self.progress.setObjectName("trainProgress")
        self.progress.setToolTip("The run's progress over every epoch, and the time left")
        self.speed_label = QLabel("")
        self.speed_label.setObjectName("trainSpeedLabel")
        self.notice_label = QLabel("")
        self.notice_label.setObjectName("trainNotice")
        self.notice_label.setWordWrap(True)
        view = QWidget()
        column = QVBoxLayout(view)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(self.progress)
        column.addWidget(self.speed_label)
        column.addWidget(self.notice_label)
        column.addWidget(self.pages, 1)
        return view

    def _connect(self) -> None:
        self.start_button.clicked.connect(self.start_training)
        self.stop_button.clicked.connect(self.stop_training)
        self.resume_button.clicked.connect(self.resume_training)
        self.resume_from_button.clicked.connect(self.resume_from_folder)
        self.library_button.clicked.connect(self.open_library)
        self.save_button.clicked.connect(self.save_to_library)
        self.form.status.connect(self.status)
        self.form.dataset_edit.textChanged.connect(lambda _text: self._survey_timer.start())
        self.pages.dataset_page.status.connect(self.status)
        self.form.import_failed.connect(self.show_error)
        self.form.import_runner.done.connect(self._update_buttons)
        self.form.import_runner.finished.connect(lambda _result: self.survey_dataset(force=True))
        self.runner.progress.connect(self._on_event)
        self.runner.notice.connect(self._on_notice)
        self.runner.finished.connect(self._on_finished)
        self.runner.stopped.connect(self._on_stopped)
        self.runner.failed.connect(self._on_failed)
        self.runner.done.connect(self._update_buttons)
        self.runner.done.connect(self.prepare_process)  # for the next Start or Resume
        self.pages.runs_page.resume_requested.connect(self.resume_run)
        self.pages.runs_page.status.connect(self.status)

    # ------------------------------------------------------------------ dialogs (tests replace)

    def ask_folder(self, title: str = "Choose a training run folder") -> str | None:
        return QFileDialog.getExistingDirectory(self, title, last_folder()) or None

    def ask_continue(self, message: str) -> bool:
        """Continue or Cancel (replaced in tests)."""
        return dialogs.ask_continue(self, message, self.title)

    def ask_model_name(self, suggested: str) -> str | None:
        name, ok = QInputDialog.getText(self, "Save to library", "Model name:", text=suggested)
        return name.strip() if ok and name.strip() else None

    # ------------------------------------------------------------------ the job

    def start_training(self) -> None:
        """Start a new run with the current settings."""
        if self.runner.running:
            return
        config = self.form.config()
        if not config.data:
            self.show_error(
                "Choose a dataset: MNIST, CIFAR-10, a .npz file or a folder with one "
                "subfolder of pictures per class (the ... button beside Dataset)."
            )
            return
        warning = untrained_base_warning(config)
        if warning and not self.ask_continue(sentence(warning)):
            self.status.emit("Training not started")
            return
        self._begin(f"Starting {get_recipe(config.recipe).label} on {config.data}...", False)
        self.runner.run_callbacks_in_process(job.train, config, pack=job.model_to_file)
        self._update_buttons()

    def resume_training(self) -> None:
        """Continue the last run (or, when there is none, a run folder the user picks)
        up to the Epochs box."""
        if self.runner.running:
            return
        run_dir = self._last_run_dir or self.ask_folder()
        if run_dir:
            self._resume(run_dir)

    def resume_from_folder(self) -> None:
        """Continue a run folder the user picks, whatever the last run was."""
        if self.runner.running:
            return
        run_dir = self.ask_folder()
        if run_dir:
            remember_folder(run_dir)
            self._resume(run_dir)

    def resume_run(self, run_dir: str) -> None:
        """Resume a run chosen in the Runs page up to the epochs it was started for (or
        the Epochs box, when higher); its curves come up on the Curves page."""
        if self.runner.running:
            self.status.emit("A run is training: stop it before resuming another")
            return
        info = monitor.read_run(run_dir)
        done, planned = info.epochs_completed, info.epochs or 0
        epochs = max(planned, self.form.epochs.value()) if done >= planned else planned
        if epochs <= done:
            self.status.emit(
                f"{info.name} has done its {done} epochs: set Epochs above {done} to "
                "train it further, then Resume"
            )
            return
        self.form.epochs.setValue(epochs)
        self.pages.setCurrentIndex(0)
        self._resume(run_dir)

    def show_runs(self) -> None:
        """View > Training runs: the Runs page, its table focused."""
        self.pages.setCurrentWidget(self.pages.runs_page)
        self.pages.runs_page.table.setFocus()

    def _resume(self, run_dir: str) -> None:
        try:
            config = runs.load_run_config(run_dir)  # a readable run folder?
        except Exception as error:  # noqa: BLE001 - shown to the user
            self.show_error(error_text(error))
            return
        epochs = self.form.epochs.value()
        self.form.set_config(config)  # the controls show what runs (its data, recipe, ...)
        self.form.epochs.setValue(epochs)
        self._last_run_dir = run_dir
        self._begin(f"Resuming {Path(run_dir).name} (up to {epochs} epochs)...", True)
        self.run_label.setText(f"Run folder: {run_dir}")
        self.pages.plot_history(runs.read_history(run_dir, runs.completed_epochs(run_dir)))
        self.runner.run_callbacks_in_process(
            job.resume, run_dir, epochs=epochs, pack=job.model_to_file
        )
        self._update_buttons()

    def _begin(self, text: str, resuming: bool) -> None:
        self._forget_result()
        self._run_started = False  # no RunStarted from this run yet
        self._resuming = resuming
        self._force_stopped = False
        self._saved_entry_name = ""
        self._skipped = []
        self.pages.start_run()
        self.notice_label.setText("")
        self.speed_label.setText("")
        self.progress.start(text)
        self.status.emit(text)

    def stop_training(self) -> None:
        """Stop (Esc): the run stops after its batch, is evaluated and can be saved.
        Pressed again while it stops (Force stop): its process is ended, after a question,
        as the epoch under way and the evaluation are lost."""
        if not self.runner.running:
            return
        if not self.runner.stopping:
            self.runner.stop()
            self.progress.setFormat(self.progress.format() + " - stopping...")
            self.stop_button.setText("Force stop")
            self.stop_button.setToolTip(FORCE_STOP_TIP)
        elif self.ask_continue(
            "End the training process now? The run folder keeps its last finished epoch "
            "for Resume; the epoch under way and the evaluation of this stop are lost."
        ):
            self._force_stopped = True
            self.runner.kill("Force stop was pressed")

    def _on_event(self, event: object) -> None:
        if isinstance(event, events.BatchEnd):
            self._on_batch(event)
        elif isinstance(event, DownloadProgress):  # transfer: ImageNet weights come first
            self.progress.show_download(event)
            self.status.emit(f"Train: {event.text}")
        elif isinstance(event, events.EpochEnd):
            self.pages.plot_epoch(event)
            self.status.emit(events.format_epoch(event))
        elif isinstance(event, events.RunStarted):
            self._on_run_started(event)
        elif isinstance(event, events.TrainingDone):
            self.pages.show_results(event)

    def _on_run_started(self, event: events.RunStarted) -> None:
        self._run_started = True
        self._last_run_dir = event.run_dir
        self.pages.summary_text.setPlainText(f"{event.dataset_summary}\n\n{event.summary}")
        self.run_label.setText(f"Run folder: {event.run_dir}")
        resumed = f", resuming after epoch {event.initial_epoch}" if event.initial_epoch else ""
        self.status.emit(
            f"Training {event.trainable_params:,} parameters on {event.train_images} images"
            f"{resumed}"
        )

    def _on_batch(self, event: events.BatchEnd) -> None:
        self.pages.plot_batch(event)
        # the bar is the run's one ETA (core.eta from the share of the batches done)
        self.progress.update_progress(
            Progress(
                step=event.global_step,
                total=event.total_steps,
                loss=event.loss,
                stage=event.epoch,
                stages=event.epochs,
            )
        )
        self.speed_label.setText(
            f"Epoch {event.epoch}/{event.epochs}, batch {event.batch}/{event.steps}: "
            f"{event.images_per_second:.0f} images/s"
        )

    def _on_notice(self, text: str) -> None:
        if text.startswith(SKIPPED_PREFIX):
            # every skipped file is kept in a list (Model page), not only the last one
            self._skipped.append(text[len(SKIPPED_PREFIX) :])
            self.pages.add_skipped(self._skipped[-1])
            text = f"{len(self._skipped)} unreadable file(s) skipped: listed on the Model page"
        text = text[:1].upper() + text[1:]  # the core's notices are lines, not sentences
        self.notice_label.setText(text)
        self.status.emit(f"Train: {text}")

    def skipped_files(self) -> list[str]:
        """The unreadable files of this run ("path: reason"), in the order they came."""
        return list(self._skipped)

    def _on_finished(self, result: object) -> None:
        self._result = result if isinstance(result, events.TrainResult) else None
        self.progress.finish("Done")

    def _on_stopped(self) -> None:
        # train() returns its evaluated model when stopped too: keep it, it can be saved
        result = self.runner.result
        self._result = result if isinstance(result, events.TrainResult) else None
        self.progress.finish("Stopped")
        self.status.emit("Training stopped; Resume continues from the last finished epoch")

    def _on_failed(self, message: str) -> None:
        ended = isinstance(self.runner.error, child_process.ProcessEndedError)
        if ended and self._force_stopped:
            self.progress.finish("Stopped")
            self.status.emit(
                "Training ended by Force stop; Resume continues from the last finished epoch"
            )
            return
        if ended:
            again = "Resume" if self._resuming else "Start"
            message += (
                " Resume continues the run from its last finished epoch."
                if self._run_started
                else f" It ended before the run started: press {again} to try again."
            )
        self.progress.finish("Failed")
        self.status.emit(message)
        if self._closing:  # the window is closing: no dialog over it
            log.warning("%s", message)
        elif isinstance(self.runner.error, ResourceMissingError):
            self.show_missing(message)
        else:
            self.show_error(message, self.runner.error_details)

    def show_missing(self, message: str) -> QMessageBox:
        """A dataset file or pretrained weights are not on this machine: say so, with a
        button for each way out that fits what is missing now."""
        config = self.form.config()
        if config.data in BUILTIN_DATASETS and find_dataset_file(config.data) is None:
            return dialogs.show_missing_resource(
                self,
                message,
                [("Import dataset file...", self.form.import_dataset)],
                "Dataset missing",
            )
        if self.transfer_weights_missing():
            return dialogs.show_missing_weights(
                self, message, lambda: self.form.weights_picker.set_value("random")
            )
        return self.show_error(message, self.runner.error_details)

    def transfer_weights_missing(self) -> bool:
        """True when the transfer recipe would need ImageNet weights that are not here."""
        config = self.form.config()
        return (
            config.recipe == "transfer"
            and config.weights == "imagenet"
            and find_imagenet_weights(get_backbone(config.backbone)) is None
        )

    def _update_buttons(self) -> None:
        running = self.runner.running
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        if not running:
            self.stop_button.setText("Stop")
            self.stop_button.setToolTip(STOP_TIP)
        self.resume_button.setEnabled(not running)
        self.resume_from_button.setEnabled(not running)
        self.save_button.setEnabled(not running and self._result is not None)
        self.form.set_busy(training=running)

    def is_busy(self) -> bool:
        return self.runner.running or self.form.import_runner.running

    # ------------------------------------------------------------------ window integration

    def run_job(self) -> None:
        """F5 / Ctrl+R: Start."""
        self.start_training()

    def stop_job(self) -> None:
        """Esc: Stop."""
        self.stop_training()

    def open_library(self) -> None:
        """The model library dialog: the window's File > Model library... when in a
        window (so other tabs hear about changes), else a dialog of this tab."""
        action = self.window().findChild(QAction, "libraryAction")
        if action is not None:
            action.trigger()
        else:
            show_library(self)

    # ------------------------------------------------------------------ settings, shutdown

    def save_settings(self, settings: QSettings) -> None:
        self.form.save_settings(settings)
        settings.setValue("last_run_dir", self._last_run_dir)

    def restore_settings(self, settings: QSettings) -> None:
        self.form.restore_settings(settings)
        run_dir = read_str(settings, "last_run_dir", "")
        if run_dir and Path(run_dir, "config.json").exists():
            self._last_run_dir = run_dir
            self.run_label.setText(f"Last run folder: {run_dir}")

    def shutdown(self) -> None:
        self._closing = True  # no spare is started from here on (runner.done comes)
        self._survey_timer.stop()
        self.pages.shutdown()
        self.runner.shutdown()
        child_process.discard_spare()
        self._forget_result()
        self.form.import_runner.shutdown()
        self.pages.dataset_page.shutdown()
        for dialog in self.findChildren(LibraryDialog):  # one opened outside a window
            dialog.shutdown()
