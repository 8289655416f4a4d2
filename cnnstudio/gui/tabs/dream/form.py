"""The Dream tab's form: its controls <-> :class:`cnnstudio.core.dream.DreamParams`.

Everything a dream does is decided by a DreamParams; :meth:`DreamForm.params` reads one
from the controls and :meth:`DreamForm.set_params` shows one, which is also how presets,
settings and the parameters read back from a saved PNG restore the form. The network box
lists the backbones and the models of the library (:class:`LibraryChoice`: a library
model's layers are read on a worker when it is chosen, and fill the layer table).
"""

from __future__ import annotations

import json
import logging
import os

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.backbones import BACKBONE_NAMES, get_backbone
from cnnstudio.core.dream import params as dream_core
from cnnstudio.core.dream.params import DREAM_PRESETS, DreamParams
from cnnstudio.gui.settings import read_params, read_str, restore_spin_box
from cnnstudio.gui.tabs.dream import groups
from cnnstudio.gui.tabs.dream.layer_table import LayerWeightsTable
from cnnstudio.gui.tabs.dream.library_choice import LibraryChoice
from cnnstudio.gui.tabs.dream.motion_groups import GuideSlot, ZoomGroup
from cnnstudio.gui.widgets.preset_box import PresetBox, watch_controls
from cnnstudio.gui.widgets.spin_boxes import spin_box
from cnnstudio.gui.widgets.weights_picker import WeightsPicker

log = logging.getLogger(__name__)

#: preset key -> what the preset box shows
PRESET_LABELS = {
    "tf2": "TF2 recipe: mixed3 + mixed5, 5 octaves",
    "dlwp": "Deep Learning with Python: mixed4-7, L2",
    "tf1-channel": "TF1 recipe: one channel (mixed4 #139)",
    "quick": "Quick look: 10 steps, 3 octaves, 500 px",
    "motion": "Motion frames: 1 octave, 10 steps (zoom, video)",
}
_MAX_CHANNEL = 4095  # the channel picker's top while the network's layers are unknown


