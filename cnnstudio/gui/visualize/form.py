"""The feature visualisation view's form: its controls <-> :class:`VisualizeParams`.

The model box lists the ImageNet backbones and the library's classifiers (style networks
are not among them: ``classify.params.model_choices``) and takes any ``.keras`` file; the
layer list shows the chosen model's layers with their channel counts once a worker has
read them (:class:`~cnnstudio.gui.visualize.work.ModelLayers`), and the layer field takes
any layer path, nested ones (``outer/inner``) included.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.backbones import BACKBONE_NAMES, get_backbone
from cnnstudio.core.classify.params import model_choices
from cnnstudio.core.errors import StudioError
from cnnstudio.core.visualize import params as vparams
from cnnstudio.core.visualize.params import VisualizeParams
from cnnstudio.gui.settings import last_folder, read_params, remember_folder
from cnnstudio.gui.tabs.base import ChannelRef
from cnnstudio.gui.visualize import groups
from cnnstudio.gui.visualize.layers import LayerPicker
from cnnstudio.gui.widgets.spin_boxes import double_spin_box, spin_box
from cnnstudio.gui.widgets.weights_picker import WeightsPicker

log = logging.getLogger(__name__)

OPEN_FILE = "<open .keras file>"
_OBJECTIVES = (
    ("channel", "Channel (its whole map)"),
    ("neuron", "Neuron (the centre of the map)"),
    ("class", "Class (a class score)"),
)


class VisualizeForm(QWidget):
    """Model, weights, layer, what to optimise, the recipe and the examples folder."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(self._build_model_group())
        column.addWidget(self._build_objective_group())
        column.addWidget(groups.recipe_group(self))
        column.addWidget(groups.examples_group(self))
        column.addStretch(1)
        self.refresh_models()
        self.set_params(VisualizeParams(model="inception_v3"))
        self.model_combo.activated.connect(self._on_model_activated)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.weights.value_changed.connect(self._on_model_changed)
        self.layers.layers_read.connect(lambda layers: self.set_fixed_size(layers.fixed_size))
        self.layers.edit.textChanged.connect(self._update_controls)
        self.objective_combo.currentIndexChanged.connect(self._update_controls)
        self.per_channel_spin.valueChanged.connect(self._update_controls)

    # ------------------------------------------------------------------ the groups

    def _build_model_group(self) -> QGroupBox:
        box = QGroupBox("Model and layer")
        form = QFormLayout(box)
        self.model_combo = QComboBox(objectName="visualizeModel")
        self.model_combo.setToolTip(
            "The network to look into: an ImageNet network, a model of your library "
            "(transfer models too) or a .keras file"
        )
        self.weights = WeightsPicker()
        self.weights.setObjectName("visualizeWeights")
        self.layers = LayerPicker()
        self.layer_edit = self.layers.edit  # the layer path (any layer of the model)
        form.addRow("Model", self.model_combo)
        form.addRow("Weights", self.weights)
        form.addRow("Layer", self.layers)
        return box

    def _build_objective_group(self) -> QGroupBox:
        box = QGroupBox("What each image excites")
        form = QFormLayout(box)
        self.objective_combo = QComboBox(objectName="visualizeObjective")
        self.objective_combo.setToolTip(
            "Channel: the mean of the channel's map; neuron: the channel at the centre of "
            "the map; class: a class score before the softmax (channels are then classes)"
        )
        for value, text in _OBJECTIVES:
            self.objective_combo.addItem(text, value)
        self.channels_edit = QLineEdit(objectName="visualizeChannels")
        self.channels_edit.setPlaceholderText(f"the first {vparams.DEFAULT_CHANNEL_COUNT}")
        self.channels_edit.setToolTip(
            "Channel numbers, e.g. 0-15 or 3,7,10-12 (empty: the first "
            f"{vparams.DEFAULT_CHANNEL_COUNT}); class numbers for the class objective"
        )
        self.per_channel_spin = spin_box(
            1, vparams.MAX_IMAGES_PER_CHANNEL, 1, "visualizeImagesPerChannel",
            "Images per channel, one row each: with diversity, different faces of it",
        )  # fmt: skip
        self.diversity_spin = double_spin_box(
            0.0, vparams.MAX_DIVERSITY, 0.0, 10.0, 1, "visualizeDiversity",
            "Pushes a channel's images apart (Lucid's diversity term; it used 100); "
            "needs 2 or more images per channel",
        )  # fmt: skip
        form.addRow("Objective", self.objective_combo)
        form.addRow("Channels", self.channels_edit)
        form.addRow("Images per channel", self.per_channel_spin)
        form.addRow("Diversity", self.diversity_spin)
        return box

    # ------------------------------------------------------------------ the model

    def refresh_models(self) -> None:
        """List the backbones, the library's classifiers and "Open .keras file...",
        keeping the choice (a model that left the library: the first backbone)."""
        current = self.model_spec()
        combo = self.model_combo
        combo.blockSignals(True)
        combo.clear()
        try:
            choices = model_choices()
        except (OSError, StudioError) as error:
            log.warning("model library not listed: %s", error)
            choices = [(n, get_backbone(n).label) for n in BACKBONE_NAMES]
        for spec, text in choices:
            # a backbone by its name alone: its weights are chosen below
            shown = get_backbone(spec).label if spec in BACKBONE_NAMES else f"Library: {text}"
            combo.addItem(shown, spec)
            combo.setItemData(combo.count() - 1, spec, Qt.ItemDataRole.ToolTipRole)
        combo.addItem("Open .keras file...", OPEN_FILE)
        combo.blockSignals(False)
        if not self.set_model_spec(current):
            self._on_model_changed()

    def model_spec(self) -> str:
        """A backbone name or a .keras path ("" before the list is filled)."""
        data = self.model_combo.currentData()
        return str(data) if data and data != OPEN_FILE else ""

    def model_name(self) -> str:
        """The chosen model as the window names it (a library model's or file's name)."""
        spec = self.model_spec()
        return get_backbone(spec).label if spec in BACKBONE_NAMES else Path(spec).stem

    def set_model_spec(self, spec: str) -> bool:
        """Choose ``spec`` (a backbone or a .keras path; a file not listed is added).
        False when it is not there."""
        combo = self.model_combo
        index = combo.findData(spec)
        if index < 0 and spec.lower().endswith(".keras") and Path(spec).is_file():
            index = combo.count() - 1  # above "Open .keras file..."
            combo.insertItem(index, f"File: {Path(spec).name}", spec)
            combo.setItemData(index, spec, Qt.ItemDataRole.ToolTipRole)
        if index < 0:
            return False
        combo.setCurrentIndex(index)
        return True

    def ask_model_file(self) -> str | None:
        """The .keras file to look into (replaced in tests)."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a Keras model", last_folder(), "Keras models (*.keras);;All files (*)"
        )
        if path:
            remember_folder(path)
        return path or None

    def _on_model_activated(self, index: int) -> None:
        if self.model_combo.itemData(index) == OPEN_FILE:
            path = self.ask_model_file()
            if not (path and self.set_model_spec(path)):
                self.model_combo.setCurrentIndex(0)

    def _on_model_changed(self, *_args) -> None:
        spec = self.model_spec()
        if not spec:
            return  # "Open .keras file...": the dialog decides
        backbone = spec in BACKBONE_NAMES
        self.weights.set_model_label(None if backbone else self.model_name())
        self.layers.set_model(spec, self.weights.value(), self.model_name())
        self.set_fixed_size(None)

    def layer(self) -> str:
        return self.layers.layer()

    def _update_controls(self, *_args) -> None:
        objective = self.objective_combo.currentData()
        self.layer_edit.setEnabled(objective != "class")
        self.diversity_spin.setEnabled(self.per_channel_spin.value() > 1)

    def set_fixed_size(self, size: tuple[int, int] | None) -> None:
        """A model with a fixed input size makes tiles of that size: the size box says so."""
        self.size_spin.setEnabled(size is None)
        self.size_spin.setToolTip(
            f"This model takes {size[1]}x{size[0]} pictures: each image has that size"
            if size
            else "Side of each image in pixels (a model with a fixed input size uses its own)"
        )

    def choose_folder(self) -> None:
        folder = self.ask_folder()
        if folder:
            self.examples_edit.setText(folder)

    def ask_folder(self) -> str | None:
        """The examples folder (replaced in tests)."""
        folder = QFileDialog.getExistingDirectory(self, "Folder of pictures", last_folder())
        if folder:
            remember_folder(folder)
        return folder or None

    # ------------------------------------------------------------------ params

    def params(self) -> VisualizeParams:
        """The parameters the controls describe; InputError for channels it cannot read."""
        text = self.channels_edit.text().strip()
        folder = self.examples_edit.text().strip()
        objective = str(self.objective_combo.currentData())
        return VisualizeParams(
            model=self.model_spec(),
            weights=self.weights.value() if self.model_spec() in BACKBONE_NAMES else "imagenet",
            # the class objective's layer (the diversity term's) is the last convolution
            layer="" if objective == "class" else self.layer(),
            channels=vparams.parse_channels(text) if text else (),
            objective=objective,
            size=int(self.size_spin.value()),
            steps=int(self.steps_spin.value()),
            learning_rate=float(self.rate_spin.value()),
            jitter=int(self.jitter_spin.value()),
            scale=float(self.scale_spin.value()),
            rotation=float(self.rotation_spin.value()),
            decorrelate=self.decorrelate_check.isChecked(),
            fourier=self.fourier_check.isChecked(),
            diversity=float(self.diversity_spin.value()),
            images_per_channel=int(self.per_channel_spin.value()),
            seed=int(self.seed_spin.value()),
            examples_folder=folder or None,
            top=int(self.top_spin.value()),
        )

    def set_params(self, params: VisualizeParams) -> None:
        """Show ``params`` (the model too, when it is listed)."""
        if params.model:
            self.set_model_spec(params.model)
        if params.model in BACKBONE_NAMES:
            self.weights.set_value(params.weights)
        if params.layer:
            self.layer_edit.setText(params.layer)
        self.channels_edit.setText(vparams.format_channels(params.channels))
        self.objective_combo.setCurrentIndex(
            max(self.objective_combo.findData(params.objective), 0)
        )
        self.size_spin.setValue(params.size)
        self.steps_spin.setValue(params.steps)
        self.seed_spin.setValue(params.seed)
        self.rate_spin.setValue(params.learning_rate)
        self.jitter_spin.setValue(params.jitter)
        self.scale_spin.setValue(params.scale)
        self.rotation_spin.setValue(params.rotation)
        self.fourier_check.setChecked(params.fourier)
        self.decorrelate_check.setChecked(params.decorrelate)
        self.per_channel_spin.setValue(params.images_per_channel)
        self.diversity_spin.setValue(params.diversity)
        self.examples_edit.setText(params.examples_folder or "")
        self.top_spin.setValue(params.top)
        self._update_controls()

    def set_request(self, ref: ChannelRef) -> bool:
        """Show a layer (and channel) another tab asks about; False (and nothing
        changed) when its model cannot be chosen here."""
        if not self.set_model_spec(ref.model):
            return False
        if ref.model in BACKBONE_NAMES and ref.weights:
            self.weights.set_value(ref.weights)
        self.objective_combo.setCurrentIndex(self.objective_combo.findData("channel"))
        self.layer_edit.setText(ref.layer)
        self.channels_edit.setText("" if ref.channel is None else str(ref.channel))
        return True

    # ------------------------------------------------------------------ settings

    def save_settings(self, settings: QSettings) -> None:
        try:
            data = vparams.params_to_dict(self.params())
        except StudioError:  # channels that do not read: keep the rest
            data = vparams.params_to_dict(self.params_without_channels())
        settings.setValue("params", json.dumps(data))

    def params_without_channels(self) -> VisualizeParams:
        text = self.channels_edit.text()
        self.channels_edit.setText("")
        try:
            return self.params()
        finally:
            self.channels_edit.setText(text)

    def restore_settings(self, settings: QSettings) -> None:
        """The last session's parameters: parsed with a bound on nesting and checked
        before any control changes (values that fail keep their defaults; the view names
        them in its status line, see :func:`cnnstudio.gui.settings.take_notices`)."""
        params = read_params(settings, "params", vparams.params_from_dict)
        if params is not None:
            self.set_params(params)
