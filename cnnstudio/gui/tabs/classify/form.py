"""The Classify tab's form: which model classifies (an ImageNet backbone, a model of the
library or a .keras file), with which weights, and how many labels each picture gets."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QFormLayout, QSpinBox, QWidget

from cnnstudio.core.backbones import BACKBONE_NAMES
from cnnstudio.core.classify import params as classify
from cnnstudio.gui.settings import last_folder, read_str, remember_folder, restore_spin_box
from cnnstudio.gui.widgets.weights_picker import WeightsPicker

OPEN_FILE = "<open .keras file>"
_NARROW = QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon


class ClassifyForm(QWidget):
    """Model, weights (for a backbone) and top-k."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_combo = QComboBox(objectName="classifyModel")
        self.model_combo.setToolTip(
            "The network that classifies: an ImageNet network (1000 classes), a model of "
            "your library or a .keras file"
        )
        self.weights = WeightsPicker()
        self.weights.setObjectName("classifyWeights")
        self.top_k = QSpinBox(objectName="classifyTopK", minimum=1, maximum=20, value=5)
        self.top_k.setToolTip("How many labels each picture gets, best first")
        for combo in (self.model_combo, self.weights):
            # narrow, so the table keeps its room at 1024 px; the lists show whole names
            combo.setSizeAdjustPolicy(_NARROW)
            combo.setMinimumContentsLength(16)
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addRow("Model", self.model_combo)
        layout.addRow("Weights", self.weights)
        layout.addRow("Top-k", self.top_k)
        self.model_combo.activated.connect(self._on_model_activated)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)

    def refresh_models(self) -> None:
        """List the ImageNet backbones, the library's models and 'Open .keras file...',
        keeping the current choice when it is still there."""
        current = self.model_spec()
        combo = self.model_combo
        combo.blockSignals(True)
        combo.clear()
        for spec, text in classify.model_choices():
            if spec in BACKBONE_NAMES:
                combo.addItem(text, spec)
            else:
                combo.addItem(f"Library: {text}", spec)
                combo.setItemData(combo.count() - 1, spec, Qt.ItemDataRole.ToolTipRole)
        combo.addItem("Open .keras file...", OPEN_FILE)
        combo.blockSignals(False)
        if current and current != OPEN_FILE:
            self.set_model_spec(current)
        else:  # the light one first: it answers quickly on any machine
            combo.setCurrentIndex(max(combo.findData("mobilenet_v2"), 0))
        self._on_model_changed()

    def model_spec(self) -> str:
        """A backbone name or the path of a .keras file."""
        data = self.model_combo.currentData()
        return str(data) if data else ""

    def has_model(self) -> bool:
        return self.model_spec() not in ("", OPEN_FILE)

    def set_model_spec(self, spec: str) -> None:
        """Select ``spec`` (a backbone name or a .keras path; a new path is added)."""
        combo = self.model_combo
        index = combo.findData(spec)
        if index < 0 and spec and Path(spec).suffix.lower() == ".keras" and Path(spec).exists():
            index = combo.count() - 1  # above "Open .keras file..."
            combo.insertItem(index, f"File: {Path(spec).name}", spec)
            combo.setItemData(index, spec, Qt.ItemDataRole.ToolTipRole)
        if index >= 0:
            combo.setCurrentIndex(index)

    def model_key(self) -> tuple[str, str]:
        """(model, weights): weights only for a backbone (a .keras file has its own)."""
        spec = self.model_spec()
        return (spec, self.weights.value() if spec in BACKBONE_NAMES else "")

    def ask_model_file(self) -> str | None:
        """The .keras file to classify with (replaced in tests)."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a Keras model", last_folder(), "Keras models (*.keras);;All files (*)"
        )
        if path:
            remember_folder(path)
        return path or None

    def _on_model_activated(self, index: int) -> None:
        if self.model_combo.itemData(index) != OPEN_FILE:
            return
        path = self.ask_model_file()
        if path:
            self.set_model_spec(path)
        else:
            self.model_combo.setCurrentIndex(0)

    def model_name(self) -> str:
        """The chosen model as the window names it (a library model's name, a file's
        name, a backbone's label)."""
        text = self.model_combo.currentText()
        for prefix in ("Library: ", "File: "):
            if text.startswith(prefix):
                return text[len(prefix) :]
        return text

    def _on_model_changed(self, *_args) -> None:
        spec = self.model_spec()
        own_weights = spec not in BACKBONE_NAMES and spec != OPEN_FILE and bool(spec)
        # a trained model brings its weights: its name stands where the choice would be
        self.weights.set_model_label(self.model_name() if own_weights else None)

    def save_settings(self, settings: QSettings) -> None:
        spec = self.model_spec()
        settings.setValue("model", spec if spec != OPEN_FILE else "")
        settings.setValue("weights", self.weights.value())
        settings.setValue("top_k", int(self.top_k.value()))

    def restore_settings(self, settings: QSettings) -> None:
        spec = read_str(settings, "model", "")
        if spec:
            self.set_model_spec(spec)
        self.weights.set_value(read_str(settings, "weights", "imagenet"))
        restore_spin_box(settings, "top_k", self.top_k)