class DreamForm(QWidget):
    """The controls of a dream, in five groups: where it starts, the network, what to
    amplify, the steps and octaves, and size, tiles and randomness."""

    #: a line for the status bar (a preset chosen, a model's layers read)
    status = Signal(str)
    #: reading a library model failed: (message, details)
    failed = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layer_channels: dict[str, int] = {}  # channels per layer, once a model is known
        self._top_octave: int | None = None  # not a control: set by presets / restore
        #: the layer choice last made on each network (backbone name or model file), so
        #: switching away and back brings it back
        self._layers_by_network: dict[str, dict[str, float]] = {}
        self._shown_network = ""  # the network whose layers the table shows
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(groups.source_group(self))
        self.zoom_group = ZoomGroup()
        column.addWidget(self.zoom_group)
        column.addWidget(self._build_network_group())
        column.addWidget(self._build_objective_group())
        column.addWidget(groups.schedule_group(self))
        column.addWidget(groups.size_group(self))
        column.addStretch(1)
        self.library = LibraryChoice(self.backbone_combo, self)
        self._connect()
        self._fill_layers(self.backbone())
        self._shown_network = self._network_key()
        self.set_params(DreamParams())

    # ------------------------------------------------------------------ the groups

    def _build_network_group(self) -> QGroupBox:
        """A backbone (or a library model, listed after them) and its weights."""
        box = QGroupBox("Network")
        layout = QFormLayout(box)
        self.backbone_combo = QComboBox()
        self.backbone_combo.setObjectName("dreamBackbone")
        self.backbone_combo.setToolTip(
            "The network that dreams: a pretrained backbone, or a model of your library "
            "(its own layers are listed)"
        )
        for name in BACKBONE_NAMES:
            self.backbone_combo.addItem(get_backbone(name).label, name)
        layout.addRow("Backbone", self.backbone_combo)
        self.weights_picker = WeightsPicker()
        self.weights_picker.setObjectName("dreamWeights")
        layout.addRow("Weights", self.weights_picker)
        return box

    def _build_objective_group(self) -> QGroupBox:
        """Presets, the weighted layers, the objective and the one-channel option."""
        box = QGroupBox("What to amplify")
        layout = QVBoxLayout(box)
        labels = {key: label for key, label in PRESET_LABELS.items() if key in DREAM_PRESETS}
        # shows the preset the controls match, "Custom" once anything differs
        self.preset_combo = PresetBox(labels, self._matches_preset)
        self.preset_combo.setObjectName("dreamPreset")
        self.preset_combo.setToolTip(
            "A whole recipe: layers, objective, steps and octaves ('Custom' once you change "
            "any of them); choosing an entry applies it, the one shown too"
        )
        presets = QFormLayout()
        presets.addRow("Presets", self.preset_combo)
        layout.addLayout(presets)
        self.layer_table = LayerWeightsTable()
        self.layer_table.setObjectName("dreamLayers")
        layout.addWidget(self.layer_table)
        form = QFormLayout()
        self.objective_combo = QComboBox()
        self.objective_combo.setObjectName("dreamObjective")
        self.objective_combo.setToolTip(
            "What grows: the layers' mean activation (TF2 recipe) or the sum of their "
            "squares without a 2-pixel border (Deep Learning with Python)"
        )
        self.objective_combo.addItem("Mean activation (TF2)", "mean")
        self.objective_combo.addItem("L2, border cropped (DLwP)", "l2")
        self.objective_combo.addItem("Guide picture (match its features)", "guide")
        form.addRow("Objective", self.objective_combo)
        self.guide_slot = GuideSlot()
        form.addRow(self.guide_slot)
        self.channel_check = QCheckBox("One channel only")
        self.channel_check.setObjectName("dreamChannelEnabled")
        self.channel_check.setToolTip(
            "Maximise a single channel of one layer instead of the layers above "
            "(the TF1 recipe used channel 139)"
        )
        self.channel_layer = QComboBox()
        self.channel_layer.setObjectName("dreamChannelLayer")
        self.channel_layer.setToolTip("The layer whose channel is maximised")
        self.channel_index = spin_box(0, _MAX_CHANNEL, 139, "dreamChannelIndex", "channel number")
        channel_row = QHBoxLayout()
        channel_row.addWidget(self.channel_check)
        channel_row.addWidget(self.channel_layer, 1)
        channel_row.addWidget(self.channel_index)
        form.addRow(channel_row)
        layout.addLayout(form)
        return box

    def _connect(self) -> None:
        self.backbone_combo.currentIndexChanged.connect(self._backbone_changed)
        self.preset_combo.preset_chosen.connect(self.apply_preset)
        watch_controls(self, self.preset_combo.refresh, skip=(self.preset_combo,))
        self.layer_table.edited.connect(self.preset_combo.refresh)
        self.channel_check.toggled.connect(self._update_channel_controls)
        self.channel_layer.currentTextChanged.connect(self._update_channel_range)
        self.from_noise.toggled.connect(self._update_source_controls)
        self.guide_slot.changed.connect(self._guide_changed)
        self.library.layers_read.connect(self._set_layer_names)
        self.library.status.connect(self.status)
        self.library.failed.connect(self.failed)

    # ------------------------------------------------------------------ params <-> controls

    def params(self) -> DreamParams:
        """The parameters the controls describe."""
        channel = None
        if self.channel_check.isChecked():
            channel = (self.channel_layer.currentText(), int(self.channel_index.value()))
        layers = self.layer_table.weights()
        if not layers and channel is not None:
            layers = {channel[0]: 1.0}
        max_loss = self.max_loss_spin.value()
        seed = self.seed_spin.value()
        objective = str(self.objective_combo.currentData())
        return DreamParams(
            backbone=self.backbone(),
            weights=self.weights_picker.value(),
            layers=layers,
            channel=channel,
            objective=objective,
            guide=(self.guide_slot.path or None) if objective == "guide" else None,
            steps=int(self.steps_spin.value()),
            step_size=float(self.step_size_spin.value()),
            octaves=int(self.octaves_spin.value()),
            octave_scale=float(self.octave_scale_spin.value()),
            top_octave=self._top_octave_value(),
            reinject_detail=self.reinject_check.isChecked(),
            max_loss=float(max_loss) if max_loss > 0 else None,
            tv_weight=float(self.tv_spin.value()),
            tile_size=int(self.tile_spin.value()),
            jitter=int(self.jitter_spin.value()),
            max_size=int(self.max_size_spin.value()) or None,
            seed=None if seed < 0 else int(seed),
        )

    def _top_octave_value(self) -> int | None:
        if not self.end_at_base.isChecked():
            return None
        # keep a restored top octave above the base size; the box itself means "0"
        return self._top_octave if self._top_octave is not None else 0

    def set_params(self, params: DreamParams) -> None:
        """Show ``params`` in the controls, all or nothing: they are validated first
        (InputError, nothing changed), and a failure half-way puts the old ones back."""
        dream_core.validate_params(params)
        previous = self.params()
        try:
            self._show_params(params)
        except Exception:
            self._show_params(previous)
            raise

    def _show_params(self, params: DreamParams) -> None:
        if self.library.layers_pending():
            self.library.keep_weights(params.layers)  # ticked when the layers arrive
        elif self.library_path() is not None:
            self._set_layer_names(self.layer_table.names(), dict(params.layers))
        else:
            index = self.backbone_combo.findData(params.backbone)
            if index >= 0 and index != self.backbone_combo.currentIndex():
                self.backbone_combo.blockSignals(True)
                self.backbone_combo.setCurrentIndex(index)
                self.backbone_combo.blockSignals(False)
            self._fill_layers(self.backbone(), dict(params.layers))
        self.weights_picker.set_value(params.weights)
        self.objective_combo.setCurrentIndex(
            max(self.objective_combo.findData(params.objective), 0)
        )
        if params.guide:
            self.guide_slot.set_path(params.guide)
        self.channel_check.setChecked(params.channel is not None)
        if params.channel is not None:
            self.channel_layer.setCurrentText(str(params.channel[0]))
            self.channel_index.setValue(int(params.channel[1]))
        self.steps_spin.setValue(params.steps)
        self.step_size_spin.setValue(
            params.step_size if params.step_size is not None else self._default_step_size()
        )
        self.octaves_spin.setValue(params.octaves)
        self.octave_scale_spin.setValue(params.octave_scale)
        self._top_octave = params.top_octave
        self.end_at_base.setChecked(params.top_octave is not None)
        self.reinject_check.setChecked(params.reinject_detail)
        self.max_loss_spin.setValue(params.max_loss or 0.0)
        self.tv_spin.setValue(params.tv_weight)
        self.tile_spin.setValue(params.tile_size)
        self.jitter_spin.setValue(params.jitter)
        self.max_size_spin.setValue(params.max_size or 0)
        self.seed_spin.setValue(-1 if params.seed is None else params.seed)
        self._update_channel_controls()

    def noise_size(self) -> tuple[int, int] | None:
        """(width, height) of the noise to dream on, or None to dream on the image."""
        if not self.from_noise.isChecked():
            return None
        return int(self.noise_width.value()), int(self.noise_height.value())

    def _matches_preset(self, key: str) -> bool:
        """Whether the controls show preset ``key`` (applying it would change nothing)."""
        if self.library_path() is not None:
            return False  # the presets name InceptionV3's layers
        params = self.params()
        return dream_core.preset_params(key, base=params) == params

    def apply_preset(self, key: str) -> None:
        """Preset ``key`` into the controls (what choosing it in the list does)."""
        if key not in DREAM_PRESETS:
            return
        # presets name InceptionV3 layers: switch to it rather than dream on nothing (and
        # let the preset's step size be InceptionV3's)
        switch = self.backbone() != "inception_v3" or self.library_path() is not None
        base = self.params().replace(top_octave=None)
        if switch:
            base = base.replace(backbone="inception_v3")
        params = dream_core.preset_params(key, base=base)
        if switch:
            self.backbone_combo.setCurrentIndex(self.backbone_combo.findData("inception_v3"))
        self.set_params(params)
        self.status.emit(f"Preset: {PRESET_LABELS.get(key, key)}")

    def _guide_changed(self, path: str) -> None:
        """A guide picture chosen: dream toward it; cleared: back to the mean."""
        guide = self.objective_combo.findData("guide")
        if path:
            self.objective_combo.setCurrentIndex(guide)
        elif self.objective_combo.currentIndex() == guide:
            self.objective_combo.setCurrentIndex(self.objective_combo.findData("mean"))

    def _update_channel_controls(self) -> None:
        on = self.channel_check.isChecked()
        self.channel_layer.setEnabled(on)
        self.channel_index.setEnabled(on)
        self.layer_table.setEnabled(not on)

    def _update_source_controls(self) -> None:
        noise = self.from_noise.isChecked()
        self.noise_width.setEnabled(noise)
        self.noise_height.setEnabled(noise)

    # ------------------------------------------------------------------ the network

    def backbone(self) -> str:
        """The backbone of the params: the chosen one, or for a library model the
        backbone whose preprocessing it uses (InceptionV3 when it rescales itself)."""
        if self.library.path() is not None:
            return dream_core.library_backbone(self.library.preprocessing())
        return str(self.backbone_combo.currentData())

    def library_path(self) -> str | None:
        """The .keras file of the chosen library model, or None for a backbone."""
        return self.library.path()

    def _network_key(self) -> str:
        return self.library_path() or self.backbone()

    def _remember_layers(self) -> None:
        """Keep the table's choice for the network it shows (when the table really shows
        that network's layers: restoring parameters may have switched the backbone)."""
        shown, names = self._shown_network, self.layer_table.names()
        if not shown or not names:
            return
        if shown in BACKBONE_NAMES and list(get_backbone(shown).dream_layers) != list(names):
            return
        self._layers_by_network[shown] = self.layer_table.weights()

    def _backbone_changed(self) -> None:
        self._remember_layers()
        self._shown_network = self._network_key()
        remembered = self._layers_by_network.get(self._shown_network)
        library_model = self.library_path() is not None
        self.weights_picker.setEnabled(not library_model)
        self.weights_picker.set_model_label(self.library.name() if library_model else None)
        if library_model:
            self.tile_spin.setMinimum(32)
            if self.isVisible():
                self._read_library_layers()
            else:
                self.library.stale = True  # read when the form shows: no TensorFlow at start
            if remembered:
                self.library.keep_weights(remembered)  # ticked when its layers arrive
        else:
            # the choice made here before, else the backbone's own starting layers
            self._fill_layers(
                self.backbone(), remembered or dream_core.default_layers(self.backbone())
            )
            self.tile_spin.setMinimum(get_backbone(self.backbone()).min_size)
        # step sizes are in the network's input units (the core's rule, also the CLI's):
        # a step made for another input range (0.01 on [-1, 1] vs 1.275 on 0..255) is
        # replaced by the new network's default; a tweak of the same scale is kept
        default = self._default_step_size()
        if not default / 10 <= self.step_size_spin.value() <= default * 10:
            self.step_size_spin.setValue(default)

    def _default_step_size(self) -> float:
        """The chosen network's default step (dream.default_step_size)."""
        if self.library_path() is not None:
            return dream_core.library_step_size(self.library.preprocessing())
        return dream_core.default_step_size(self.backbone())

    def refresh_library(self) -> None:
        """List the models of the library after the backbones (keeps the choice)."""
        if self.library.refresh():
            self._backbone_changed()  # the chosen model left the library

    def select_library_model(self, name: str) -> bool:
        """Choose the library model called ``name``; False if there is none."""
        self.refresh_library()
        return self.library.select(name)

    def select_backbone(self, name: str) -> None:
        """Choose the backbone ``name`` (a saved dream's network)."""
        self.backbone_combo.setCurrentIndex(self.backbone_combo.findData(name))

    def set_channel_objective(
        self, layer: str, index: int, network: str = "", weights: str = ""
    ) -> str | None:
        """Maximise channel ``index`` of ``layer`` ("Send to Dream" of the feature
        visualisation), on ``network`` (a backbone name, with ``weights``, or a library
        model's .keras file) when given; None when done, else why not (one sentence)."""
        if network in BACKBONE_NAMES:
            self.select_backbone(network)
            self.weights_picker.set_value(weights or self.weights_picker.value())
        elif network:
            self.refresh_library()
            if not self.library.select_path(network):
                return f"{os.path.basename(network)} is not in the model library: add it first"

        def apply(*_args) -> None:
            if waiting:
                self.library.layers_read.disconnect(apply)
            if self.channel_layer.findText(layer) < 0:
                self.channel_layer.addItem(layer)  # a layer the table does not list
            self.channel_layer.setCurrentText(layer)
            self.channel_index.setValue(int(index))
            self.channel_check.setChecked(True)
            self._update_channel_controls()

        # a library model's layers arrive from a worker (after the form has listed them)
        waiting = self.library.layers_pending()
        if waiting:
            self.library.layers_read.connect(apply)
        else:
            apply()
        return None

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh_library()
        if self.library.stale:
            self._read_library_layers()

    # ------------------------------------------------------------------ the layer table

    def _fill_layers(self, backbone: str, weights: dict[str, float] | None = None) -> None:
        """One row per dreamable layer of ``backbone``; ``weights`` ticks and weighs some
        (default: keep the ticks of layers with the same name)."""
        self._set_layer_names(list(get_backbone(backbone).dream_layers), weights)

    def _set_layer_names(
        self,
        names: list[str],
        weights: dict[str, float] | None = None,
        channels: dict[str, int] | None = None,
    ) -> None:
        """Rows for ``names``; ``channels`` ({layer: count}, from a loaded model) bound the
        channel picker (kept while the names stay the same)."""
        if weights is None:
            weights = self.layer_table.weights()
        if names and not any(name in names for name in weights):
            # none of the layers exists in this network: start from two middle layers
            middle = len(names) // 2
            weights = {names[max(middle - 1, 0)]: 1.0, names[middle]: 1.0}
        if self.layer_table.set_names(names) or channels is not None:
            self._layer_channels = dict(channels or {})
        self.layer_table.set_weights(weights)
        current_channel_layer = self.channel_layer.currentText()
        self.channel_layer.clear()
        self.channel_layer.addItems(names)
        if current_channel_layer in names:
            self.channel_layer.setCurrentText(current_channel_layer)
        else:
            self.channel_layer.setCurrentIndex(len(names) // 2)
        self._update_channel_range()

    def _read_library_layers(self) -> None:
        """Empty the table until the chosen library model's layers have been read."""
        self._set_layer_names([], {})
        self.library.read_layers()

    def _update_channel_range(self, *_args) -> None:
        """The channel picker goes up to the chosen layer's last channel when the model is
        known (a library model, read in the worker), else to the widest layers' 4095."""
        count = self._layer_channels.get(self.channel_layer.currentText())
        self.channel_index.setMaximum(count - 1 if count else _MAX_CHANNEL)

    # ------------------------------------------------------------------ settings

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("params", json.dumps(dream_core.params_to_dict(self.params())))
        settings.setValue("source", "noise" if self.from_noise.isChecked() else "image")
        settings.setValue("noise_width", self.noise_width.value())
        settings.setValue("noise_height", self.noise_height.value())
        settings.setValue("library_model", self.library_path() or "")

    def restore_settings(self, settings: QSettings) -> None:
        model_path = read_str(settings, "library_model", "")
        if model_path and os.path.isfile(model_path):
            self.refresh_library()
            self.library.select_path(model_path)  # its layers are read when the form shows
        # each value validated (a bad one is ignored with a notice), then set all at once
        params = read_params(settings, "params", dream_core.params_from_dict)
        if params is not None:
            self.set_params(params)
        restore_spin_box(settings, "noise_width", self.noise_width)
        restore_spin_box(settings, "noise_height", self.noise_height)
        if read_str(settings, "source", "image") == "noise":
            self.from_noise.setChecked(True)
        self._update_source_controls()
