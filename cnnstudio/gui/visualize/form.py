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

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.backbones import BACKBONE_NAMES, get_backbone
from cnnstudio.core.classify.params import model_choices
from cnnstudio.core.errors import StudioError
from cnnstudio.core.visualize import params as vparams
from cnnstudio.core.visualize.params import VisualizeParams
from cnnstudio.gui.settings import last_folder, read_str, remember_folder
from cnnstudio.gui.tabs.base import ChannelRef
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

    #: the model or its weights changed: the view reads the layers again
    model_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layers_known: dict[str, int] = {}  # channels per layer of the model shown
        self.classes: int | None = None
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(self._build_model_group())
        column.addWidget(self._build_objective_group())
        column.addWidget(self._build_recipe_group())
        column.addWidget(self._build_examples_group())
        column.addStretch(1)
        self.refresh_models()
        self.set_params(VisualizeParams(model="inception_v3"))
        self.model_combo.activated.connect(self._on_model_activated)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.weights.value_changed.connect(lambda _value: self.model_changed.emit())
        self.layer_list.currentTextChanged.connect(self._on_layer_picked)
        self.layer_edit.textChanged.connect(self._show_layer_info)
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
        self.layer_edit = QLineEdit(objectName="visualizeLayer")
        self.layer_edit.setToolTip(
            "The layer whose channels to show: pick one in the list, or type any layer "
            "path (a nested model's layer as outer/inner)"
        )
        self.layer_info = QLabel("", objectName="visualizeLayerInfo")
        self.layer_list = QListWidget(objectName="visualizeLayerList")
        self.layer_list.setToolTip("The model's layers with feature maps, and their channels")
        self.layer_list.setMinimumHeight(120)
        form.addRow("Model", self.model_combo)
        form.addRow("Weights", self.weights)
        form.addRow("Layer", self.layer_edit)
        form.addRow("", self.layer_info)
        form.addRow(self.layer_list)
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

    def _build_recipe_group(self) -> QGroupBox:
        box = QGroupBox("Recipe")
        form = QFormLayout(box)
        d = VisualizeParams()
        self.size_spin = spin_box(
            vparams.MIN_SIZE, vparams.MAX_SIZE, d.size, "visualizeSize",
            "Side of each image in pixels (a model with a fixed input size uses its own)",
        )  # fmt: skip
        self.steps_spin = spin_box(
            1, vparams.MAX_STEPS, d.steps, "visualizeSteps", "Optimisation steps per image"
        )
        self.seed_spin = spin_box(
            0, 2**31 - 1, d.seed, "visualizeSeed", "The same seed gives the same grid"
        )
        self.rate_spin = double_spin_box(
            0.001, vparams.MAX_LEARNING_RATE, d.learning_rate, 0.01, 3, "visualizeRate",
            "Adam's learning rate on the image's parameters",
        )  # fmt: skip
        self.jitter_spin = spin_box(
            0, vparams.MAX_JITTER, d.jitter, "visualizeJitter",
            "Largest random shift in pixels at every step (robustness)",
        )  # fmt: skip
        self.scale_spin = double_spin_box(
            0.0, vparams.MAX_SCALE, d.scale, 0.05, 2, "visualizeScale",
            "Largest random scale change at every step (0.1: 0.9 to 1.1)",
        )  # fmt: skip
        self.rotation_spin = double_spin_box(
            0.0, vparams.MAX_ROTATION, d.rotation, 1.0, 1, "visualizeRotation",
            "Largest random rotation in degrees at every step",
        )  # fmt: skip
        self.fourier_check = QCheckBox("Fourier parameterisation", objectName="visualizeFourier")
        self.fourier_check.setToolTip(
            "Optimise a spectrum scaled by 1/frequency (off: plain pixels, noisier images)"
        )
        self.decorrelate_check = QCheckBox("Decorrelated colours", objectName="visualizeColours")
        self.decorrelate_check.setToolTip("Optimise colours through ImageNet's colour matrix")
        form.addRow("Size", self.size_spin)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Learning rate", self.rate_spin)
        form.addRow("Jitter", self.jitter_spin)
        form.addRow("Scale", self.scale_spin)
        form.addRow("Rotation", self.rotation_spin)
        form.addRow(self.fourier_check)
        form.addRow(self.decorrelate_check)
        return box

    def _build_examples_group(self) -> QGroupBox:
        box = QGroupBox("Dataset examples")
        form = QFormLayout(box)
        self.examples_edit = QLineEdit(objectName="visualizeExamplesFolder")
        self.examples_edit.setPlaceholderText("none")
        self.examples_edit.setToolTip(
            "A folder of pictures: each channel also gets the ones that excite it most, "
            "with the region that does (files that are not pictures are skipped and listed)"
        )
        self.examples_button = QPushButton("Choose...", objectName="visualizeExamplesButton")
        self.examples_button.setToolTip("Choose the folder of pictures")
        self.examples_button.clicked.connect(self._choose_folder)
        self.top_spin = spin_box(
            1, vparams.MAX_TOP, VisualizeParams().top, "visualizeTop",
            "How many of the folder's pictures each channel gets, best first",
        )  # fmt: skip
        row = QHBoxLayout()
        row.addWidget(self.examples_edit, 1)
        row.addWidget(self.examples_button)
        form.addRow("Folder", row)
        form.addRow("Top", self.top_spin)
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
            combo.addItem(text if spec in BACKBONE_NAMES else f"Library: {text}", spec)
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
        self.set_layers(list(get_backbone(spec).conv_layers) if backbone else [], {}, None)
        self.model_changed.emit()

    # ------------------------------------------------------------------ layers

    def set_layers(self, names: list[str], channels: dict[str, int], classes: int | None):
        """List ``names`` (with their channel counts from ``channels`` where known); the
        layer field completes any layer of ``channels``."""
        self.layers_known = dict(channels)
        self.classes = classes
        self.layer_list.blockSignals(True)
        self.layer_list.clear()
        for name in names:
            count = channels.get(name)
            self.layer_list.addItem(f"{name}  ({count} channels)" if count else name)
            self.layer_list.item(self.layer_list.count() - 1).setData(
                Qt.ItemDataRole.UserRole, name
            )
        self.layer_list.blockSignals(False)
        completer = QCompleter(sorted(set(names) | set(channels)), self.layer_edit)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.layer_edit.setCompleter(completer)
        self._show_layer_info()

    def layer(self) -> str:
        return self.layer_edit.text().strip()

    def _on_layer_picked(self, _text: str) -> None:
        item = self.layer_list.currentItem()
        if item is not None:
            self.layer_edit.setText(str(item.data(Qt.ItemDataRole.UserRole)))

    def _show_layer_info(self, *_args) -> None:
        layer = self.layer()
        count = self.layers_known.get(layer)
        for row in range(self.layer_list.count()):
            item = self.layer_list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == layer:
                self.layer_list.blockSignals(True)
                self.layer_list.setCurrentRow(row)
                self.layer_list.blockSignals(False)
                break
        if count:
            text = f"{count} channels (0-{count - 1})"
        elif self.layers_known and layer:
            text = f"{self.model_name()} has no layer '{layer}' with a feature map"
        else:
            text = ""
        self.layer_info.setText(text)
        self._update_controls()

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

    def _choose_folder(self) -> None:
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
        text = read_str(settings, "params", "")
        if not text:
            return
        try:
            self.set_params(vparams.params_from_dict(json.loads(text)))
        except (ValueError, StudioError) as error:
            log.warning("visualisation settings not restored: %s", error)
