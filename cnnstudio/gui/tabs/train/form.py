"""The Train tab's form: its controls <-> :class:`cnnstudio.core.training.train_params.TrainConfig`.

Two groups: the recipe and its data (the dataset field takes a name, a dropped folder or
``.npz`` file, or one chosen from its menu), and the training settings. Choosing a recipe
loads its reference settings; :meth:`TrainForm.config` reads a TrainConfig and
:meth:`TrainForm.set_config` shows one (restored settings, a resumed run's own).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.backbones import BACKBONE_NAMES, get_backbone
from cnnstudio.core.training import params as train_params
from cnnstudio.core.training.params import RECIPES, get_recipe
from cnnstudio.gui.settings import last_folder, read_params, remember_folder
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.dataset_field import DatasetField
from cnnstudio.gui.widgets.spin_boxes import double_spin_box, spin_box
from cnnstudio.gui.widgets.weights_picker import WeightsPicker
from cnnstudio.gui.workers import JobRunner

log = logging.getLogger(__name__)

#: the augmentation parts of the CIFAR recipe that can be switched off one by one
_AUGMENT_PARTS = ("crop", "flip", "brightness", "contrast")
#: dataset names that follow the recipe (a file or folder of the user's stays)
_BUILTIN = ("", "mnist", "cifar10")
_AUGMENT_TIPS = {
    "crop": "Pad by 4 pixels and crop back at a random place",
    "flip": "Flip left-right at random",
    "brightness": "Change the brightness at random (up to 10%)",
    "contrast": "Change the contrast at random (x0.5 to x0.8)",
}


class TrainForm(QWidget):
    """Recipe, dataset, base network and the training settings of a run."""

    #: a line for the status bar (a dataset dropped, imported)
    status = Signal(str)
    #: a dataset file could not be imported: (message, details)
    import_failed = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.import_runner = JobRunner("Dataset import", self)
        self._training = False
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self._build_recipe_group())
        column.addWidget(self._build_training_group())
        self.recipe_combo.currentIndexChanged.connect(self._recipe_changed)
        self.augment.toggled.connect(self._update_augment_parts)
        self.dataset_edit.dropped.connect(lambda path: self.status.emit(f"Dataset: {path}"))
        self.import_runner.started.connect(self._update_dataset_menu)
        self.import_runner.done.connect(self._update_dataset_menu)
        self.import_runner.finished.connect(self._on_imported)
        self.import_runner.failed.connect(self._on_import_failed)
        self._recipe_changed()

    # ------------------------------------------------------------------ the groups

    def _build_recipe_group(self) -> QGroupBox:
        """The recipe, the dataset and, for transfer learning, the base network."""
        box = QGroupBox("Recipe and data")
        self.recipe_group = box
        form = QFormLayout(box)
        self.recipe_combo = QComboBox()
        self.recipe_combo.setObjectName("trainRecipe")
        self.recipe_combo.setToolTip(
            "What to train: LeNet-5 (MNIST), a VGG-style CNN (CIFAR-10) or a new head on a "
            "pretrained network (transfer learning); choosing one loads its settings"
        )
        for spec in RECIPES.values():
            self.recipe_combo.addItem(spec.label, spec.name)
            self.recipe_combo.setItemData(
                self.recipe_combo.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole
            )
        form.addRow("Recipe", self.recipe_combo)
        form.addRow("Dataset", self._build_dataset_row())
        self.backbone_combo = QComboBox()
        self.backbone_combo.setObjectName("trainBackbone")
        self.backbone_combo.setToolTip("The pretrained network under the new head (transfer)")
        for name in BACKBONE_NAMES:
            self.backbone_combo.addItem(get_backbone(name).label, name)
        form.addRow("Base network", self.backbone_combo)
        self.weights_picker = WeightsPicker()
        self.weights_picker.setObjectName("trainWeights")
        form.addRow("Base weights", self.weights_picker)
        self.fine_tune = spin_box(
            0, 500, 0, "trainFineTune", "Train the top N layers of the base too (0: all frozen)"
        )
        form.addRow("Fine-tune layers", self.fine_tune)
        return box

    def _build_dataset_row(self) -> QHBoxLayout:
        """The dataset field and its "..." menu (MNIST, CIFAR-10, a file, a folder, import)."""
        self.dataset_edit = DatasetField()
        self.dataset_edit.setObjectName("trainDataset")
        self.dataset_menu_button = QToolButton()
        self.dataset_menu_button.setText("...")
        self.dataset_menu_button.setObjectName("trainDatasetMenu")
        self.dataset_menu_button.setToolTip(
            "MNIST, CIFAR-10, a .npz file, a folder of class folders, or import a dataset file"
        )
        self.dataset_menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.dataset_menu_button)
        menu.addAction("MNIST", lambda: self.dataset_edit.setText("mnist"))
        menu.addAction("CIFAR-10", lambda: self.dataset_edit.setText("cifar10"))
        menu.addAction("Choose .npz file...", self._choose_npz)
        menu.addAction("Choose image folder...", self._choose_folder)
        menu.addSeparator()
        self.import_action = menu.addAction("Import dataset file...", self.import_dataset)
        self.dataset_menu_button.setMenu(menu)
        row = QHBoxLayout()
        row.addWidget(self.dataset_edit, 1)
        row.addWidget(self.dataset_menu_button)
        return row

    def _build_training_group(self) -> QGroupBox:
        """Epochs, batch, learning rate and schedule, early stop, size, validation,
        seed, image limit and augmentation."""
        box = QGroupBox("Training")
        self.training_group = box
        form = QFormLayout(box)
        self.epochs = spin_box(
            1, 10_000, 5, "trainEpochs", "Passes over the training images (Resume goes up to it)"
        )
        form.addRow("Epochs", self.epochs)
        self.batch_size = spin_box(1, 8192, 100, "trainBatchSize", "Images per training step")
        form.addRow("Batch size", self.batch_size)
        self.learning_rate = double_spin_box(
            1e-6, 10.0, 1e-3, 1e-4, 6, "trainLearningRate", "The Adam optimiser's step size"
        )
        form.addRow("Learning rate", self.learning_rate)
        self.schedule = QComboBox()
        self.schedule.setObjectName("trainSchedule")
        self.schedule.setToolTip(
            "How the learning rate changes: constant, exponential (x0.9 each epoch) or cosine"
        )
        for name in train_params.SCHEDULES:
            self.schedule.addItem(name, name)
        form.addRow("Schedule", self.schedule)
        self.early_stopping = spin_box(
            0, 1000, 0, "trainEarlyStopping",
            "Stop when the validation loss has not improved for this many epochs (0: off)",
        )  # fmt: skip
        form.addRow("Early stopping", self.early_stopping)
        self.image_size = spin_box(
            8, 1024, 28, "trainImageSize", "The network's square input size, pixels"
        )
        form.addRow("Image size", self.image_size)
        self.val_split = double_spin_box(
            0.0, 0.9, 0.1, 0.05, 2, "trainValSplit",
            "Share of the training images held out to validate; 0 validates on the test set",
        )  # fmt: skip
        form.addRow("Validation split", self.val_split)
        self.seed = spin_box(
            0, 2**31 - 1, 0, "trainSeed", "The same seed gives the same split and start"
        )
        form.addRow("Seed", self.seed)
        self.limit = spin_box(
            0,
            10_000_000,
            0,
            "trainLimit",
            "Use at most N training images, for a quick try (0: all)",
        )
        form.addRow("Image limit", self.limit)
        self.augment = QCheckBox("Augment (CIFAR recipe)")
        self.augment.setObjectName("trainAugment")
        self.augment.setToolTip("Vary the training images each epoch, as the CIFAR recipe does")
        form.addRow(self.augment)
        self.augment_parts: dict[str, QCheckBox] = {}
        parts_row = QHBoxLayout()
        for key in _AUGMENT_PARTS:
            part = QCheckBox(key.capitalize())
            part.setChecked(True)
            part.setObjectName(f"trainAugment_{key}")
            part.setToolTip(_AUGMENT_TIPS[key])
            self.augment_parts[key] = part
            parts_row.addWidget(part)
        form.addRow(parts_row)
        return box

    # ------------------------------------------------------------------ config <-> controls

    def recipe(self) -> str:
        return str(self.recipe_combo.currentData())

    def set_recipe(self, name: str) -> None:
        index = self.recipe_combo.findData(name)
        if index >= 0:
            self.recipe_combo.setCurrentIndex(index)

    def _recipe_changed(self) -> None:
        """Load the recipe's defaults (the reference settings) into the controls."""
        spec = get_recipe(self.recipe())
        if self.dataset_edit.text().strip() in _BUILTIN:
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
        for part in self.augment_parts.values():
            part.setEnabled(self.augment.isChecked())

    def config(self) -> train_params.TrainConfig:
        """The run's settings from the controls."""
        parts = self.augment_parts
        return train_params.TrainConfig(
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
            augment_crop=parts["crop"].isChecked(),
            augment_flip=parts["flip"].isChecked(),
            augment_brightness=0.1 if parts["brightness"].isChecked() else 0.0,
            augment_contrast=parts["contrast"].isChecked(),
            backbone=str(self.backbone_combo.currentData()),
            weights=self.weights_picker.value(),
            fine_tune=self.fine_tune.value(),
            seed=self.seed.value(),
            limit=self.limit.value(),
        )

    def set_config(self, config: train_params.TrainConfig) -> None:
        """Show a run's settings in the controls (restored settings, a resumed run), all
        or nothing: checked first (InputError, nothing changed), and a failure half-way
        puts the old ones back."""
        config.check_values()
        previous = self.config()
        try:
            self._show_config(config)
        except Exception:
            self._show_config(previous)
            raise

    def _show_config(self, config: train_params.TrainConfig) -> None:
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

    def set_busy(self, training: bool) -> None:
        """A run is going on: nothing it reads can change under it (the recipe, the data,
        the base network and its weights, every setting). The group boxes are disabled
        whole, so each control's own state (the base network only for transfer) comes
        back with them."""
        self._training = training
        self.recipe_group.setEnabled(not training)
        self.training_group.setEnabled(not training)
        self._update_dataset_menu()

    def _update_dataset_menu(self) -> None:
        self.dataset_menu_button.setEnabled(not self._training and not self.import_runner.running)

    # ------------------------------------------------------------------ dataset dialogs

    def ask_npz_path(self) -> str | None:
        """A .npz dataset chosen in a dialog (replaced in tests)."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a dataset (.npz)", last_folder(), "NumPy arrays (*.npz)"
        )
        return path or None

    def ask_image_folder(self) -> str | None:
        """A folder of class subfolders chosen in a dialog (replaced in tests)."""
        title = "Choose an image folder (one subfolder per class)"
        return QFileDialog.getExistingDirectory(self, title, last_folder()) or None

    def _choose_npz(self) -> None:
        path = self.ask_npz_path()
        if path:
            remember_folder(path)
            self.dataset_edit.setText(path)

    def _choose_folder(self) -> None:
        path = self.ask_image_folder()
        if path:
            remember_folder(path)
            self.dataset_edit.setText(path)

    def ask_dataset_file(self) -> str | None:
        """A Keras dataset file to install (replaced in tests)."""
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import dataset file",
            last_folder(),
            "Keras dataset files (mnist.npz cifar-10-python.tar.gz *.npz *.tar.gz);;All files (*)",
        )
        return path or None

    def import_dataset(self) -> None:
        """Install a copy of mnist.npz or CIFAR-10's archive where the recipes find it."""
        if self.import_runner.running:
            return
        path = self.ask_dataset_file()
        if not path:
            return
        remember_folder(path)
        from cnnstudio.core.training.data_files import import_dataset_file

        self.status.emit(f"Importing {Path(path).name}...")
        self.import_runner.run_function(import_dataset_file, path)

    def _on_import_failed(self, message: str) -> None:
        # the status line said "Importing ..." until now
        self.status.emit(f"Import failed: {message}")
        self.import_failed.emit(message, self.import_runner.error_details)

    def _on_imported(self, result: object) -> None:
        name, path = result
        self.dataset_edit.setText(name)
        self.status.emit(f"Installed the {name} dataset as {path}")
        dialogs.show_info(self, f"Installed the {name} dataset as {path}", "Train")

    # ------------------------------------------------------------------ settings

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("config", json.dumps(self.config().to_dict()))

    def restore_settings(self, settings: QSettings) -> None:
        # each value checked (a bad one is ignored with a notice), then set all at once
        config = read_params(settings, "config", _checked_config)
        if config is not None:
            self.set_config(config)


def _checked_config(data: dict) -> train_params.TrainConfig:
    config = train_params.TrainConfig.from_dict(data)
    config.check_values()
    return config
