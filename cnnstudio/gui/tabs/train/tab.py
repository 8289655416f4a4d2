"""The Train tab: pick a recipe and data, Start/Stop/Resume, live curves, results, library.

Training runs through :func:`cnnstudio.core.training.trainer.train` on the tab's
:class:`JobRunner` (``run_callbacks``): batch and epoch events arrive as ``progress``
signals (already throttled at the source), Stop sets ``should_stop`` and Keras stops
through ``model.stop_training``. Every run checkpoints into its run folder, so Resume
continues the last run (or a run folder chosen by the user) after a stop or a crash.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, QSize, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.backbones import BACKBONE_NAMES, find_imagenet_weights, get_backbone
from cnnstudio.core.errors import ResourceMissingError
from cnnstudio.core.events import DownloadProgress, Progress
from cnnstudio.core.training import trainer
from cnnstudio.core.training.datasets import BUILTIN_DATASETS, find_dataset_file
from cnnstudio.core.training.recipes import RECIPES, get_recipe
from cnnstudio.gui.settings import last_folder, read_str, remember_folder
from cnnstudio.gui.tabs.base import StudioTab
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.image_view import array_to_qimage
from cnnstudio.gui.widgets.library_dialog import LibraryDialog, show_library
from cnnstudio.gui.widgets.plots import LossPlot
from cnnstudio.gui.widgets.progress import JobProgress, format_duration
from cnnstudio.gui.widgets.weights_picker import WeightsPicker
from cnnstudio.gui.workers import JobRunner

log = logging.getLogger(__name__)

_THUMB = 72  # sample thumbnails, pixels
_DATASET_TIP = (
    "mnist, cifar10, a .npz file in the Keras layout (x_train, y_train, x_test, y_test) or a "
    "folder with one subfolder of images per class. Drop a folder or .npz file here."
)
#: the start of the trainer's notice for an image file it could not read (class folders)
SKIPPED_PREFIX = "skipped unreadable file "
#: history.csv columns drawn again when a run is resumed: (column, plot series)
_HISTORY_SERIES = (
    ("loss", "loss"),
    ("val_loss", "val_loss"),
    ("accuracy", "accuracy"),
    ("val_accuracy", "val_accuracy"),
)


def read_history(run_dir: str | Path, epochs: int | None = None) -> dict[str, list[float]]:
    """The per-epoch metrics of a run folder's ``history.csv`` (Keras' CSVLogger) as
    ``{"epoch": [1, 2, ...], "loss": [...], ...}``, epochs 1-based. A re-run epoch keeps
    its last row; with ``epochs``, rows after that many finished epochs (a cut epoch that
    was logged) are left out. ``{}`` when the file is missing or unreadable."""
    rows: dict[int, dict[str, str]] = {}
    try:
        with Path(run_dir, "history.csv").open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                try:
                    rows[int(row["epoch"]) + 1] = row  # CSVLogger counts from 0
                except (KeyError, TypeError, ValueError):
                    continue
    except (OSError, csv.Error) as error:
        log.info("no history for %s: %s", run_dir, error)
        return {}
    kept = sorted(e for e in rows if epochs is None or e <= epochs)
    history: dict[str, list[float]] = {"epoch": [float(e) for e in kept]}
    for column, _series in _HISTORY_SERIES:
        values = []
        for epoch in kept:
            try:
                values.append(float(rows[epoch].get(column) or "nan"))
            except ValueError:
                values.append(float("nan"))
        history[column] = values
    return history


class DatasetField(QLineEdit):
    """The dataset: a name or path; accepts a dropped folder or ``.npz`` file."""

    dropped = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setToolTip(_DATASET_TIP)
        self.setPlaceholderText("mnist | cifar10 | FILE.npz | FOLDER")

    @staticmethod
    def _usable(event) -> str | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile():
                path = Path(url.toLocalFile())
                if path.is_dir() or path.suffix.lower() == ".npz":
                    return str(path)
        return None

    def dragEnterEvent(self, event) -> None:
        if self._usable(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        path = self._usable(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.setText(path)
        self.dropped.emit(path)


def _spin(minimum: int, maximum: int, value: int, name: str, tip: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(minimum, maximum)
    box.setValue(value)
    box.setObjectName(name)
    box.setToolTip(tip)
    return box


def _thumbnail(image: np.ndarray) -> QIcon:
    pixmap = QPixmap.fromImage(array_to_qimage(image)).scaled(
        _THUMB, _THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
    )
    return QIcon(pixmap)


class TrainTab(StudioTab):
    """Train a recipe on a dataset and watch it learn."""

    title = "Train"
    settings_key = "train"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainTab")
        self.setAcceptDrops(True)  # a folder or .npz dropped anywhere on the tab
        self.runner = JobRunner("Training", self)
        self.import_runner = JobRunner("Dataset import", self)
        self._result: trainer.TrainResult | None = None
        self._saved_entry_name = ""
        self._last_run_dir = ""
        self._steps = 1
        self._skipped: list[str] = []
        self._build_ui()
        self._connect()
        self._recipe_changed()
        self._update_buttons()

    # ------------------------------------------------------------------ construction

    def _build_ui(self) -> None:
        controls = QWidget()
        column = QVBoxLayout(controls)
        column.setContentsMargins(4, 4, 4, 4)

        setup = QGroupBox("Recipe and data")
        form = QFormLayout(setup)
        self.recipe_combo = QComboBox()
        self.recipe_combo.setObjectName("trainRecipe")
        for spec in RECIPES.values():
            self.recipe_combo.addItem(spec.label, spec.name)
            self.recipe_combo.setItemData(
                self.recipe_combo.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole
            )
        form.addRow("Recipe", self.recipe_combo)
        self.dataset_edit = DatasetField()
        self.dataset_edit.setObjectName("trainDataset")
        self.dataset_menu_button = QToolButton()
        self.dataset_menu_button.setText("...")
        self.dataset_menu_button.setObjectName("trainDatasetMenu")
        self.dataset_menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.dataset_menu_button)
        menu.addAction("MNIST", lambda: self.dataset_edit.setText("mnist"))
        menu.addAction("CIFAR-10", lambda: self.dataset_edit.setText("cifar10"))
        menu.addAction("Choose .npz file...", self._choose_npz)
        menu.addAction("Choose image folder...", self._choose_folder)
        menu.addSeparator()
        self.import_action = menu.addAction("Import dataset file...", self._import_dataset)
        self.dataset_menu_button.setMenu(menu)
        data_row = QHBoxLayout()
        data_row.addWidget(self.dataset_edit, 1)
        data_row.addWidget(self.dataset_menu_button)
        form.addRow("Dataset", data_row)
        self.backbone_combo = QComboBox()
        self.backbone_combo.setObjectName("trainBackbone")
        for name in BACKBONE_NAMES:
            self.backbone_combo.addItem(get_backbone(name).label, name)
        form.addRow("Base network", self.backbone_combo)
        self.weights_picker = WeightsPicker()
        self.weights_picker.setObjectName("trainWeights")
        form.addRow("Base weights", self.weights_picker)
        self.fine_tune = _spin(0, 500, 0, "trainFineTune", "unfreeze the top N layers of the base")
        form.addRow("Fine-tune layers", self.fine_tune)
        column.addWidget(setup)

        hyper = QGroupBox("Training")
        form = QFormLayout(hyper)
        self.epochs = _spin(1, 10_000, 5, "trainEpochs")
        form.addRow("Epochs", self.epochs)
        self.batch_size = _spin(1, 8192, 100, "trainBatchSize")
        form.addRow("Batch size", self.batch_size)
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setObjectName("trainLearningRate")
        self.learning_rate.setDecimals(6)
        self.learning_rate.setRange(1e-6, 10.0)
        self.learning_rate.setSingleStep(1e-4)
        self.learning_rate.setValue(1e-3)
        form.addRow("Learning rate", self.learning_rate)
        self.schedule = QComboBox()
        self.schedule.setObjectName("trainSchedule")
        for name in trainer.SCHEDULES:
            self.schedule.addItem(name, name)
        form.addRow("Schedule", self.schedule)
        self.early_stopping = _spin(0, 1000, 0, "trainEarlyStopping", "patience; 0 = off")
        form.addRow("Early stopping", self.early_stopping)
        self.image_size = _spin(8, 1024, 28, "trainImageSize", "square input size")
        form.addRow("Image size", self.image_size)
        self.val_split = QDoubleSpinBox()
        self.val_split.setObjectName("trainValSplit")
        self.val_split.setRange(0.0, 0.9)
        self.val_split.setSingleStep(0.05)
        self.val_split.setValue(0.1)
        self.val_split.setToolTip("share of training images held out; 0 validates on the test set")
        form.addRow("Validation split", self.val_split)
        self.seed = _spin(0, 2**31 - 1, 0, "trainSeed")
        form.addRow("Seed", self.seed)
        self.limit = _spin(0, 10_000_000, 0, "trainLimit", "use at most N training images; 0 = all")
        form.addRow("Image limit", self.limit)
        self.augment = QCheckBox("Augment (CIFAR recipe)")
        self.augment.setObjectName("trainAugment")
        form.addRow(self.augment)
        self.augment_parts = {}
        parts_row = QHBoxLayout()
        for key, label in (
            ("crop", "crop"),
            ("flip", "flip"),
            ("brightness", "brightness"),
            ("contrast", "contrast"),
        ):
            box = QCheckBox(label)
            box.setChecked(True)
            box.setObjectName(f"trainAugment_{key}")
            self.augment_parts[key] = box
            parts_row.addWidget(box)
        form.addRow(parts_row)
        column.addWidget(hyper)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("trainStartButton")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("trainStopButton")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("trainResumeButton")
        self.resume_button.setToolTip("continue the last run (or a run folder you choose)")
        for button in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(button)
        column.addLayout(buttons)
        self.resume_from_button = QPushButton("Resume from folder...")
        self.resume_from_button.setObjectName("trainResumeFromButton")
        self.resume_from_button.setToolTip("continue a run folder you choose")
        column.addWidget(self.resume_from_button)
        library_row = QHBoxLayout()
        self.save_button = QPushButton("Save to library...")
        self.save_button.setObjectName("trainSaveButton")
        self.library_button = QPushButton("Model library...")
        self.library_button.setObjectName("trainLibraryButton")
        self.library_button.setToolTip("rename, delete, export or import trained models")
        library_row.addWidget(self.save_button)
        library_row.addWidget(self.library_button)
        column.addLayout(library_row)
        self.run_label = QLabel("")
        self.run_label.setObjectName("trainRunLabel")
        self.run_label.setWordWrap(True)
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.run_label)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(controls)
        scroll.setMinimumWidth(300)

        right = QWidget()
        right_column = QVBoxLayout(right)
        right_column.setContentsMargins(4, 4, 4, 4)
        self.progress = JobProgress(stage_name="Epoch")
        self.progress.setObjectName("trainProgress")
        right_column.addWidget(self.progress)
        self.speed_label = QLabel("")
        self.speed_label.setObjectName("trainSpeedLabel")
        right_column.addWidget(self.speed_label)
        self.notice_label = QLabel("")
        self.notice_label.setObjectName("trainNotice")
        self.notice_label.setWordWrap(True)
        right_column.addWidget(self.notice_label)

        self.pages = QTabWidget()
        self.pages.setObjectName("trainPages")
        curves = QWidget()
        curves_column = QVBoxLayout(curves)
        self.loss_plot = LossPlot(x_label="epoch", y_label="loss")
        self.loss_plot.setObjectName("trainLossPlot")
        self.accuracy_plot = LossPlot(x_label="epoch", y_label="accuracy")
        self.accuracy_plot.setObjectName("trainAccuracyPlot")
        curves_column.addWidget(self.loss_plot)
        curves_column.addWidget(self.accuracy_plot)
        self.pages.addTab(curves, "Curves")

        self.summary_text = QPlainTextEdit()
        self.summary_text.setObjectName("trainSummary")
        self.summary_text.setReadOnly(True)
        self.summary_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = self.summary_text.font()
        font.setFamily("monospace")
        self.summary_text.setFont(font)
        model_page = QSplitter(Qt.Orientation.Vertical)
        model_page.setObjectName("trainModelPage")
        model_page.addWidget(self.summary_text)
        skipped_box = QWidget()
        skipped_column = QVBoxLayout(skipped_box)
        skipped_column.setContentsMargins(0, 0, 0, 0)
        self.skipped_label = QLabel("Unreadable files skipped: none")
        self.skipped_label.setObjectName("trainSkippedLabel")
        skipped_column.addWidget(self.skipped_label)
        self.skipped_list = QListWidget()
        self.skipped_list.setObjectName("trainSkipped")
        self.skipped_list.setToolTip("image files of the dataset folder that could not be read")
        skipped_column.addWidget(self.skipped_list)
        model_page.addWidget(skipped_box)
        model_page.setStretchFactor(0, 3)
        model_page.setStretchFactor(1, 1)
        self.pages.addTab(model_page, "Model")

        results = QWidget()
        results_column = QVBoxLayout(results)
        self.result_label = QLabel("Results appear when a run ends.")
        self.result_label.setObjectName("trainResultLabel")
        results_column.addWidget(self.result_label)
        self.samples = self._thumb_list("trainSamples")
        results_column.addWidget(QLabel("Sample predictions (actual -> predicted)"))
        results_column.addWidget(self.samples)
        self.confusion = QTableWidget()
        self.confusion.setObjectName("trainConfusion")
        self.confusion.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        results_column.addWidget(QLabel("Confusion matrix (rows: actual, columns: predicted)"))
        results_column.addWidget(self.confusion, 1)
        self.pages.addTab(results, "Results")

        self.misclassified = self._thumb_list("trainMisclassified")
        self.pages.addTab(self.misclassified, "Misclassified")
        right_column.addWidget(self.pages, 1)

        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    @staticmethod
    def _thumb_list(name: str) -> QListWidget:
        widget = QListWidget()
        widget.setObjectName(name)
        widget.setViewMode(QListWidget.ViewMode.IconMode)
        widget.setIconSize(QSize(_THUMB, _THUMB))
        widget.setResizeMode(QListWidget.ResizeMode.Adjust)
        widget.setWrapping(True)
        widget.setMinimumHeight(_THUMB + 40)
        return widget

    def _connect(self) -> None:
        self.recipe_combo.currentIndexChanged.connect(self._recipe_changed)
        self.augment.toggled.connect(self._update_augment_parts)
        self.start_button.clicked.connect(self.start_training)
        self.stop_button.clicked.connect(self.stop_training)
        self.resume_button.clicked.connect(self.resume_training)
        self.resume_from_button.clicked.connect(self.resume_from_folder)
        self.library_button.clicked.connect(self.open_library)
        self.save_button.clicked.connect(self.save_to_library)
        self.dataset_edit.dropped.connect(lambda path: self.status.emit(f"Dataset: {path}"))
        self.runner.progress.connect(self._on_event)
        self.runner.notice.connect(self._on_notice)
        self.runner.finished.connect(self._on_finished)
        self.runner.stopped.connect(self._on_stopped)
        self.runner.failed.connect(self._on_failed)
        self.runner.done.connect(self._update_buttons)
        self.import_runner.finished.connect(self._on_imported)
        self.import_runner.failed.connect(self.show_error)
        self.import_runner.done.connect(self._update_buttons)

    # ------------------------------------------------------------------ parameters

    def recipe(self) -> str:
        return str(self.recipe_combo.currentData())

    def set_recipe(self, name: str) -> None:
        index = self.recipe_combo.findData(name)
        if index >= 0:
            self.recipe_combo.setCurrentIndex(index)

    def _recipe_changed(self) -> None:
        """Load the recipe's defaults (the reference settings) into the controls."""
        spec = get_recipe(self.recipe())
        builtin = ("", "mnist", "cifar10")
        if self.dataset_edit.text().strip() in builtin:
            self.dataset_edit.setText(spec.default_dataset)
        self.epochs.setValue(spec.epochs)
        self.batch_size.setValue(spec.batch_size)
        self.learning_rate.setValue(spec.learning_rate)
        self.image_size.setValue(spec.image_size)
        self.augment.setChecked(spec.augment)
        transfer = spec.name == "transfer"
        for widget in (self.backbone_combo, self.weights_picker, self.fine_tune):
            widget.setEnabled(transfer)
        self._update_augment_parts()

    def _update_augment_parts(self) -> None:
        for box in self.augment_parts.values():
            box.setEnabled(self.augment.isChecked())

    def config(self) -> trainer.TrainConfig:
        """The run's settings from the controls."""
        return trainer.TrainConfig(
            recipe=self.recipe(),
            data=self.dataset_edit.text().strip(),
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            learning_rate=self.learning_rate.value(),
            schedule=str(self.schedule.currentData()),
            early_stopping=self.early_stopping.value(),
            image_size=self.image_size.value(),
            val_split=self.val_split.value(),
            augment=self.augment.isChecked(),
            augment_crop=self.augment_parts["crop"].isChecked(),
            augment_flip=self.augment_parts["flip"].isChecked(),
            augment_brightness=0.1 if self.augment_parts["brightness"].isChecked() else 0.0,
            augment_contrast=self.augment_parts["contrast"].isChecked(),
            backbone=str(self.backbone_combo.currentData()),
            weights=self.weights_picker.value(),
            fine_tune=self.fine_tune.value(),
            seed=self.seed.value(),
            limit=self.limit.value(),
        )

    def set_config(self, config: trainer.TrainConfig) -> None:
        """Show a run's settings in the controls (restored settings)."""
        self.set_recipe(config.recipe)
        self.dataset_edit.setText(config.data)
        for box, value in (
            (self.epochs, config.epochs),
            (self.batch_size, config.batch_size),
            (self.early_stopping, config.early_stopping),
            (self.image_size, config.image_size),
            (self.seed, config.seed),
            (self.limit, config.limit),
            (self.fine_tune, config.fine_tune),
        ):
            if value:
                box.setValue(int(value))
        if config.learning_rate:
            self.learning_rate.setValue(config.learning_rate)
        self.val_split.setValue(config.val_split)
        self.schedule.setCurrentIndex(max(self.schedule.findData(config.schedule), 0))
        if config.augment is not None:
            self.augment.setChecked(bool(config.augment))
        self.augment_parts["crop"].setChecked(config.augment_crop)
        self.augment_parts["flip"].setChecked(config.augment_flip)
        self.augment_parts["brightness"].setChecked(config.augment_brightness > 0)
        self.augment_parts["contrast"].setChecked(config.augment_contrast)
        index = self.backbone_combo.findData(config.backbone)
        if index >= 0:
            self.backbone_combo.setCurrentIndex(index)
        self.weights_picker.set_value(config.weights)

    # ------------------------------------------------------------------ dialogs (tests replace)

    def ask_npz_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a dataset (.npz)", last_folder(), "NumPy arrays (*.npz)"
        )
        return path or None

    def ask_folder(
        self, title: str = "Choose an image folder (one subfolder per class)"
    ) -> str | None:
        return QFileDialog.getExistingDirectory(self, title, last_folder()) or None

    def ask_dataset_file(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import dataset file",
            last_folder(),
            "Keras dataset files (mnist.npz cifar-10-python.tar.gz *.npz *.tar.gz);;All files (*)",
        )
        return path or None

    def ask_model_name(self, suggested: str) -> str | None:
        name, ok = QInputDialog.getText(self, "Save to library", "Model name:", text=suggested)
        return name.strip() if ok and name.strip() else None

    def show_error(self, message: str, details: str = "") -> QMessageBox:
        return dialogs.show_error(self, message, details, "Train")

    def _choose_npz(self) -> None:
        path = self.ask_npz_path()
        if path:
            remember_folder(path)
            self.dataset_edit.setText(path)

    def _choose_folder(self) -> None:
        path = self.ask_folder()
        if path:
            remember_folder(path)
            self.dataset_edit.setText(path)

    def _import_dataset(self) -> None:
        if self.import_runner.running:
            return
        path = self.ask_dataset_file()
        if not path:
            return
        remember_folder(path)
        from cnnstudio.core.training.datasets import import_dataset_file

        self.status.emit(f"Importing {Path(path).name}...")
        self.import_runner.run_function(import_dataset_file, path)
        self._update_buttons()

    def _on_imported(self, result: object) -> None:
        name, path = result
        self.dataset_edit.setText(name)
        self.status.emit(f"Installed the {name} dataset as {path}")
        dialogs.show_info(self, f"Installed the {name} dataset as {path}", "Train")

    # ------------------------------------------------------------------ the job

    def start_training(self) -> None:
        """Start a new run with the current settings."""
        if self.runner.running:
            return
        config = self.config()
        if not config.data:
            self.show_error("Choose a dataset: mnist, cifar10, a .npz file or an image folder")
            return
        self._begin(f"Starting {get_recipe(config.recipe).label} on {config.data}...")
        self.runner.run_callbacks(trainer.train, config)
        self._update_buttons()

    def resume_training(self) -> None:
        """Continue the last run (or, when there is none, a run folder the user picks)
        up to the Epochs box."""
        if self.runner.running:
            return
        run_dir = self._last_run_dir or self.ask_folder("Choose a training run folder")
        if run_dir:
            self._resume(run_dir)

    def resume_from_folder(self) -> None:
        """Continue a run folder the user picks, whatever the last run was."""
        if self.runner.running:
            return
        run_dir = self.ask_folder("Choose a training run folder")
        if run_dir:
            remember_folder(run_dir)
            self._resume(run_dir)

    def _resume(self, run_dir: str) -> None:
        try:
            config = trainer.load_run_config(run_dir)  # a readable run folder?
        except Exception as error:  # noqa: BLE001 - shown to the user
            self.show_error(str(error))
            return
        epochs = self.epochs.value()
        self.set_config(config)  # the controls show what runs (its data, recipe, ...)
        self.epochs.setValue(epochs)
        self._last_run_dir = run_dir
        self._begin(f"Resuming {Path(run_dir).name} (up to {epochs} epochs)...")
        self.run_label.setText(f"Run folder: {run_dir}")
        self._plot_history(run_dir)
        self.runner.run_callbacks(trainer.resume, run_dir, epochs=epochs)
        self._update_buttons()

    def _plot_history(self, run_dir: str) -> None:
        """Draw the epochs a resumed run has finished already (its history.csv)."""
        history = read_history(run_dir, trainer.completed_epochs(run_dir))
        for column, series in _HISTORY_SERIES:
            plot = self.loss_plot if "loss" in column else self.accuracy_plot
            for epoch, value in zip(history.get("epoch", []), history.get(column, []), strict=True):
                if not math.isnan(value):
                    plot.add_point(series, epoch, value)

    def _begin(self, text: str) -> None:
        self._result = None
        self._saved_entry_name = ""
        self.loss_plot.clear()
        self.accuracy_plot.clear()
        self.notice_label.setText("")
        self.speed_label.setText("")
        self._skipped = []
        self.skipped_list.clear()
        self.skipped_label.setText("Unreadable files skipped: none")
        self.progress.start(text)
        self.status.emit(text)

    def stop_training(self) -> None:
        if self.runner.running:
            self.runner.stop()
            self.progress.setFormat(self.progress.format() + " - stopping...")

    def _on_event(self, event: object) -> None:
        if isinstance(event, trainer.BatchEnd):
            self._on_batch(event)
        elif isinstance(event, DownloadProgress):  # transfer: ImageNet weights come first
            self.progress.show_download(event)
            self.status.emit(f"Train: {event.text}")
        elif isinstance(event, trainer.EpochEnd):
            self._on_epoch(event)
        elif isinstance(event, trainer.RunStarted):
            self._on_run_started(event)
        elif isinstance(event, trainer.TrainingDone):
            self.show_results(event)

    def _on_run_started(self, event: trainer.RunStarted) -> None:
        self._last_run_dir = event.run_dir
        self._steps = max(event.steps_per_epoch, 1)
        self.summary_text.setPlainText(f"{event.dataset_summary}\n\n{event.summary}")
        self.run_label.setText(f"Run folder: {event.run_dir}")
        resumed = f", resuming after epoch {event.initial_epoch}" if event.initial_epoch else ""
        self.status.emit(
            f"Training {event.trainable_params:,} parameters on {event.train_images} images"
            f"{resumed}"
        )

    def _on_batch(self, event: trainer.BatchEnd) -> None:
        x = event.epoch - 1 + event.batch / max(event.steps, 1)
        self.loss_plot.add_point("loss (batch)", x, event.loss)
        self.accuracy_plot.add_point("accuracy (batch)", x, event.accuracy)
        self.progress.update_progress(
            Progress(
                step=event.global_step,
                total=event.total_steps,
                loss=event.loss,
                stage=event.epoch,
                stages=event.epochs,
            )
        )
        eta = "" if math.isnan(event.eta_seconds) else f", ETA {format_duration(event.eta_seconds)}"
        self.speed_label.setText(
            f"Epoch {event.epoch}/{event.epochs}, batch {event.batch}/{event.steps}: "
            f"{event.images_per_second:.0f} images/s{eta}"
        )

    def _on_epoch(self, event: trainer.EpochEnd) -> None:
        self.loss_plot.add_point("loss", event.epoch, event.loss)
        self.accuracy_plot.add_point("accuracy", event.epoch, event.accuracy)
        if event.val_loss is not None:
            self.loss_plot.add_point("val_loss", event.epoch, event.val_loss)
        if event.val_accuracy is not None:
            self.accuracy_plot.add_point("val_accuracy", event.epoch, event.val_accuracy)
        self.status.emit(trainer.format_epoch(event))

    def _on_notice(self, text: str) -> None:
        if text.startswith(SKIPPED_PREFIX):
            # every skipped file is kept in a list (Model page), not only the last one
            self._skipped.append(text[len(SKIPPED_PREFIX) :])
            self.skipped_list.addItem(self._skipped[-1])
            count = len(self._skipped)
            self.skipped_label.setText(f"Unreadable files skipped: {count}")
            text = f"{count} unreadable file(s) skipped: listed on the Model page"
        self.notice_label.setText(text)
        self.status.emit(f"Train: {text}")

    def skipped_files(self) -> list[str]:
        """The unreadable files of this run ("path: reason"), in the order they came."""
        return list(self._skipped)

    def _on_finished(self, result: object) -> None:
        self._result = result if isinstance(result, trainer.TrainResult) else None
        self.progress.finish("Done")

    def _on_stopped(self) -> None:
        # train() returns its evaluated model when stopped too: keep it, it can be saved
        result = self.runner.result
        self._result = result if isinstance(result, trainer.TrainResult) else None
        self.progress.finish("Stopped")
        self.status.emit("Training stopped; Resume continues from the last finished epoch")

    def _on_failed(self, message: str) -> None:
        self.progress.finish("Failed")
        self.status.emit(message)
        if isinstance(self.runner.error, ResourceMissingError):
            self.show_missing(message)
        else:
            self.show_error(message, self.runner.error_details)

    def show_missing(self, message: str) -> QMessageBox:
        """A dataset file or pretrained weights are not on this machine: say so, with a
        button for each way out that fits what is missing now."""
        config = self.config()
        if config.data in BUILTIN_DATASETS and find_dataset_file(config.data) is None:
            return dialogs.show_missing_resource(
                self,
                message,
                [("Import dataset file...", self._import_dataset)],
                "Dataset missing",
            )
        if self.transfer_weights_missing():
            return dialogs.show_missing_weights(
                self, message, lambda: self.weights_picker.set_value("random")
            )
        return self.show_error(message, self.runner.error_details)

    def show_results(self, done: trainer.TrainingDone) -> None:
        """Test accuracy, confusion matrix with per-class accuracy, samples, mistakes."""
        split = "validation" if done.test_is_validation else "test"
        stopped = " (stopped early)" if done.stopped else ""
        self.result_label.setText(
            f"{split.capitalize()} accuracy {done.test_accuracy:.2%}, loss {done.test_loss:.4f} "
            f"after {done.epochs_completed} epoch(s){stopped}"
        )
        self._fill_thumbs(self.samples, done.samples)
        self._fill_thumbs(self.misclassified, done.misclassified)
        self._fill_confusion(done)
        self.pages.setTabText(3, f"Misclassified ({len(done.misclassified)})")

    @staticmethod
    def _fill_thumbs(widget: QListWidget, samples) -> None:
        widget.clear()
        for sample in samples:
            text = f"{sample.actual} -> {sample.predicted}\n{sample.confidence:.0%}"
            item = QListWidgetItem(_thumbnail(sample.image), text)
            if sample.actual != sample.predicted:
                item.setForeground(QBrush(QColor("#c62828")))
            widget.addItem(item)

    def _fill_confusion(self, done: trainer.TrainingDone) -> None:
        names = list(done.class_names)
        matrix = done.confusion
        table = self.confusion
        table.clear()
        table.setRowCount(len(names))
        table.setColumnCount(len(names) + 1)
        table.setHorizontalHeaderLabels([*names, "accuracy"])
        table.setVerticalHeaderLabels(names)
        totals = matrix.sum(axis=1)
        for row in range(len(names)):
            for column in range(len(names)):
                count = int(matrix[row, column])
                item = QTableWidgetItem(str(count))
                share = count / totals[row] if totals[row] else 0.0
                # heat map: the share of the row's images, blue for hits, red for confusions
                base = (33, 150, 243) if row == column else (229, 57, 53)
                alpha = int(round(200 * share))
                item.setBackground(QBrush(QColor(*base, alpha)))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                table.setItem(row, column, item)
            accuracy = done.per_class_accuracy[row]
            text = "-" if math.isnan(accuracy) else f"{accuracy:.1%}"
            item = QTableWidgetItem(text)
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            table.setItem(row, len(names), item)
        table.resizeColumnsToContents()

    def transfer_weights_missing(self) -> bool:
        """True when the transfer recipe would need ImageNet weights that are not here."""
        config = self.config()
        return (
            config.recipe == "transfer"
            and config.weights == "imagenet"
            and find_imagenet_weights(config.backbone) is None
        )

    def result(self) -> trainer.TrainResult | None:
        """The last run's model and sidecar (also after Stop)."""
        return self._result

    def save_to_library(self) -> None:
        """Save the last trained model into the model library under a name the user gives."""
        if self._result is None or self.runner.running:
            return
        meta = self._result.meta
        suggested = f"{meta.get('recipe', 'model')}-{Path(str(meta.get('dataset', 'data'))).stem}"
        name = self.ask_model_name(suggested)
        if not name:
            return
        from cnnstudio.core import library

        try:
            entry = library.save_to_library(self._result.model, name, meta)
        except Exception as error:  # noqa: BLE001 - a full disk, a read-only folder...
            self.show_error(f"Could not save the model to the library: {error}")
            return
        self._saved_entry_name = entry.name
        self.status.emit(f"Saved '{entry.name}' to the model library ({entry.path})")
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.runner.running
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.resume_button.setEnabled(not running)
        self.resume_from_button.setEnabled(not running)
        self.save_button.setEnabled(not running and self._result is not None)
        self.recipe_combo.setEnabled(not running)
        self.dataset_edit.setEnabled(not running)
        self.dataset_menu_button.setEnabled(not running and not self.import_runner.running)

    def is_busy(self) -> bool:
        return self.runner.running or self.import_runner.running

    # ------------------------------------------------------------------ window integration

    def run_job(self) -> None:
        """F5 / Ctrl+R: Start."""
        self.start_training()

    def stop_job(self) -> None:
        """Esc: Stop."""
        self.stop_training()

    def has_result(self) -> bool:
        return self._result is not None and not self.runner.running

    def save_result(self) -> None:
        """File > Save result: Save to library."""
        self.save_to_library()

    def open_image(self, path: str) -> None:
        """File > Open on this tab: a folder or ``.npz`` becomes the dataset."""
        self.set_dataset(path)

    def set_dataset(self, path: str) -> bool:
        """Use a dropped or opened folder / ``.npz`` file as the dataset."""
        candidate = Path(path)
        if self.runner.running:
            self.status.emit("Training is running: stop it before changing the dataset")
            return False
        if not (candidate.is_dir() or candidate.suffix.lower() == ".npz"):
            self.status.emit(
                f"{candidate.name}: Train takes a folder with one subfolder per class or "
                "a .npz file, not a single image"
            )
            return False
        self.dataset_edit.setText(str(candidate))
        self.status.emit(f"Dataset: {candidate}")
        return True

    def dragEnterEvent(self, event) -> None:
        if not self.runner.running and DatasetField._usable(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        path = DatasetField._usable(event)
        if path is None or not self.set_dataset(path):
            event.ignore()
            return
        event.acceptProposedAction()

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
        settings.setValue("config", json.dumps(self.config().to_dict()))
        settings.setValue("last_run_dir", self._last_run_dir)

    def restore_settings(self, settings: QSettings) -> None:
        text = read_str(settings, "config", "")
        if text:
            try:
                self.set_config(trainer.TrainConfig.from_dict(json.loads(text)))
            except (ValueError, TypeError) as error:
                log.warning("train settings not restored: %s", error)
        run_dir = read_str(settings, "last_run_dir", "")
        if run_dir and Path(run_dir, "config.json").exists():
            self._last_run_dir = run_dir
            self.run_label.setText(f"Last run folder: {run_dir}")

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.import_runner.shutdown()
        for dialog in self.findChildren(LibraryDialog):  # one opened outside a window
            dialog.shutdown()
