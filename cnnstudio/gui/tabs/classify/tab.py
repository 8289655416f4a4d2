"""The Classify tab: drop images or folders, read the top-k labels, see where the model
looked (Grad-CAM) and what its layers see (feature maps), then hand a picture on to Dream
or Style.

The form (:class:`ClassifyForm`) picks the model; classification runs as
``core.classify.batch.classify_job`` on the tab's :class:`JobRunner` and fills the
:class:`ResultsTable`; the :class:`DetailsPanel` makes Grad-CAM and feature maps for the
selected image on its own runner (latest request wins), so the window never waits on
TensorFlow.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core import image_saving
from cnnstudio.core.classify import batch as classify_batch
from cnnstudio.core.classify import params as classify
from cnnstudio.core.errors import ResourceMissingError
from cnnstudio.core.events import DownloadProgress, Progress
from cnnstudio.gui.messages import error_text
from cnnstudio.gui.settings import last_folder, read_bool, read_str, remember_folder
from cnnstudio.gui.tabs.base import StudioTab
from cnnstudio.gui.tabs.classify.details import DetailsPanel
from cnnstudio.gui.tabs.classify.form import ClassifyForm
from cnnstudio.gui.tabs.classify.results import ResultsTable
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.drop_area import PathDropArea
from cnnstudio.gui.widgets.progress import JobProgress
from cnnstudio.gui.workers import JobRunner

_DROP_TEXT = "Drop images or folders here  -  or Open images..., Open folder..., Ctrl+V"


class ClassifyTab(StudioTab):
    """Classification with any CNN, Grad-CAM, feature maps and hand-over to other tabs."""

    title = "Classify"
    settings_key = "classify"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("classifyTab")
        self.setAcceptDrops(True)
        self.runner = JobRunner("Classify", self)
        self._classifier: Any = None  # core.classify.classifier.Classifier of the last run
        self._classifier_key: tuple[str, str] | None = None
        self._job_key: tuple[str, str] | None = None
        self._queue: list[str] = []  # paths waiting for the running job to end
        self._job_paths: list[str] = []  # the paths the running job classifies
        #: paths a failed run did not classify (missing weights, a refused model): they
        #: go with the next run (Classify again, or the next files dropped)
        self._waiting: list[str] = []
        self._paste_dir: Path | None = None
        self._paste_count = 0
        self.form = ClassifyForm()
        self.details = DetailsPanel()
        self.drop_area = PathDropArea(_DROP_TEXT)
        self.drop_area.setObjectName("classifyDropArea")
        self.drop_area.setToolTip("Drop pictures or folders of pictures here to classify them")
        self.table = ResultsTable()
        self.table.setObjectName("classifyResults")
        self.splitter = splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("classifySplitter")
        splitter.addWidget(self._build_controls())
        splitter.addWidget(self._build_results())
        splitter.addWidget(self.details)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 2)
        splitter.setCollapsible(1, False)
        self._sized = False  # the panes get their first widths when the tab is first shown
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self._connect()
        self.refresh_models()
        self._update_buttons()

    # -- layout -------------------------------------------------------------------------

    def _build_controls(self) -> QWidget:
        """The form over the buttons and the progress bar."""
        self.open_button = QPushButton("Open images...", objectName="classifyOpenButton")
        self.open_button.setToolTip("Choose pictures to classify (Ctrl+O)")
        self.folder_button = QPushButton("Open folder...", objectName="classifyFolderButton")
        self.folder_button.setToolTip("Classify every picture of a folder and its subfolders")
        self.paste_button = QPushButton("Paste", objectName="classifyPasteButton")
        self.paste_button.setToolTip("Classify the image on the clipboard (Ctrl+V)")
        self.rerun_button = QPushButton("Classify again", objectName="classifyRunButton")
        self.rerun_button.setToolTip(
            "Classify every listed file (and any waiting after a failed run) again with the "
            "chosen model (F5)"
        )
        self.stop_button = QPushButton("Stop", objectName="classifyStopButton")
        self.stop_button.setToolTip("Stop after the picture being classified (Esc)")
        self.clear_button = QPushButton("Clear", objectName="classifyClearButton")
        self.clear_button.setToolTip("Empty the table")
        self.export_button = QPushButton("Export CSV...", objectName="classifyExportButton")
        self.export_button.setToolTip("Save the table, in its shown order, as a CSV file")
        self.progress = JobProgress(stage_name="Batch")
        self.progress.setObjectName("classifyProgress")
        self.progress.setToolTip("How far the batch is, and the time left")
        buttons = QGridLayout()
        for i, button in enumerate(
            (
                self.open_button,
                self.folder_button,
                self.paste_button,
                self.rerun_button,
                self.stop_button,
                self.clear_button,
                self.export_button,
            )
        ):
            buttons.addWidget(button, i // 2, i % 2)
        controls = QWidget()
        column = QVBoxLayout(controls)
        column.addWidget(self.form)
        column.addLayout(buttons)
        column.addWidget(self.progress)
        column.addStretch(1)
        return controls

    def _build_results(self) -> QWidget:
        """The drop area over the results table."""
        results = QWidget()
        column = QVBoxLayout(results)
        column.addWidget(self.drop_area)
        column.addWidget(self.table, 1)
        return results

    def _connect(self) -> None:
        details = self.details
        self.drop_area.paths_dropped.connect(self.classify_paths)
        details.image_view.image_dropped.connect(lambda path: self.classify_paths([path]))
        self.open_button.clicked.connect(self._open_images)
        self.folder_button.clicked.connect(self._open_folder)
        self.paste_button.clicked.connect(self.paste)
        self.rerun_button.clicked.connect(self.run_job)
        self.stop_button.clicked.connect(self.stop_job)
        self.clear_button.clicked.connect(self.clear_results)
        self.export_button.clicked.connect(self.export_csv)
        self.table.itemSelectionChanged.connect(self._on_selection_changed)
        details.status.connect(self.status)
        details.show_channels.connect(self.show_channels)  # "What does this channel look for?"
        details.explain_runner.done.connect(self._update_buttons)
        details.dream_button.clicked.connect(lambda: self._send("dream", "image"))
        details.content_button.clicked.connect(lambda: self._send("style", "content"))
        details.style_button.clicked.connect(lambda: self._send("style", "style"))

        self.runner.started.connect(self._update_buttons)
        self.runner.notice.connect(self._on_notice)
        self.runner.progress.connect(self._on_progress)
        self.runner.failed.connect(self._on_failed)
        self.runner.finished.connect(self._on_finished)
        self.runner.stopped.connect(lambda: self.progress.finish("Stopped"))
        self.runner.done.connect(self._on_done)

    def refresh_models(self) -> None:
        """Re-list the models (the window calls it when the library changed)."""
        self.form.refresh_models()

    # -- classifying --------------------------------------------------------------------

    def classify_paths(self, paths: list[str]) -> None:
        """Classify files and folders (added to the table); queued while a batch runs.
        Files a failed run left waiting go first."""
        paths = [str(p) for p in paths if str(p)]
        if not paths:
            return
        if self._paste_dir is None or not Path(paths[0]).is_relative_to(self._paste_dir):
            remember_folder(paths[0])  # not the session's temporary paste folder
        if self.runner.running:
            self._queue.extend(paths)
            self.status.emit(f"{len(paths)} more queued: they follow this batch")
            return
        paths = _unique([*self._waiting, *paths])
        if not self.form.has_model():
            self._waiting = paths
            self._update_buttons()
            self.show_error("Choose a model first, then press Classify again.")
            return
        self._waiting = []
        key = self.form.model_key()
        classifier = self._classifier if key == self._classifier_key else None
        self.progress.start("Loading the model..." if classifier is None else "Classifying...")
        self._job_key = key
        self._job_paths = paths
        self.runner.run_generator(
            classify_batch.classify_job,
            key[0],
            paths,
            int(self.form.top_k.value()),
            key[1] or "imagenet",
            classifier,
        )
        self._update_buttons()

    def open_image(self, path: str) -> None:
        self.classify_paths([path])

    def receive_image(self, image: object, role: str) -> None:
        if isinstance(image, np.ndarray):
            self.classify_array(image, role or "image")
        elif isinstance(image, str):
            self.classify_paths([image])

    def classify_array(self, image: np.ndarray, name: str = "pasted") -> None:
        """Classify an in-memory picture (clipboard, other tabs): kept as a PNG in a
        session folder so it behaves like a file (Grad-CAM, Dream, Style)."""
        if self._paste_dir is None:
            self._paste_dir = Path(tempfile.mkdtemp(prefix="cnnstudio-paste-"))
        self._paste_count += 1
        path = self._paste_dir / f"{name}-{self._paste_count}.png"
        image_saving.save_image(path, image, {"source": name}, overwrite=True)
        self.classify_paths([str(path)])

    def paste_paths(self, paths: list[str]) -> None:
        """Image files or folders copied in a file manager: all of them are classified."""
        self.classify_paths(paths)

    def paste_image(self, image: np.ndarray) -> None:
        self.classify_array(image, "clipboard")

    def ask_image_files(self) -> list[str]:
        """Image files chosen in a dialog (replaced in tests)."""
        files, _ = QFileDialog.getOpenFileNames(
            self, "Open images", last_folder(), dialogs.image_file_filter()
        )
        return list(files)

    def ask_folder(self) -> str | None:
        """A folder chosen in a dialog (replaced in tests)."""
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", last_folder())
        return folder or None

    def _open_images(self) -> None:
        files = self.ask_image_files()
        if files:
            self.classify_paths(files)

    def _open_folder(self) -> None:
        folder = self.ask_folder()
        if folder:
            self.classify_paths([folder])

    def run_job(self) -> None:
        """Classify every listed file (and those a failed run left waiting) again with
        the chosen model and top-k."""
        if self.runner.running:
            return
        files = _unique([*self.table.files(), *self._waiting])
        if not files:
            self.status.emit("Nothing to classify yet: drop images or folders")
            return
        self._waiting = []
        self.clear_results()
        self.classify_paths(files)

    def waiting_paths(self) -> list[str]:
        """The files and folders a failed run left to classify (Classify again runs them)."""
        return list(self._waiting)

    def stop_job(self) -> None:
        self._queue.clear()
        self.runner.stop()

    def _on_notice(self, text: str) -> None:
        self.progress.start(text)
        self.status.emit(text)

    def _on_progress(self, event: object) -> None:
        if isinstance(event, DownloadProgress):  # ImageNet weights before the first image
            self.progress.show_download(event)
            self.status.emit(f"Classify: {event.text}")
        elif isinstance(event, classify.ClassifierReady):
            if self._classifier is not event.classifier:
                self._classifier = event.classifier
                self._classifier_key = self._job_key
                self.details.set_classifier(self._classifier, self._job_key)
        elif isinstance(event, classify.ClassifyResult):
            self.table.add_result(event)
            self._update_buttons()
        elif isinstance(event, Progress):
            self.progress.update_progress(event)

    def _on_failed(self, message: str) -> None:
        # nothing is dropped: the run's files and the queue wait for Classify again
        classified = set(self.table.files())
        left = [p for p in self._job_paths if p not in classified]
        self._waiting = _unique([*left, *self._queue, *self._waiting])
        self._queue.clear()
        self._job_paths = []
        self.progress.finish("Failed")
        count = len(self._waiting)
        note = (
            f" {count} {'file waits' if count == 1 else 'files wait'}: "
            "press Classify again once the model is ready."
            if count
            else ""
        )
        self.status.emit(message + note)
        if isinstance(self.runner.error, ResourceMissingError):
            self.show_missing_weights(message)
        else:
            self.show_error(message, self.runner.error_details)

    def show_missing_weights(self, message: str) -> QMessageBox:
        """The ImageNet weights are not on this machine: "Import weights..." (the
        window's action) or "Use untrained" (classifies the waiting files at once)."""
        return dialogs.show_missing_weights(self, message, self._use_untrained)

    def _use_untrained(self) -> None:
        self.form.weights.set_value("random")
        self.run_job()

    def _on_finished(self, results: object) -> None:
        self._job_paths = []
        count = len(results or [])
        failed = sum(1 for r in results or [] if not r.ok)
        self.progress.finish("Done")
        note = f", {failed} could not be read" if failed else ""
        label = self._classifier.label if self._classifier is not None else ""
        if self._classifier is not None and self._classifier.untrained:
            label += ": untrained, the labels are meaningless"
        self.status.emit(f"Classified {count - failed} of {count} images with {label}{note}")

    def _on_done(self) -> None:
        self._update_buttons()
        if self._queue:
            queued, self._queue = self._queue, []
            self.classify_paths(queued)
        elif self.table.rowCount() and not self.table.selectedItems():
            self.table.selectRow(0)

    # -- the table ----------------------------------------------------------------------

    def results(self) -> list[Any]:
        """The results in the table's current (possibly sorted) row order."""
        return self.table.results()

    def selected_result(self) -> Any | None:
        return self.table.selected_result()

    def clear_results(self) -> None:
        self.table.clear_results()
        self.details.show_result(None)
        self._update_buttons()

    def ask_csv_path(self) -> str | None:
        """Where to export the table (replaced in tests)."""
        path, _ = QFileDialog.getSaveFileName(
            self, "Export results", str(Path(last_folder()) / "results.csv"), "CSV (*.csv)"
        )
        return path or None

    def export_csv(self) -> Path | None:
        """Write the table (in its shown order) to a CSV file."""
        if not self.table.result_count():
            self.status.emit("Nothing to export yet")
            return None
        path = self.ask_csv_path()
        if not path:
            return None
        written = classify_batch.write_csv(self.results(), path, overwrite=True)
        remember_folder(path)
        self.status.emit(f"Exported {self.table.result_count()} rows to {written}")
        return written

    # -- selection, Grad-CAM, feature maps -----------------------------------------------

    def _on_selection_changed(self) -> None:
        self.details.show_result(self.selected_result())
        self._update_buttons()

    # -- hand-over, saving ----------------------------------------------------------------

    def _send(self, tab_key: str, role: str) -> None:
        result = self.selected_result()
        if result is None or not result.ok:
            return
        self.send_image.emit(tab_key, result.file, role)

    def has_result(self) -> bool:
        return self.details.overlay is not None or self.details.image is not None

    def ask_save_path(self) -> str | None:
        """Where to save the shown picture (replaced in tests)."""
        return dialogs.ask_save_image(self)

    def save_result(self) -> None:
        """Save the shown picture (the Grad-CAM overlay when it is on) with its params."""
        picture = self.details.shown_picture()
        result = self.selected_result()
        if picture is None or result is None:
            return
        path = self.ask_save_path()
        if not path:
            return
        params = {
            "job": "gradcam" if picture is self.details.overlay else "classify",
            "source": result.file,
            "model": self._classifier.label if self._classifier is not None else "",
            "predictions": [[p.label, round(p.probability, 6)] for p in result.predictions],
        }
        try:
            saved = image_saving.save_image(path, picture, params, overwrite=True)
        except (OSError, ValueError) as error:
            self.show_error(f"Could not save {path}: {error_text(error)}")
            return
        self.status.emit(f"Saved {saved}")

    # -- state ----------------------------------------------------------------------------

    def _update_buttons(self) -> None:
        running = self.runner.running
        has_rows = bool(self.table.result_count())
        selected = self.selected_result()
        sendable = selected is not None and selected.ok
        self.stop_button.setEnabled(running)
        self.rerun_button.setEnabled((has_rows or bool(self._waiting)) and not running)
        self.clear_button.setEnabled(has_rows and not running)
        self.export_button.setEnabled(has_rows)
        self.form.model_combo.setEnabled(not running)
        self.form.weights.setEnabled(not running)
        self.form.top_k.setEnabled(not running)
        for button in self.details.send_buttons():
            button.setEnabled(sendable)

    def is_busy(self) -> bool:
        return self.runner.running or self.details.explain_runner.running

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self.drop_area.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_area.dropEvent(event)

    def save_settings(self, settings: QSettings) -> None:
        self.form.save_settings(settings)
        settings.setValue("gradcam", self.details.gradcam_toggle.isChecked())
        settings.setValue("cam_method", self.details.cam_method.currentData())

    def restore_settings(self, settings: QSettings) -> None:
        self.form.restore_settings(settings)
        self.details.gradcam_toggle.setChecked(read_bool(settings, "gradcam", False))
        method = self.details.cam_method
        method.setCurrentIndex(max(method.findData(read_str(settings, "cam_method", "gradcam")), 0))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self.runner.running:
            self.refresh_models()  # a model trained a minute ago appears here
        if not self._sized:
            self._sized = True
            QTimer.singleShot(0, self.size_panes)  # once the layout has given the widths

    def size_panes(self) -> None:
        """First widths of the panes: the controls as narrow as they allow, the details a
        fifth of the tab, and the table the rest, so a 1024 px window shows every
        column up to the error whole."""
        width = sum(self.splitter.sizes())
        controls = self.splitter.widget(0).minimumSizeHint().width()
        details = max(self.details.minimumSizeHint().width(), width // 5)
        self.splitter.setSizes([controls, max(width - controls - details, 0), details])

    def shutdown(self) -> None:
        self._queue.clear()
        self.runner.shutdown()
        self.details.shutdown()
        if self._paste_dir is not None:
            shutil.rmtree(self._paste_dir, ignore_errors=True)
            self._paste_dir = None


def _unique(paths: list[str]) -> list[str]:
    """``paths`` without repeats, in their order."""
    return list(dict.fromkeys(paths))
