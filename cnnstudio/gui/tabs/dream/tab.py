"""The Dream tab: DeepDream on a photo or on noise, with a live preview.

Everything the dream does is decided by :class:`cnnstudio.core.dream.DreamParams`; this tab
maps its controls to one (:meth:`DreamTab.params`) and back (:meth:`DreamTab.set_params`),
which is also how settings, presets and parameters read back from a saved PNG restore it.
The job itself is ``core.dream.dream``, run by a :class:`JobRunner`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core import dream as dream_core
from cnnstudio.core.backbones import BACKBONE_NAMES, get_backbone
from cnnstudio.core.dream import DREAM_PRESETS, DreamParams
from cnnstudio.core.errors import InputError, StudioError
from cnnstudio.core.events import Preview, Progress
from cnnstudio.gui.settings import read_int, read_str
from cnnstudio.gui.tabs.image_job import ImageJobTab, double_spin_box, spin_box
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.plots import LossPlot
from cnnstudio.gui.widgets.progress import JobProgress
from cnnstudio.gui.widgets.weights_picker import WeightsPicker
from cnnstudio.gui.workers import JobRunner

log = logging.getLogger(__name__)

#: preset key -> what the preset box shows
PRESET_LABELS = {
    "tf2": "TF2 recipe: mixed3 + mixed5, 5 octaves",
    "dlwp": "Deep Learning with Python: mixed4-7, L2",
    "tf1-channel": "TF1 recipe: one channel (mixed4 #139)",
    "quick": "Quick look: 10 steps, 3 octaves",
}
_LOAD_HINT = "Open or drop an image (Ctrl+O), or choose 'Noise' to dream from scratch"


LIBRARY_PREFIX = "library:"
_model_cache: dict[str, tuple[float, object]] = {}
_model_cache_lock = threading.Lock()


def _library_model(path: str):
    """Worker: the library model at ``path``, loaded safely once (reloaded if the file
    changed). Keeps the two most recent models."""
    from cnnstudio.core import library

    mtime = os.path.getmtime(path)
    with _model_cache_lock:
        cached = _model_cache.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
    model = library.load_model_file(path)
    with _model_cache_lock:
        _model_cache[path] = (mtime, model)
        while len(_model_cache) > 2:
            _model_cache.pop(next(iter(_model_cache)))
    return model


def _library_layers(path: str) -> tuple[list[str], dict[str, int]]:
    """Worker: the layers of a library model that have a spatial output, and the number
    of channels of each (the channel picker's range)."""
    model = _library_model(path)
    names = dream_core.dreamable_layers(model)
    return names, {name: dream_core.layer_channels(model, name) for name in names}


def _library_transforms(preprocessing: str):
    """(preprocess, deprocess) for a library model: "none" = it takes 0..255 pixels and
    rescales itself; a backbone name = that backbone's input convention."""
    from cnnstudio.core import backbones

    if preprocessing in BACKBONE_NAMES:
        return (
            lambda x: backbones.preprocess(preprocessing, x),
            lambda x: backbones.deprocess(preprocessing, x),
        )
    return None, None


def dream_with_library_model(
    image: np.ndarray | None,
    params: DreamParams,
    path: str,
    preprocessing: str = "none",
    noise_size: tuple[int, int] | None = None,
):
    """Worker job: ``dream`` with a model of the library instead of a backbone."""
    model = _library_model(path)
    preprocess, deprocess = _library_transforms(preprocessing)
    result = yield from dream_core.dream(
        image,
        params,
        noise_size=noise_size,
        model=model,
        preprocess=preprocess,
        deprocess=deprocess,
    )
    return result


_MAX_CHANNEL = 4095  # the channel picker's top while the network's layers are unknown


class DreamTab(ImageJobTab):
    """DeepDream: controls on the left, the live picture, progress and loss on the right."""

    title = "Dream"
    settings_key = "dream"
    object_prefix = "dream"
    job_name = "Dream"
    made_verb = "dreamed"
    nothing_to_save = "Nothing to save yet: run a dream first"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dreamTab")
        self.runner = JobRunner("Dream", self)
        self.model_runner = JobRunner("Loading the model", self)
        self._pending_weights: dict[str, float] | None = None  # for a model still loading
        self._layers_stale = False  # a library model was chosen while the tab was hidden
        self._layers_loading: str | None = None  # the model whose layers are being read
        self._layer_channels: dict[str, int] = {}  # channels per layer, once a model is known
        self._source: np.ndarray | None = None  # the picture to dream on (uint8 RGB)
        self._source_name = ""  # its file name, for the saved metadata
        self._result: np.ndarray | None = None
        self._result_params: DreamParams | None = None
        self._result_source = ""
        self._run_params: DreamParams | None = None
        self._run_source = ""
        self._last_preview: Preview | None = None
        self._last_step = 0
        self._stopped_at: int | None = None  # step a stopped dream reached (its result)
        self._run_model: str | None = None  # library model of the running dream
        self._result_model: str | None = None
        self._top_octave: int | None = None  # not a control: set by presets / restore
        self._build_ui()
        self._connect()
        self._fill_layers(self.backbone())
        self.set_params(DreamParams())
        self._update_buttons()

    # ------------------------------------------------------------------ construction

    def _build_ui(self) -> None:
        controls = QWidget()
        form_column = QVBoxLayout(controls)
        form_column.setContentsMargins(4, 4, 4, 4)

        # start from an image or noise
        source_box = QGroupBox("Start from")
        source_layout = QFormLayout(source_box)
        self.from_image = QRadioButton("Image")
        self.from_image.setObjectName("dreamFromImage")
        self.from_noise = QRadioButton("Noise")
        self.from_noise.setObjectName("dreamFromNoise")
        self.from_image.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.from_image)
        group.addButton(self.from_noise)
        self.open_button = QPushButton("Open image...")
        self.open_button.setObjectName("dreamOpenButton")
        row = QHBoxLayout()
        row.addWidget(self.from_image)
        row.addWidget(self.open_button)
        row.addStretch(1)
        source_layout.addRow(row)
        self.source_label = QLabel("No image yet")
        self.source_label.setObjectName("dreamSourceLabel")
        self.source_label.setWordWrap(True)
        source_layout.addRow(self.source_label)
        self.noise_width = spin_box(32, 4096, 400, "dreamNoiseWidth", "width of the noise image")
        self.noise_height = spin_box(32, 4096, 300, "dreamNoiseHeight", "height of the noise image")
        noise_row = QHBoxLayout()
        noise_row.addWidget(self.from_noise)
        noise_row.addWidget(self.noise_width)
        noise_row.addWidget(QLabel("x"))
        noise_row.addWidget(self.noise_height)
        noise_row.addStretch(1)
        source_layout.addRow(noise_row)
        form_column.addWidget(source_box)

        # the network
        net_box = QGroupBox("Network")
        net_layout = QFormLayout(net_box)
        self.backbone_combo = QComboBox()
        self.backbone_combo.setObjectName("dreamBackbone")
        for name in BACKBONE_NAMES:
            self.backbone_combo.addItem(get_backbone(name).label, name)
        net_layout.addRow("Backbone", self.backbone_combo)
        self.weights_picker = WeightsPicker()
        self.weights_picker.setObjectName("dreamWeights")
        net_layout.addRow("Weights", self.weights_picker)
        form_column.addWidget(net_box)

        # the objective
        objective_box = QGroupBox("What to amplify")
        objective_layout = QVBoxLayout(objective_box)
        preset_row = QHBoxLayout()
        self.preset_combo = QComboBox()
        self.preset_combo.setObjectName("dreamPreset")
        self.preset_combo.addItem("Presets...", "")
        for key, label in PRESET_LABELS.items():
            if key in DREAM_PRESETS:
                self.preset_combo.addItem(label, key)
        preset_row.addWidget(self.preset_combo, 1)
        objective_layout.addLayout(preset_row)
        self.layer_table = QTableWidget(0, 2)
        self.layer_table.setObjectName("dreamLayers")
        self.layer_table.setHorizontalHeaderLabels(["Layer", "Weight"])
        self.layer_table.verticalHeader().setVisible(False)
        self.layer_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.layer_table.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.ResizeToContents
        )
        self.layer_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.layer_table.setMinimumHeight(150)
        self.layer_table.setToolTip("Tick the layers to amplify; the weight scales each one")
        objective_layout.addWidget(self.layer_table)
        objective_form = QFormLayout()
        self.objective_combo = QComboBox()
        self.objective_combo.setObjectName("dreamObjective")
        self.objective_combo.addItem("Mean activation (TF2)", "mean")
        self.objective_combo.addItem("L2, border cropped (DLwP)", "l2")
        objective_form.addRow("Objective", self.objective_combo)
        self.channel_check = QCheckBox("One channel only")
        self.channel_check.setObjectName("dreamChannelEnabled")
        self.channel_check.setToolTip(
            "Maximise a single channel of one layer instead of the layers above "
            "(the TF1 recipe used channel 139)"
        )
        self.channel_layer = QComboBox()
        self.channel_layer.setObjectName("dreamChannelLayer")
        self.channel_index = spin_box(0, _MAX_CHANNEL, 139, "dreamChannelIndex", "channel number")
        channel_row = QHBoxLayout()
        channel_row.addWidget(self.channel_check)
        channel_row.addWidget(self.channel_layer, 1)
        channel_row.addWidget(self.channel_index)
        objective_form.addRow(channel_row)
        objective_layout.addLayout(objective_form)
        form_column.addWidget(objective_box)

        # the schedule
        schedule_box = QGroupBox("Steps and octaves")
        schedule = QFormLayout(schedule_box)
        self.steps_spin = spin_box(1, 10000, 50, "dreamSteps", "gradient steps per octave")
        self.step_size_spin = double_spin_box(
            0.0001, 100.0, 0.01, 0.005, 4, "dreamStepSize",
            "step in the network's input units ([-1, 1] for InceptionV3) x normalised gradient",
        )  # fmt: skip
        self.octaves_spin = spin_box(1, 12, 5, "dreamOctaves", "number of scales (1: single scale)")
        self.octave_scale_spin = double_spin_box(
            1.0, 3.0, 1.3, 0.05, 2, "dreamOctaveScale", "size ratio between octaves"
        )
        self.end_at_base = QCheckBox("Largest octave is the image size")
        self.end_at_base.setObjectName("dreamEndAtBase")
        self.end_at_base.setToolTip(
            "On: octaves shrink from the image size (DLwP, TF1). Off: centred on it (TF2)"
        )
        self.reinject_check = QCheckBox("Re-inject lost detail after each upscale")
        self.reinject_check.setObjectName("dreamReinject")
        self.max_loss_spin = double_spin_box(
            0.0, 1e6, 0.0, 1.0, 2, "dreamMaxLoss", "end an octave when the loss exceeds this"
        )
        self.max_loss_spin.setSpecialValueText("off")
        self.tv_spin = double_spin_box(
            0.0, 100.0, 0.0, 0.01, 3, "dreamTvWeight", "total-variation smoothing against noise"
        )
        self.tv_spin.setSpecialValueText("off")
        schedule.addRow("Steps per octave", self.steps_spin)
        schedule.addRow("Step size", self.step_size_spin)
        schedule.addRow("Octaves", self.octaves_spin)
        schedule.addRow("Octave scale", self.octave_scale_spin)
        schedule.addRow(self.end_at_base)
        schedule.addRow(self.reinject_check)
        schedule.addRow("Max loss", self.max_loss_spin)
        schedule.addRow("Smoothing", self.tv_spin)
        form_column.addWidget(schedule_box)

        # memory and randomness
        memory_box = QGroupBox("Size, tiles, randomness")
        memory = QFormLayout(memory_box)
        self.max_size_spin = spin_box(
            0, 8192, 500, "dreamMaxSize", "longest side of the dreamed image (0: keep the size)"
        )
        self.max_size_spin.setSpecialValueText("original")
        self.tile_spin = spin_box(32, 4096, 512, "dreamTileSize", "gradients tile by tile")
        self.jitter_spin = spin_box(0, 4096, 512, "dreamJitter", "largest random roll (0: off)")
        self.jitter_spin.setSpecialValueText("off")
        self.seed_spin = spin_box(-1, 2**31 - 1, -1, "dreamSeed", "-1: a new seed every run")
        self.seed_spin.setSpecialValueText("random")
        memory.addRow("Max image size", self.max_size_spin)
        memory.addRow("Tile size", self.tile_spin)
        memory.addRow("Jitter (px)", self.jitter_spin)
        memory.addRow("Seed", self.seed_spin)
        form_column.addWidget(memory_box)
        form_column.addStretch(1)

        # buttons under the controls: Run, Stop, Save and Send to
        self.send_button = QToolButton()
        self.send_button.setObjectName("dreamSendButton")
        self.send_button.setText("Send to")
        self.send_button.setToolTip("Hand the dreamed picture to another tab")
        self.send_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        send_menu = QMenu(self.send_button)
        for text, key, role in (
            ("Classify it", "classify", "dream result"),
            ("Style: use as content", "style", "content"),
            ("Style: use as a style", "style", "style"),
        ):
            action = send_menu.addAction(text)
            action.triggered.connect(
                lambda _checked=False, key=key, role=role: self.send_result(key, role)
            )
        self.send_button.setMenu(send_menu)
        self._build_job_layout(
            controls,
            button_tips=(
                "Start dreaming (F5)",
                "Stop after the current step (Esc)",
                "Save the picture with its parameters (Ctrl+S)",
            ),
            extra_buttons=(self.send_button,),
            placeholder=None,
            compare_tip="Shows the original while pressed",
            fit_tip="Fit the picture to the view (Ctrl+0; wheel zooms)",
            progress=JobProgress(stage_name="Octave", steps_per_stage=True),
            loss_plot=LossPlot(x_label="step", y_label="loss"),
        )

    def _connect(self) -> None:
        self._connect_job()
        self.open_button.clicked.connect(self._open_clicked)
        self.backbone_combo.currentIndexChanged.connect(self._backbone_changed)
        self.preset_combo.activated.connect(self._preset_chosen)
        self.channel_check.toggled.connect(self._update_channel_controls)
        self.channel_layer.currentTextChanged.connect(self._update_channel_range)
        self.from_noise.toggled.connect(self._update_source_controls)
        self.model_runner.finished.connect(self._on_library_layers)
        self.model_runner.failed.connect(self._on_library_failed)
        self.model_runner.done.connect(self._update_buttons)

    # ------------------------------------------------------------------ layer table

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
            weights = self.layer_weights(include_unchecked=False)
        if names and not any(name in names for name in weights):
            # none of the layers exists in this network: start from two middle layers
            middle = len(names) // 2
            weights = {names[max(middle - 1, 0)]: 1.0, names[middle]: 1.0}
        current = [self.layer_table.item(r, 0).text() for r in range(self.layer_table.rowCount())]
        if current != names or channels is not None:
            self._layer_channels = dict(channels or {})
        if current != names:
            # a new network: new rows (clearing first removes the old spin boxes for good)
            self.layer_table.setRowCount(0)
            self.layer_table.setRowCount(len(names))
            for row, name in enumerate(names):
                item = QTableWidgetItem(name)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                self.layer_table.setItem(row, 0, item)
                spin = double_spin_box(-100.0, 100.0, 1.0, 0.5, 2, f"weight_{name}")
                self.layer_table.setCellWidget(row, 1, spin)
        self.set_layer_weights(weights)
        current_channel_layer = self.channel_layer.currentText()
        self.channel_layer.clear()
        self.channel_layer.addItems(names)
        if current_channel_layer in names:
            self.channel_layer.setCurrentText(current_channel_layer)
        else:
            self.channel_layer.setCurrentIndex(len(names) // 2)
        self._update_channel_range()

    def _update_channel_range(self, *_args) -> None:
        """The channel picker goes up to the chosen layer's last channel when the model is
        known (a library model, read in the worker), else to the widest layers' 4095."""
        count = self._layer_channels.get(self.channel_layer.currentText())
        self.channel_index.setMaximum(count - 1 if count else _MAX_CHANNEL)

    def layer_names(self) -> list[str]:
        return [self.layer_table.item(r, 0).text() for r in range(self.layer_table.rowCount())]

    def layer_weights(self, include_unchecked: bool = False) -> dict[str, float]:
        """{layer: weight} of the ticked rows (or of all rows)."""
        weights = {}
        for row in range(self.layer_table.rowCount()):
            item = self.layer_table.item(row, 0)
            spin = self.layer_table.cellWidget(row, 1)
            if item is None or spin is None:
                continue
            if include_unchecked or item.checkState() == Qt.CheckState.Checked:
                weights[item.text()] = float(spin.value())
        return weights

    def set_layer_weights(self, weights: dict[str, float]) -> None:
        """Tick exactly the layers in ``weights`` with those weights."""
        for row in range(self.layer_table.rowCount()):
            item = self.layer_table.item(row, 0)
            spin = self.layer_table.cellWidget(row, 1)
            checked = item.text() in weights
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            if checked:
                spin.setValue(float(weights[item.text()]))

    # ------------------------------------------------------------------ params <-> controls

    def backbone(self) -> str:
        """The backbone of the params: the chosen one, or for a library model the
        backbone whose preprocessing it uses (InceptionV3 when it rescales itself)."""
        data = str(self.backbone_combo.currentData())
        if data.startswith(LIBRARY_PREFIX):
            preprocessing = self._library_entry_meta().get("preprocessing", "none")
            return preprocessing if preprocessing in BACKBONE_NAMES else "inception_v3"
        return data

    def library_path(self) -> str | None:
        """The .keras file of the chosen library model, or None for a backbone."""
        data = str(self.backbone_combo.currentData())
        return data[len(LIBRARY_PREFIX) :] if data.startswith(LIBRARY_PREFIX) else None

    def _library_entry_meta(self) -> dict:
        path = self.library_path()
        if path is None:
            return {}
        from cnnstudio.core.library import read_sidecar

        return read_sidecar(path)

    def refresh_library(self) -> None:
        """List the models of the library after the backbones (keeps the choice)."""
        from cnnstudio.core import library

        chosen = self.backbone_combo.currentData()
        self.backbone_combo.blockSignals(True)
        try:
            while self.backbone_combo.count() > len(BACKBONE_NAMES):
                self.backbone_combo.removeItem(self.backbone_combo.count() - 1)
            try:
                entries = library.list_models()
            except (OSError, StudioError) as error:
                log.warning("model library not listed: %s", error)
                entries = []
            for entry in entries:
                self.backbone_combo.addItem(
                    f"Library: {entry.name}", LIBRARY_PREFIX + str(entry.path)
                )
                self.backbone_combo.setItemData(
                    self.backbone_combo.count() - 1, entry.describe(), Qt.ItemDataRole.ToolTipRole
                )
            index = self.backbone_combo.findData(chosen)
            self.backbone_combo.setCurrentIndex(max(index, 0))
        finally:
            self.backbone_combo.blockSignals(False)
        if self.backbone_combo.currentData() != chosen:
            self._backbone_changed()  # the chosen model left the library

    def select_library_model(self, name: str) -> bool:
        """Choose the library model called ``name``; False if there is none."""
        self.refresh_library()
        for index in range(len(BACKBONE_NAMES), self.backbone_combo.count()):
            if self.backbone_combo.itemText(index) == f"Library: {name}":
                self.backbone_combo.setCurrentIndex(index)
                return True
        return False

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh_library()
        if self._layers_stale:
            self._load_library_layers()

    def _load_library_layers(self) -> None:
        path = self.library_path()
        self._layers_stale = False
        if path is None or self.model_runner.running:
            return
        self._set_layer_names([], {})
        self._layers_loading = path
        self.status.emit(f"Loading the layers of {Path(path).stem}...")
        self.model_runner.run_function(_library_layers, path)
        self._update_buttons()

    def _on_library_layers(self, result: tuple[list[str], dict[str, int]]) -> None:
        names, channels = result
        weights = self._pending_weights
        self._pending_weights = None
        if not weights or not any(name in names for name in weights):
            weights = {names[-1]: 1.0} if names else {}  # the deepest spatial layer
        if self.library_path() != self._layers_loading:
            # another model was chosen while this one loaded: load that one's layers
            self._pending_weights = weights
            QTimer.singleShot(0, self._load_library_layers)
            return
        self._set_layer_names(list(names), weights, channels)
        self.status.emit(f"{Path(self._layers_loading).stem}: {len(names)} layers to dream on")

    def _on_library_failed(self, message: str) -> None:
        self.status.emit(message)
        self.show_error(message, self.model_runner.error_details)

    def params(self) -> DreamParams:
        """The parameters the controls describe."""
        channel = None
        if self.channel_check.isChecked():
            channel = (self.channel_layer.currentText(), int(self.channel_index.value()))
        layers = self.layer_weights()
        if not layers and channel is not None:
            layers = {channel[0]: 1.0}
        max_loss = self.max_loss_spin.value()
        seed = self.seed_spin.value()
        return DreamParams(
            backbone=self.backbone(),
            weights=self.weights_picker.value(),
            layers=layers,
            channel=channel,
            objective=str(self.objective_combo.currentData()),
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
        """Show ``params`` in the controls."""
        if self.library_path() is not None and (self.model_runner.running or self._layers_stale):
            self._pending_weights = dict(params.layers)  # applied when the layers arrive
        elif self.library_path() is not None:
            self._set_layer_names(self.layer_names(), dict(params.layers))
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

    def _backbone_changed(self) -> None:
        library_model = self.library_path() is not None
        self.weights_picker.setEnabled(not library_model)
        if library_model:
            self.tile_spin.setMinimum(32)
            if self.isVisible():
                self._load_library_layers()
            else:
                self._layers_stale = True  # load when the tab shows: no TensorFlow at start
        else:
            self._fill_layers(self.backbone())
            self.tile_spin.setMinimum(get_backbone(self.backbone()).min_size)
        # step sizes are in the network's input units (the core's rule, also the CLI's):
        # a step made for another input range (0.01 on [-1, 1] vs 1.275 on 0..255) is
        # replaced by the new network's default; a tweak of the same scale is kept
        default = self._default_step_size()
        if not default / 10 <= self.step_size_spin.value() <= default * 10:
            self.step_size_spin.setValue(default)
        self._update_buttons()

    def _default_step_size(self) -> float:
        """The chosen network's default step (dream.default_step_size)."""
        if self.library_path() is not None:
            preprocessing = self._library_entry_meta().get("preprocessing", "none")
            if preprocessing not in BACKBONE_NAMES:
                return dream_core.default_step_size(None)  # it takes 0..255 pixels
            return dream_core.default_step_size(preprocessing)
        return dream_core.default_step_size(self.backbone())

    def _preset_chosen(self, index: int) -> None:
        key = self.preset_combo.itemData(index)
        if not key:
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

    def _update_channel_controls(self) -> None:
        on = self.channel_check.isChecked()
        self.channel_layer.setEnabled(on)
        self.channel_index.setEnabled(on)
        self.layer_table.setEnabled(not on)

    def _update_source_controls(self) -> None:
        noise = self.from_noise.isChecked()
        self.noise_width.setEnabled(noise)
        self.noise_height.setEnabled(noise)

    def _update_buttons(self) -> None:
        running = self.runner.running
        self.run_button.setEnabled(not running and not self.model_runner.running)
        self.stop_button.setEnabled(running)
        self.save_button.setEnabled(self._result is not None and not running)
        self.send_button.setEnabled(self._result is not None and not running)
        self.controls.setEnabled(not running)
        self.open_button.setEnabled(not running)

    # ------------------------------------------------------------------ images in

    def ask_open_path(self) -> str | None:
        """An image file from a dialog (replaced in tests)."""
        return dialogs.ask_open_image(self, "Image to dream on")

    def _open_clicked(self) -> None:
        path = self.ask_open_path()
        if path:
            self.open_image(path)

    def open_image(self, path: str) -> None:
        """Load ``path`` as the picture to dream on; offer to restore embedded params."""
        if self.runner.running:
            self.status.emit("Stop the dream before opening another image")
            return
        image = self._load_picture(path)
        if image is None:
            return
        self.set_source(image, Path(path).name)
        self.status.emit(f"Opened {Path(path).name} ({image.shape[1]}x{image.shape[0]})")
        self._offer_params_from(path)

    def _offer_params_from(self, path: str) -> None:
        from cnnstudio.core import images

        try:
            meta = images.read_params(path)
            params = dream_core.params_from_metadata(meta)
        except (StudioError, ValueError, OSError) as error:
            self.status.emit(f"{Path(path).name}: its saved parameters are not usable ({error})")
            return
        if params is None or not self.ask_restore_params(path):
            return
        model_name = meta.get("model") if isinstance(meta, dict) else None
        if model_name and not self.select_library_model(str(model_name)):
            self.status.emit(
                f"{Path(path).name} was dreamed with the library model {model_name}, which "
                "is not in the library; its other parameters were restored"
            )
        elif not model_name and self.library_path() is not None:
            self.backbone_combo.setCurrentIndex(self.backbone_combo.findData(params.backbone))
        self.set_params(params)
        self.status.emit(f"Restored the parameters of {Path(path).name}")

    def set_source(self, image: np.ndarray, name: str = "image") -> None:
        """Dream on ``image`` (uint8 RGB) from now on."""
        self._source = np.ascontiguousarray(image)
        self._source_name = name
        self._result = None
        self.from_image.setChecked(True)
        self.source_label.setText(f"{name} ({image.shape[1]}x{image.shape[0]})")
        self.preview.set_reference(None)
        self.preview.set_image(self._source)
        self._update_buttons()

    def receive_image(self, image: object, role: str) -> None:
        if isinstance(image, np.ndarray):
            self.set_source(image, role or "image")
        else:
            super().receive_image(image, role)

    def source_image(self) -> np.ndarray | None:
        return self._source

    # ------------------------------------------------------------------ the job

    def run_job(self) -> None:
        if self.runner.running or self.model_runner.running:
            return
        params = self.params()
        try:
            dream_core.validate_params(params)
        except InputError as error:
            self.show_error(str(error))
            return
        noise = self.from_noise.isChecked()
        if not noise and self._source is None:
            self.status.emit(_LOAD_HINT)
            self.show_error(_LOAD_HINT)
            return
        image = None if noise else self._source
        noise_size = (int(self.noise_width.value()), int(self.noise_height.value()))
        self._run_params = params
        self._run_source = "noise" if noise else self._source_name
        self._reset_for_run(self._source if not noise else None)
        if noise:
            self.preview.set_image(None)
            self.preview.set_placeholder_text("Dreaming from noise...")
        from cnnstudio.core.backbones import weights_label

        model_path = self.library_path()
        self._run_model = Path(model_path).stem if model_path else None
        if model_path:
            label = f"library model {self._run_model}"
        else:
            label = f"{get_backbone(params.backbone).label}, {weights_label(params.weights)}"
        self._announce_run(label, "Dreaming")
        noise_arg = noise_size if noise else None
        if model_path:
            preprocessing = str(self._library_entry_meta().get("preprocessing", "none"))
            self.runner.run_generator(
                dream_with_library_model, image, params, model_path, preprocessing, noise_arg
            )
        else:
            self.runner.run_generator(dream_core.dream, image, params, noise_size=noise_arg)
        self._update_buttons()

    def _on_step(self, event: Progress) -> None:
        self.loss_plot.add_point("loss", event.step, event.loss)
        if len(event.terms) > 1:
            for name, value in event.terms.items():
                self.loss_plot.add_point(name, event.step, value)

    def _keep_result(self, image: np.ndarray, stopped_at: int | None) -> None:
        self._result = image
        self._result_params = self._run_params
        self._result_source = self._run_source
        self._result_model = self._run_model
        self._stopped_at = stopped_at
        self.preview.set_image(image)
        self.preview.set_placeholder_text("Drop an image here or press Ctrl+O")

    def _result_untrained(self) -> bool:
        from cnnstudio.core.backbones import is_untrained

        return (
            self._result_params is not None
            and self._result_model is None
            and is_untrained(self._result_params.weights)
        )

    def _on_failed(self, message: str) -> None:
        self.preview.set_placeholder_text("Drop an image here or press Ctrl+O")
        super()._on_failed(message)

    # ------------------------------------------------------------------ results out

    def send_result(self, tab_key: str, role: str) -> None:
        """Hand the dreamed picture to another tab (the window routes it)."""
        if self._result is not None:
            self.send_image.emit(tab_key, self._result.copy(), role)

    def ask_save_path(self) -> str | None:
        """Where to save (replaced in tests). QFileDialog asks before replacing a file."""
        stem = Path(self._result_source or "dream").stem
        return dialogs.ask_save_image(self, f"{stem}-dream.png", "Save dream")

    def _picture_to_save(self) -> tuple[np.ndarray, dict] | None:
        if self._result is None or self._result_params is None:
            return None
        height, width = self._result.shape[:2]
        meta = dream_core.dream_metadata(
            self._result_params,
            source=self._result_source or None,
            size=(width, height),
            model_name=self._result_model,
        )
        if self._stopped_at is not None:
            meta["stopped_at_step"] = int(self._stopped_at)
        return self._result, meta

    # ------------------------------------------------------------------ settings, shutdown

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
            index = self.backbone_combo.findData(LIBRARY_PREFIX + model_path)
            if index >= 0:
                self.backbone_combo.setCurrentIndex(index)  # layers load when the tab shows
        text = read_str(settings, "params", "")
        if text:
            try:
                self.set_params(dream_core.params_from_dict(json.loads(text)))
            except (ValueError, StudioError) as error:
                log.warning("dream settings not restored: %s", error)
        self.noise_width.setValue(read_int(settings, "noise_width", self.noise_width.value()))
        self.noise_height.setValue(read_int(settings, "noise_height", self.noise_height.value()))
        if read_str(settings, "source", "image") == "noise":
            self.from_noise.setChecked(True)
        self._update_source_controls()

    def shutdown(self) -> None:
        super().shutdown()
        self.model_runner.shutdown()
