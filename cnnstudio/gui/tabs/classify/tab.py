"""The Classify tab: drop images or folders, read the top-k labels, see where the model
looked (Grad-CAM) and what its layers see (feature maps), then hand a picture on to Dream
or Style.

Classification runs as ``core.classify.classify_job`` on one :class:`JobRunner`; Grad-CAM
and feature maps for the selected image run on a second one (latest request wins), so the
window never waits on TensorFlow.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QRect, QSettings, QSize, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
    QPainter,
    QPixmap,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core import classify, images
from cnnstudio.core.backbones import BACKBONE_NAMES
from cnnstudio.core.events import DownloadProgress
from cnnstudio.gui.settings import last_folder, read_bool, read_int, read_str, remember_folder
from cnnstudio.gui.tabs.base import StudioTab
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.image_view import ImageView, array_to_qimage
from cnnstudio.gui.widgets.progress import JobProgress
from cnnstudio.gui.widgets.weights_picker import WeightsPicker
from cnnstudio.gui.workers import JobRunner

log = logging.getLogger(__name__)

_OPEN_FILE = "<open .keras file>"
_AUTO_LAYER = ""  # "last convolution, found automatically"
_METHODS = (("gradcam", "Grad-CAM"), ("hirescam", "HiResCAM (flatten heads)"))

COL_THUMB, COL_FILE, COL_LABEL, COL_PROB, COL_TOPK, COL_ERROR = range(6)
_HEADERS = ("", "File", "Top label", "Probability", "Top-k", "Error")
_PATH_ROLE = Qt.ItemDataRole.UserRole
_RESULT_ROLE = Qt.ItemDataRole.UserRole + 1
_TOPK_ROLE = Qt.ItemDataRole.UserRole + 2  # [(label, probability), ...] best first
_BAR_COLOUR = QColor(70, 130, 220)


def _local_paths(urls: list[QUrl]) -> list[str]:
    return [url.toLocalFile() for url in urls if url.isLocalFile()]


class DropArea(QLabel):
    """A target for dropped image files *and* folders (an ImageView takes only files)."""

    paths_dropped = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            "Drop images or folders here  -  or Open images..., Open folder..., Ctrl+V",
            parent,
        )
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAcceptDrops(True)
        self.setMinimumHeight(48)
        self.setWordWrap(True)
        self.setStyleSheet(
            "QLabel { border: 2px dashed palette(mid); border-radius: 6px; padding: 8px; }"
        )

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _local_paths(event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        paths = _local_paths(event.mimeData().urls())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.paths_dropped.emit(paths)


class ProbabilityDelegate(QStyledItemDelegate):
    """Paints a probability (0..1 in the display role) as a bar with its percentage."""

    def paint(self, painter: QPainter, option, index) -> None:
        value = index.data(Qt.ItemDataRole.DisplayRole)
        if not isinstance(value, (int, float)):
            super().paint(painter, option, index)
            return
        if value < 0:  # a file that could not be classified
            return
        painter.save()
        rect = option.rect.adjusted(3, 4, -3, -4)
        painter.fillRect(rect, option.palette.base())
        filled = QRect(rect.left(), rect.top(), int(rect.width() * float(value)), rect.height())
        painter.fillRect(filled, _BAR_COLOUR)
        painter.setPen(option.palette.text().color())
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{float(value):.1%}")
        painter.restore()


class TopKDelegate(QStyledItemDelegate):
    """Paints a result's top-k labels (``_TOPK_ROLE``) as k stacked bars, each as long as
    its probability, with the label and percentage on it when the row is tall enough."""

    def paint(self, painter: QPainter, option, index) -> None:
        predictions = index.data(_TOPK_ROLE)
        if not predictions:
            super().paint(painter, option, index)
            return
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        area = option.rect.adjusted(3, 2, -3, -2)
        count = len(predictions)
        height = max(1, (area.height() - (count - 1)) // count)  # a 1-pixel gap between bars
        text_fits = height >= painter.fontMetrics().height() - 4
        for rank, (label, probability) in enumerate(predictions):
            top = area.top() + rank * (height + 1)
            bar = QRect(area.left(), top, area.width(), height)
            painter.fillRect(bar, option.palette.base())
            length = int(round(area.width() * min(max(float(probability), 0.0), 1.0)))
            painter.fillRect(QRect(bar.left(), top, length, height), _BAR_COLOUR)
            if text_fits:
                text = f"{label} {float(probability):.1%}"
                painter.setPen(option.palette.text().color())
                elided = painter.fontMetrics().elidedText(
                    text, Qt.TextElideMode.ElideRight, bar.width() - 4
                )
                painter.drawText(
                    bar.adjusted(2, 0, -2, 0),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    elided,
                )
        painter.restore()


class ClassifyTab(StudioTab):
    """Classification with any CNN, Grad-CAM, feature maps and hand-over to other tabs."""

    title = "Classify"
    settings_key = "classify"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("classifyTab")
        self.setAcceptDrops(True)
        self.runner = JobRunner("Classify", self)
        self.explain_runner = JobRunner("Grad-CAM", self)
        self._classifier: Any = None  # core.classify.Classifier of the last run
        self._classifier_key: tuple[str, str] | None = None
        self._job_key: tuple[str, str] | None = None
        self._results: list[Any] = []  # ClassifyResult, in arrival order
        self._queue: list[str] = []  # paths waiting for the running job to end
        self._pending_explain: tuple | None = None
        self._image: np.ndarray | None = None  # the selected picture (uint8 RGB)
        self._overlay: np.ndarray | None = None
        self._explained_for: str | None = None
        self._paste_dir: Path | None = None
        self._paste_count = 0
        self._build()
        self._connect()
        self.refresh_models()
        self._update_buttons()

    # -- layout -------------------------------------------------------------------------

    def _build(self) -> None:
        self.model_combo = QComboBox(objectName="classifyModel")
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_combo.setToolTip("An ImageNet network or a model of your library")
        self.weights = WeightsPicker()
        self.weights.setObjectName("classifyWeights")
        self.top_k = QSpinBox(objectName="classifyTopK", minimum=1, maximum=20, value=5)
        self.open_button = QPushButton("Open images...", objectName="classifyOpenButton")
        self.folder_button = QPushButton("Open folder...", objectName="classifyFolderButton")
        self.paste_button = QPushButton("Paste", objectName="classifyPasteButton")
        self.paste_button.setToolTip("Classify the image on the clipboard (Ctrl+V)")
        self.rerun_button = QPushButton("Classify again", objectName="classifyRunButton")
        self.rerun_button.setToolTip("Classify every listed file again with the chosen model")
        self.stop_button = QPushButton("Stop", objectName="classifyStopButton")
        self.clear_button = QPushButton("Clear", objectName="classifyClearButton")
        self.export_button = QPushButton("Export CSV...", objectName="classifyExportButton")
        self.progress = JobProgress(stage_name="Batch")
        self.progress.setObjectName("classifyProgress")

        form = QFormLayout()
        form.addRow("Model", self.model_combo)
        form.addRow("Weights", self.weights)
        form.addRow("Top-k", self.top_k)
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
        controls = QVBoxLayout()
        controls.addLayout(form)
        controls.addLayout(buttons)
        controls.addWidget(self.progress)
        controls.addStretch(1)
        controls_widget = QWidget()
        controls_widget.setLayout(controls)

        self.drop_area = DropArea()
        self.drop_area.setObjectName("classifyDropArea")
        self.table = QTableWidget(0, len(_HEADERS), objectName="classifyResults")
        self.table.setHorizontalHeaderLabels(_HEADERS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setIconSize(QSize(48, 48))
        self.table.verticalHeader().setDefaultSectionSize(52)
        self.table.verticalHeader().setVisible(False)
        self.table.setItemDelegateForColumn(COL_PROB, ProbabilityDelegate(self.table))
        self.table.setItemDelegateForColumn(COL_TOPK, TopKDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_TOPK, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(COL_THUMB, 56)
        header.resizeSection(COL_PROB, 120)
        self.table.setSortingEnabled(True)
        self.table.setAcceptDrops(False)
        results = QVBoxLayout()
        results.addWidget(self.drop_area)
        results.addWidget(self.table, 1)
        results_widget = QWidget()
        results_widget.setLayout(results)

        # details of the selected image
        self.image_view = ImageView(placeholder="Select a result to see it here")
        self.image_view.setObjectName("classifyImage")
        self.gradcam_toggle = QCheckBox("Grad-CAM heat map", objectName="classifyGradCam")
        self.cam_layer = QComboBox(objectName="classifyCamLayer")
        self.cam_method = QComboBox(objectName="classifyCamMethod")
        for value, text in _METHODS:
            self.cam_method.addItem(text, value)
        self.cam_class = QComboBox(objectName="classifyCamClass")
        self.cam_class.setToolTip("The class whose evidence the heat map shows")
        cam_form = QFormLayout()
        cam_form.addRow(self.gradcam_toggle)
        cam_form.addRow("Layer", self.cam_layer)
        cam_form.addRow("Method", self.cam_method)
        cam_form.addRow("Class", self.cam_class)
        self.top_list = QWidget(objectName="classifyTopList")
        self.top_list_layout = QFormLayout(self.top_list)
        image_page = QWidget()
        image_layout = QVBoxLayout(image_page)
        image_layout.addWidget(self.image_view, 1)
        image_layout.addWidget(self.top_list)
        image_layout.addLayout(cam_form)

        self.feature_layer = QComboBox(objectName="classifyFeatureLayer")
        self.feature_view = ImageView(placeholder="Pick a layer to see its channels")
        self.feature_view.setObjectName("classifyFeatureMaps")
        self.feature_info = QLabel("", objectName="classifyFeatureInfo")
        feature_page = QWidget()
        feature_layout = QVBoxLayout(feature_page)
        feature_row = QHBoxLayout()
        feature_row.addWidget(QLabel("Layer"))
        feature_row.addWidget(self.feature_layer, 1)
        feature_layout.addLayout(feature_row)
        feature_layout.addWidget(self.feature_view, 1)
        feature_layout.addWidget(self.feature_info)

        self.detail_tabs = QTabWidget(objectName="classifyDetailTabs")
        self.detail_tabs.addTab(image_page, "Image")
        self.detail_tabs.addTab(feature_page, "Feature maps")
        self.dream_button = QPushButton("Dream with this image", objectName="classifyDreamButton")
        self.content_button = QPushButton("Use as content", objectName="classifyContentButton")
        self.style_button = QPushButton("Use as style", objectName="classifyStyleButton")
        send_row = QHBoxLayout()
        for button in (self.dream_button, self.content_button, self.style_button):
            send_row.addWidget(button)
        details = QVBoxLayout()
        details.addWidget(self.detail_tabs, 1)
        details.addLayout(send_row)
        details_widget = QWidget()
        details_widget.setLayout(details)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(controls_widget)
        splitter.addWidget(results_widget)
        splitter.addWidget(details_widget)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.paste_shortcut = QShortcut(QKeySequence.StandardKey.Paste, self)
        self.paste_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def _connect(self) -> None:
        self.model_combo.activated.connect(self._on_model_activated)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.drop_area.paths_dropped.connect(self.classify_paths)
        self.image_view.image_dropped.connect(lambda path: self.classify_paths([path]))
        self.open_button.clicked.connect(self._open_images)
        self.folder_button.clicked.connect(self._open_folder)
        self.paste_button.clicked.connect(self.paste)
        self.paste_shortcut.activated.connect(self.paste)
        self.rerun_button.clicked.connect(self.run_job)
        self.stop_button.clicked.connect(self.stop_job)
        self.clear_button.clicked.connect(self.clear_results)
        self.export_button.clicked.connect(self.export_csv)
        self.table.itemSelectionChanged.connect(self._on_selection_changed)
        self.gradcam_toggle.toggled.connect(self._on_gradcam_toggled)
        self.cam_layer.currentIndexChanged.connect(self._on_cam_option_changed)
        self.cam_method.currentIndexChanged.connect(self._on_cam_option_changed)
        self.cam_class.currentIndexChanged.connect(self._on_cam_option_changed)
        self.feature_layer.currentIndexChanged.connect(self._request_explain)
        self.detail_tabs.currentChanged.connect(self._request_explain)
        self.dream_button.clicked.connect(lambda: self._send("dream", "image"))
        self.content_button.clicked.connect(lambda: self._send("style", "content"))
        self.style_button.clicked.connect(lambda: self._send("style", "style"))

        self.runner.started.connect(lambda: self._update_buttons())
        self.runner.notice.connect(self._on_notice)
        self.runner.progress.connect(self._on_progress)
        self.runner.failed.connect(self._on_failed)
        self.runner.finished.connect(self._on_finished)
        self.runner.stopped.connect(lambda: self.progress.finish("Stopped"))
        self.runner.done.connect(self._on_done)
        self.explain_runner.finished.connect(self._on_explained)
        self.explain_runner.failed.connect(self._on_explain_failed)
        self.explain_runner.done.connect(self._on_explain_done)

    # -- models -------------------------------------------------------------------------

    def refresh_models(self) -> None:
        """List the ImageNet backbones, the library's models and 'Open .keras file...',
        keeping the current choice when it is still there."""
        current = self.model_spec()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for spec, text in classify.model_choices():
            if spec in BACKBONE_NAMES:
                self.model_combo.addItem(text, spec)
            else:
                self.model_combo.addItem(f"Library: {text}", spec)
                self.model_combo.setItemData(
                    self.model_combo.count() - 1, spec, Qt.ItemDataRole.ToolTipRole
                )
        self.model_combo.addItem("Open .keras file...", _OPEN_FILE)
        self.model_combo.blockSignals(False)
        if current and current != _OPEN_FILE:
            self.set_model_spec(current)
        else:  # the light one first: it answers quickly on any machine
            self.model_combo.setCurrentIndex(max(self.model_combo.findData("mobilenet_v2"), 0))
        self._on_model_changed()

    def model_spec(self) -> str:
        """A backbone name or the path of a .keras file."""
        data = self.model_combo.currentData()
        return str(data) if data else ""

    def set_model_spec(self, spec: str) -> None:
        """Select ``spec`` (a backbone name or a .keras path; a new path is added)."""
        index = self.model_combo.findData(spec)
        if index < 0 and spec and Path(spec).suffix.lower() == ".keras" and Path(spec).exists():
            index = self.model_combo.count() - 1  # above "Open .keras file..."
            self.model_combo.insertItem(index, f"File: {Path(spec).name}", spec)
            self.model_combo.setItemData(index, spec, Qt.ItemDataRole.ToolTipRole)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)

    def ask_model_file(self) -> str | None:
        """The .keras file to classify with (replaced in tests)."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a Keras model", last_folder(), "Keras models (*.keras);;All files (*)"
        )
        if path:
            remember_folder(path)
        return path or None

    def _on_model_activated(self, index: int) -> None:
        if self.model_combo.itemData(index) != _OPEN_FILE:
            return
        path = self.ask_model_file()
        if path:
            self.set_model_spec(path)
        else:
            self.model_combo.setCurrentIndex(0)

    def _on_model_changed(self, *_args) -> None:
        spec = self.model_spec()
        is_backbone = spec in BACKBONE_NAMES
        self.weights.setEnabled(is_backbone)

    def _current_key(self) -> tuple[str, str]:
        spec = self.model_spec()
        return (spec, self.weights.value() if spec in BACKBONE_NAMES else "")

    # -- classifying --------------------------------------------------------------------

    def classify_paths(self, paths: list[str]) -> None:
        """Classify files and folders (added to the table); queued while a batch runs."""
        paths = [str(p) for p in paths if str(p)]
        if not paths:
            return
        if self._paste_dir is None or not Path(paths[0]).is_relative_to(self._paste_dir):
            remember_folder(paths[0])  # not the session's temporary paste folder
        if self.runner.running:
            self._queue.extend(paths)
            self.status.emit(f"{len(paths)} more queued: they follow this batch")
            return
        if self.model_spec() in ("", _OPEN_FILE):
            self.show_error("Choose a model first")
            return
        key = self._current_key()
        classifier = self._classifier if key == self._classifier_key else None
        self.progress.start("Loading the model..." if classifier is None else "Classifying...")
        self._job_key = key
        self.runner.run_generator(
            classify.classify_job,
            key[0],
            paths,
            int(self.top_k.value()),
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
        images.save_image(path, image, {"source": name}, overwrite=True)
        self.classify_paths([str(path)])

    def paste(self) -> None:
        """Ctrl+V: the clipboard's image, or the image files/folders copied in a file
        manager."""
        from PySide6.QtWidgets import QApplication

        clipboard = QApplication.clipboard()
        mime = clipboard.mimeData()
        if mime is not None and mime.hasUrls() and _local_paths(mime.urls()):
            self.classify_paths(_local_paths(mime.urls()))
            return
        qimage = clipboard.image()
        if qimage.isNull():
            self.status.emit("The clipboard holds no image")
            return
        self.classify_array(_qimage_to_array(qimage), "clipboard")

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
        """Classify every listed file again with the chosen model and top-k."""
        files = [r.file for r in self._results]
        if not files:
            self.status.emit("Nothing to classify yet: drop images or folders")
            return
        self.clear_results()
        self.classify_paths(files)

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
                self._fill_layer_pickers()
        elif isinstance(event, classify.ClassifyResult):
            self._add_result(event)
        elif hasattr(event, "step"):
            self.progress.update_progress(event)

    def _on_failed(self, message: str) -> None:
        self.progress.finish("Failed")
        self.status.emit(message)
        self._queue.clear()
        self.show_error(message, self.runner.error_details)

    def _on_finished(self, results: object) -> None:
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

    def _add_result(self, result: Any) -> None:
        self._results.append(result)
        sorting = self.table.isSortingEnabled()
        self.table.setSortingEnabled(False)  # rows stay whole while they are filled in
        row = self.table.rowCount()
        self.table.insertRow(row)
        thumb = QTableWidgetItem()
        if result.thumbnail is not None:
            thumb.setIcon(QIcon(QPixmap.fromImage(array_to_qimage(result.thumbnail))))
        thumb.setData(_PATH_ROLE, result.file)
        thumb.setData(_RESULT_ROLE, len(self._results) - 1)
        self.table.setItem(row, COL_THUMB, thumb)
        name = QTableWidgetItem(Path(result.file).name)
        name.setToolTip(result.file)
        self.table.setItem(row, COL_FILE, name)
        if result.ok:
            top = result.top
            self.table.setItem(row, COL_LABEL, QTableWidgetItem(top.label))
            prob = QTableWidgetItem()
            prob.setData(Qt.ItemDataRole.DisplayRole, float(top.probability))
            self.table.setItem(row, COL_PROB, prob)
            topk = "; ".join(f"{p.label} {p.probability:.1%}" for p in result.predictions)
            topk_item = QTableWidgetItem(topk)  # the text sorts and copies; the bars show
            topk_item.setData(_TOPK_ROLE, [(p.label, p.probability) for p in result.predictions])
            topk_item.setToolTip(topk.replace("; ", "\n"))
            self.table.setItem(row, COL_TOPK, topk_item)
            self.table.setItem(row, COL_ERROR, QTableWidgetItem(""))
        else:
            for column in (COL_LABEL, COL_TOPK):
                self.table.setItem(row, column, QTableWidgetItem(""))
            prob = QTableWidgetItem()
            prob.setData(Qt.ItemDataRole.DisplayRole, -1.0)  # errors sort last; no bar
            self.table.setItem(row, COL_PROB, prob)
            error = QTableWidgetItem(result.error)
            error.setForeground(QColor(200, 40, 40))
            error.setToolTip(result.error)
            self.table.setItem(row, COL_ERROR, error)
        self.table.setSortingEnabled(sorting)
        self._update_buttons()

    def results(self) -> list[Any]:
        """The results in the table's current (possibly sorted) row order."""
        ordered = []
        for row in range(self.table.rowCount()):
            item = self.table.item(row, COL_THUMB)
            if item is not None:
                ordered.append(self._results[int(item.data(_RESULT_ROLE))])
        return ordered

    def clear_results(self) -> None:
        self.table.setRowCount(0)
        self._results = []
        self._image = None
        self._overlay = None
        self._explained_for = None
        self.image_view.set_image(None)
        self.feature_view.set_image(None)
        self._fill_top_list(None)
        self._update_buttons()

    def ask_csv_path(self) -> str | None:
        """Where to export the table (replaced in tests)."""
        path, _ = QFileDialog.getSaveFileName(
            self, "Export results", str(Path(last_folder()) / "results.csv"), "CSV (*.csv)"
        )
        return path or None

    def export_csv(self) -> Path | None:
        """Write the table (in its shown order) to a CSV file."""
        if not self._results:
            self.status.emit("Nothing to export yet")
            return None
        path = self.ask_csv_path()
        if not path:
            return None
        written = classify.write_csv(self.results(), path)
        remember_folder(path)
        self.status.emit(f"Exported {len(self._results)} rows to {written}")
        return written

    # -- selection, Grad-CAM, feature maps -----------------------------------------------

    def selected_result(self) -> Any | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        item = self.table.item(rows[0].row(), COL_THUMB)
        return self._results[int(item.data(_RESULT_ROLE))] if item is not None else None

    def _on_selection_changed(self) -> None:
        result = self.selected_result()
        self._fill_top_list(result)
        self.cam_class.blockSignals(True)
        self.cam_class.clear()
        if result is not None and result.ok:
            for p in result.predictions:
                self.cam_class.addItem(f"{p.label} ({p.probability:.1%})", p.index)
        self.cam_class.blockSignals(False)
        self._image = None
        self._overlay = None
        self._explained_for = None
        self._update_buttons()
        self._request_explain()

    def _fill_top_list(self, result: Any | None) -> None:
        while self.top_list_layout.rowCount():
            self.top_list_layout.removeRow(0)
        if result is None:
            return
        if not result.ok:
            self.top_list_layout.addRow(QLabel(result.error, wordWrap=True))
            return
        for p in result.predictions:
            bar = QProgressBar(minimum=0, maximum=1000, value=int(round(p.probability * 1000)))
            bar.setFormat(f"{p.probability:.1%}")
            bar.setObjectName("classifyTopBar")
            self.top_list_layout.addRow(p.label, bar)

    def _fill_layer_pickers(self) -> None:
        """Layers of the current model for the Grad-CAM and feature-map pickers."""
        classifier = self._classifier
        layers = classifier.conv_layers() if classifier is not None else []
        try:
            auto = classifier.last_conv_layer() if classifier is not None else ""
        except Exception as error:  # a model without convolutions: no Grad-CAM
            log.info("no Grad-CAM layer: %s", error)
            auto = ""
        for combo in (self.cam_layer, self.feature_layer):
            combo.blockSignals(True)
            combo.clear()
        self.cam_layer.addItem(f"Automatic ({auto or 'none'})", _AUTO_LAYER)
        for layer in layers:
            self.cam_layer.addItem(layer, layer)
            self.feature_layer.addItem(layer, layer)
        if layers:
            # the first layer after the input shows recognisable channels; start there
            self.feature_layer.setCurrentIndex(0)
        for combo in (self.cam_layer, self.feature_layer):
            combo.blockSignals(False)

    def _on_gradcam_toggled(self, checked: bool) -> None:
        self._show_selected()  # the overlay or the plain picture, at once
        if checked and self._overlay is None:
            self._request_explain()

    def _on_cam_option_changed(self, *_args) -> None:
        self._overlay = None  # made for other options
        if self.gradcam_toggle.isChecked():
            self._request_explain()

    def _explain_request(self) -> tuple | None:
        result = self.selected_result()
        if result is None or not result.ok or self._classifier is None:
            return None
        want_cam = self.gradcam_toggle.isChecked()
        want_maps = self.detail_tabs.currentIndex() == 1 and self.feature_layer.count() > 0
        return (
            self._classifier,
            result.file,
            want_cam,
            self.cam_layer.currentData() or None,
            self.cam_method.currentData() or "gradcam",
            self.cam_class.currentData(),
            self.feature_layer.currentData() if want_maps else None,
        )

    def _request_explain(self, *_args) -> None:
        request = self._explain_request()
        if request is None:
            self._show_selected()
            return
        if self.explain_runner.running:
            self._pending_explain = request  # latest wins
            return
        self.explain_runner.run_function(_explain, *request)

    def _on_explained(self, output: object) -> None:
        image, overlay, maps, info = output
        result = self.selected_result()
        if result is None or result.file != info["file"]:
            return  # the selection moved on; a newer request follows
        self._image = image
        self._overlay = overlay
        self._explained_for = info["file"]
        self._show_selected()
        if maps is not None:
            self.feature_view.set_image(maps)
            self.feature_info.setText(info.get("maps", ""))
        if overlay is not None:
            self.status.emit(info.get("cam", ""))
        self._update_buttons()

    def _on_explain_failed(self, message: str) -> None:
        self.status.emit(message)
        self.gradcam_toggle.setToolTip(message)

    def _on_explain_done(self) -> None:
        if self._pending_explain is not None:
            request, self._pending_explain = self._pending_explain, None
            self.explain_runner.run_function(_explain, *request)

    def _show_selected(self) -> None:
        if self._image is None:
            result = self.selected_result()
            self.image_view.set_image(
                result.thumbnail if result is not None and result.ok else None
            )
            return
        showing_cam = self.gradcam_toggle.isChecked() and self._overlay is not None
        self.image_view.set_image(self._overlay if showing_cam else self._image)

    # -- hand-over, saving ----------------------------------------------------------------

    def _send(self, tab_key: str, role: str) -> None:
        result = self.selected_result()
        if result is None or not result.ok:
            return
        self.send_image.emit(tab_key, result.file, role)

    def has_result(self) -> bool:
        return self._overlay is not None or self._image is not None

    def ask_save_path(self) -> str | None:
        """Where to save the shown picture (replaced in tests)."""
        return dialogs.ask_save_image(self)

    def save_result(self) -> None:
        """Save the shown picture (the Grad-CAM overlay when it is on) with its params."""
        picture = self._overlay if self.gradcam_toggle.isChecked() else self._image
        result = self.selected_result()
        if picture is None or result is None:
            return
        path = self.ask_save_path()
        if not path:
            return
        params = {
            "job": "gradcam" if picture is self._overlay else "classify",
            "source": result.file,
            "model": self._classifier.label if self._classifier is not None else "",
            "predictions": [[p.label, round(p.probability, 6)] for p in result.predictions],
        }
        try:
            saved = images.save_image(path, picture, params, overwrite=True)
        except (OSError, ValueError) as error:
            self.show_error(f"Could not save {path}: {error}")
            return
        self.status.emit(f"Saved {saved}")

    # -- state ----------------------------------------------------------------------------

    def _update_buttons(self) -> None:
        running = self.runner.running
        has_rows = bool(self._results)
        selected = self.selected_result()
        sendable = selected is not None and selected.ok
        self.stop_button.setEnabled(running)
        self.rerun_button.setEnabled(has_rows and not running)
        self.clear_button.setEnabled(has_rows and not running)
        self.export_button.setEnabled(has_rows)
        self.model_combo.setEnabled(not running)
        for button in (self.dream_button, self.content_button, self.style_button):
            button.setEnabled(sendable)

    def is_busy(self) -> bool:
        return self.runner.running or self.explain_runner.running

    def show_error(self, message: str, details: str = "") -> QMessageBox:
        return dialogs.show_error(self, message, details, "Classify")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self.drop_area.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_area.dropEvent(event)

    def save_settings(self, settings: QSettings) -> None:
        spec = self.model_spec()
        settings.setValue("model", spec if spec != _OPEN_FILE else "")
        settings.setValue("weights", self.weights.value())
        settings.setValue("top_k", int(self.top_k.value()))
        settings.setValue("gradcam", self.gradcam_toggle.isChecked())
        settings.setValue("cam_method", self.cam_method.currentData())

    def restore_settings(self, settings: QSettings) -> None:
        spec = read_str(settings, "model", "")
        if spec:
            self.set_model_spec(spec)
        self.weights.set_value(read_str(settings, "weights", "imagenet"))
        self.top_k.setValue(read_int(settings, "top_k", 5))
        self.gradcam_toggle.setChecked(read_bool(settings, "gradcam", False))
        index = self.cam_method.findData(read_str(settings, "cam_method", "gradcam"))
        self.cam_method.setCurrentIndex(max(index, 0))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self.runner.running:
            self.refresh_models()  # a model trained a minute ago appears here

    def shutdown(self) -> None:
        self._queue.clear()
        self._pending_explain = None
        self.runner.shutdown()
        self.explain_runner.shutdown()
        if self._paste_dir is not None:
            shutil.rmtree(self._paste_dir, ignore_errors=True)
            self._paste_dir = None


def _qimage_to_array(qimage) -> np.ndarray:
    """A QImage (any format) as uint8 RGB (H, W, 3)."""
    from PySide6.QtGui import QImage

    rgb = qimage.convertToFormat(QImage.Format.Format_RGB888)
    width, height = rgb.width(), rgb.height()
    buffer = np.frombuffer(rgb.constBits(), np.uint8, count=rgb.sizeInBytes())
    rows = buffer.reshape(height, rgb.bytesPerLine())[:, : width * 3]
    return np.ascontiguousarray(rows.reshape(height, width, 3))


def _explain(
    classifier: Any,
    path: str,
    want_cam: bool,
    layer: str | None,
    method: str,
    class_index: int | None,
    feature_layer: str | None,
) -> tuple:
    """Worker thread: the selected picture, its Grad-CAM overlay and a feature-map grid."""
    image = images.load_image(path, max_side=classify.WORKING_SIDE)
    overlay = None
    info: dict[str, str] = {"file": path}
    if want_cam:
        cam = classifier.gradcam(image, class_index=class_index, layer=layer, method=method)
        overlay = cam.overlay(image)
        name = classifier.name_of(cam.class_index)
        info["cam"] = f"Heat map of '{name}' at layer {cam.layer}"
    maps = None
    if feature_layer:
        activations = classifier.feature_maps(image, feature_layer)
        maps = classify.tile_channels(activations, max_channels=64, cell=64)
        shown = min(64, activations.shape[-1])
        info["maps"] = (
            f"{feature_layer}: {activations.shape[1]}x{activations.shape[0]}, "
            f"{shown} of {activations.shape[-1]} channels"
        )
    return image, overlay, maps, info
