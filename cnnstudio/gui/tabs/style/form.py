"""The Style tab's form: its controls <-> :class:`cnnstudio.core.style.StyleParams`.

:meth:`StyleForm.params` reads a StyleParams from the controls and
:meth:`StyleForm.set_params` shows one, which is also how settings and the parameters
embedded in a saved PNG restore the form. It also says how much memory a run needs for
the content picture the tab holds (:meth:`StyleForm.set_content_shape`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.errors import StudioError
from cnnstudio.core.style import memory as style_memory
from cnnstudio.core.style import params as style_params
from cnnstudio.core.style.params import LAYER_PRESETS, StyleParams
from cnnstudio.gui.messages import describe
from cnnstudio.gui.settings import read_params, restore_spin_box
from cnnstudio.gui.tabs.style.layer_table import StyleLayerTable
from cnnstudio.gui.widgets.preset_box import PresetBox, watch_controls
from cnnstudio.gui.widgets.spin_boxes import double_spin_box, spin_box
from cnnstudio.gui.widgets.weights_picker import WeightsPicker

log = logging.getLogger(__name__)

CUSTOM_PRESET = "custom"
_OPTIMIZER_LABELS = {"adam": "Adam (TF tutorial)", "lbfgs": "L-BFGS (Gatys, scipy)"}
_INIT_LABELS = {"content": "Content", "noise": "Noise", "style": "Style"}
_COLOR_LABELS = {
    "none": "No (take the style's colours)",
    "luminance": "Keep content colours (luminance only)",
    "match": "Recolour the style to the content",
}


class StyleForm(QWidget):
    """The parameters of a style transfer: a Presets list of whole recipes over four
    groups: the network and its layers, the loss weights, the optimiser and the result.
    It starts with the CPU-friendly recipe (:meth:`use_device_defaults` moves a form
    nobody has touched to the tutorial's on a GPU)."""

    #: any control changed (the tab re-estimates the time)
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._content_shape: tuple[int, ...] | None = None
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(self._build_preset_row())
        column.addWidget(self._build_network_group())
        column.addWidget(self._build_loss_group())
        column.addWidget(self._build_optimiser_group())
        column.addWidget(self._build_result_group())
        column.addStretch(1)
        self.preset_combo.activated.connect(self._preset_chosen)
        self.layer_table.edited.connect(self._layers_edited)
        self.optimizer_combo.currentIndexChanged.connect(self._optimizer_changed)
        self.size_spin.valueChanged.connect(self._update_memory)
        self.multi_scale_check.toggled.connect(self._update_memory)
        self.recipe_combo.preset_chosen.connect(self.apply_preset)
        watch_controls(self, self._controls_changed, skip=(self.recipe_combo,))
        self.layer_table.edited.connect(self._controls_changed)
        self.set_params(self.start_params(gpu=False))

    # ------------------------------------------------------------------ recipes

    def _build_preset_row(self) -> QFormLayout:
        """Whole recipes (size, optimiser, iterations): "Custom" once anything differs."""
        self.recipe_combo = PresetBox(style_params.STYLE_PRESET_LABELS, self._matches_recipe)
        self.recipe_combo.setObjectName("stylePreset")
        self.recipe_combo.setToolTip(
            "A whole recipe: size, optimiser and iterations ('Custom' once you change any "
            "of them). Quick look: a first impression in about a minute on a CPU"
        )
        row = QFormLayout()
        row.setContentsMargins(4, 4, 4, 0)
        row.addRow("Presets", self.recipe_combo)
        return row

    def _matches_recipe(self, key: str) -> bool:
        return style_params.matches_preset(key, self.params())

    def apply_preset(self, key: str) -> None:
        """Recipe ``key`` into the controls (the other values stay)."""
        self.set_params(style_params.preset_params(key, base=self.params()))

    def _controls_changed(self) -> None:
        self.recipe_combo.refresh()
        self.changed.emit()

    @staticmethod
    def start_params(gpu: bool) -> StyleParams:
        """Where the form starts: the tutorial's recipe on a GPU; on a CPU, where it
        would take over ten minutes, the CPU-friendly one (384 px, 150 iterations)."""
        return style_params.preset_params("tutorial" if gpu else "cpu")

    def use_device_defaults(self, gpu: bool) -> bool:
        """Once the device is known: a form still at the CPU start moves to the GPU's
        (True when it changed). Anything the user set, or restored settings, stay."""
        if not gpu or self.params() != self.start_params(gpu=False):
            return False
        self.set_params(self.start_params(gpu=True))
        return True

    # ------------------------------------------------------------------ the groups

    def _build_network_group(self) -> QGroupBox:
        """VGG19's weights, a layer preset and the layer table."""
        box = QGroupBox("Network and layers")
        layout = QVBoxLayout(box)
        form = QFormLayout()
        self.weights_picker = WeightsPicker()
        self.weights_picker.setObjectName("styleWeights")
        form.addRow("VGG19 weights", self.weights_picker)
        self.preset_combo = QComboBox()
        self.preset_combo.setObjectName("styleLayers")
        for key, preset in LAYER_PRESETS.items():
            self.preset_combo.addItem(preset.label, key)
        self.preset_combo.addItem("Custom (table below)", CUSTOM_PRESET)
        self.preset_combo.setToolTip(
            "Which layers carry the content and the style; edit the table for your own"
        )
        form.addRow("Layers", self.preset_combo)
        layout.addLayout(form)
        self.layer_table = StyleLayerTable()
        self.layer_table.setObjectName("styleLayerTable")
        layout.addWidget(self.layer_table)
        return box

    def _build_loss_group(self) -> QGroupBox:
        """How much content, style and smoothness weigh."""
        box = QGroupBox("Loss weights")
        form = QFormLayout(box)
        # relative importances: the loss terms are normalised (core/perceptual.py)
        defaults = StyleParams()
        self.content_weight_spin = double_spin_box(
            0.0, 1e4, defaults.content_weight, 0.1, 3, "styleContentWeight",
            "how much the content must survive (relative to the style)",
        )  # fmt: skip
        self.style_weight_spin = double_spin_box(
            0.0, 1e4, defaults.style_weight, 1.0, 3, "styleStyleWeight",
            "how strongly the style is painted (10: ten times the content's weight)",
        )  # fmt: skip
        self.tv_weight_spin = double_spin_box(
            0.0, 1e4, defaults.tv_weight, 0.1, 3, "styleTvWeight",
            "total variation: smooths noise (0: off)",
        )  # fmt: skip
        form.addRow("Content", self.content_weight_spin)
        form.addRow("Style", self.style_weight_spin)
        form.addRow("Smoothness (TV)", self.tv_weight_spin)
        return box

    def _build_optimiser_group(self) -> QGroupBox:
        """Adam or L-BFGS, and their iterations, learning rate or evaluations."""
        box = QGroupBox("Optimiser")
        form = QFormLayout(box)
        self.optimizer_combo = QComboBox()
        self.optimizer_combo.setObjectName("styleOptimizer")
        self.optimizer_combo.setToolTip(
            "Adam: one compiled step per iteration (TF tutorial). L-BFGS: scipy's "
            "optimiser, several loss evaluations per iteration, lower loss sooner (Gatys)"
        )
        for key in style_params.OPTIMIZERS:
            self.optimizer_combo.addItem(_OPTIMIZER_LABELS[key], key)
        self.steps_spin = spin_box(
            1, 100000, style_params.ADAM_DEFAULT_STEPS, "styleSteps",
            "optimiser iterations (per scale in multi-scale mode)",
        )  # fmt: skip
        self.lr_spin = double_spin_box(
            0.0001, 100.0, 0.02, 0.005, 4, "styleLearningRate", "Adam step on 0..1 pixels"
        )
        self.evaluations_spin = spin_box(
            1, 1000, 20, "styleLbfgsEvaluations", "loss evaluations per L-BFGS iteration"
        )
        form.addRow("Method", self.optimizer_combo)
        form.addRow("Iterations", self.steps_spin)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Evaluations / iteration", self.evaluations_spin)
        return box

    def _build_result_group(self) -> QGroupBox:
        """Size, style scale, start, colours, coarse to fine, seed, snapshots, memory."""
        box = QGroupBox("Result")
        form = QFormLayout(box)
        self.size_spin = spin_box(32, 8192, 512, "styleSize", "longest side of the result in px")
        self.style_scale_spin = double_spin_box(
            0.05, 4.0, 1.0, 0.1, 2, "styleStyleScale",
            "style picture size relative to the result (smaller: finer brush strokes)",
        )  # fmt: skip
        self.init_combo = QComboBox()
        self.init_combo.setObjectName("styleInit")
        self.init_combo.setToolTip("The picture the optimisation starts from")
        for key in style_params.INITS:
            self.init_combo.addItem(_INIT_LABELS[key], key)
        self.colors_combo = QComboBox()
        self.colors_combo.setObjectName("stylePreserveColors")
        self.colors_combo.setToolTip(
            "Keep the content's colours: transfer only the luminance, or recolour the "
            "style pictures to the content first"
        )
        for key in style_params.COLOR_MODES:
            self.colors_combo.addItem(_COLOR_LABELS[key], key)
        self.multi_scale_check = QCheckBox("Coarse to fine (1/4, 1/2, full size)")
        self.multi_scale_check.setObjectName("styleMultiScale")
        self.multi_scale_check.setToolTip(
            "Optimise at a quarter, then half, then full size: larger brush strokes, and "
            "the full size starts from a painted picture"
        )
        self.seed_spin = spin_box(-1, 2**31 - 1, -1, "styleSeed", "-1: a new seed every run")
        self.seed_spin.setSpecialValueText("random")
        self.snapshot_spin = spin_box(
            1, 100000, 25, "styleSnapshotEvery", "keep a snapshot every N iterations"
        )
        self.memory_label = QLabel("")
        self.memory_label.setObjectName("styleMemoryLabel")
        self.memory_label.setWordWrap(True)
        form.addRow("Size (px)", self.size_spin)
        form.addRow("Style scale", self.style_scale_spin)
        form.addRow("Start from", self.init_combo)
        form.addRow("Colours", self.colors_combo)
        form.addRow(self.multi_scale_check)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Snapshot every", self.snapshot_spin)
        form.addRow(self.memory_label)
        return box

    # ------------------------------------------------------------------ layer presets

    def _matching_preset(self) -> str:
        content, style = self.layer_table.layer_weights()
        for key, preset in LAYER_PRESETS.items():
            if content == dict.fromkeys(preset.content_layers, 1.0) and style == dict.fromkeys(
                preset.style_layers, 1.0
            ):
                return key
        return CUSTOM_PRESET

    def _preset_chosen(self, index: int) -> None:
        key = self.preset_combo.itemData(index)
        if key in LAYER_PRESETS:
            preset = LAYER_PRESETS[key]
            self.layer_table.set_layer_weights(
                dict.fromkeys(preset.content_layers, 1.0), dict.fromkeys(preset.style_layers, 1.0)
            )
            self._update_memory()

    def _layers_edited(self) -> None:
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(self._matching_preset()))
        self._update_memory()

    # ------------------------------------------------------------------ params <-> controls

    def params(self) -> StyleParams:
        """The parameters the controls describe."""
        preset = self._matching_preset()
        content, style = self.layer_table.layer_weights()
        seed = int(self.seed_spin.value())
        return StyleParams(
            weights=self.weights_picker.value(),
            layers=preset if preset != CUSTOM_PRESET else "cookbook",
            content_layers=None if preset != CUSTOM_PRESET else content,
            style_layers=None if preset != CUSTOM_PRESET else style,
            content_weight=float(self.content_weight_spin.value()),
            style_weight=float(self.style_weight_spin.value()),
            tv_weight=float(self.tv_weight_spin.value()),
            optimizer=str(self.optimizer_combo.currentData()),
            steps=int(self.steps_spin.value()),
            learning_rate=float(self.lr_spin.value()),
            lbfgs_evaluations=int(self.evaluations_spin.value()),
            size=int(self.size_spin.value()),
            style_scale=float(self.style_scale_spin.value()),
            init=str(self.init_combo.currentData()),
            preserve_colors=str(self.colors_combo.currentData()),
            multi_scale=self.multi_scale_check.isChecked(),
            seed=None if seed < 0 else seed,
        )

    def set_params(self, params: StyleParams) -> None:
        """Show ``params`` in the controls, all or nothing: they are validated first
        (InputError, nothing changed), and a failure half-way puts the old ones back."""
        params.validate()
        previous = self.params()
        try:
            self._show_params(params)
        except Exception:
            self._show_params(previous)
            raise

    def _show_params(self, params: StyleParams) -> None:
        self.weights_picker.set_value(params.weights)
        content, style = params.layer_weights()
        self.layer_table.set_layer_weights(content, style)
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(self._matching_preset()))
        self.content_weight_spin.setValue(params.content_weight)
        self.style_weight_spin.setValue(params.style_weight)
        self.tv_weight_spin.setValue(params.tv_weight)
        self.optimizer_combo.blockSignals(True)
        self.optimizer_combo.setCurrentIndex(
            max(self.optimizer_combo.findData(params.optimizer), 0)
        )
        self.optimizer_combo.blockSignals(False)
        self.steps_spin.setValue(params.total_steps())
        self.lr_spin.setValue(params.learning_rate)
        self.evaluations_spin.setValue(params.lbfgs_evaluations)
        self.size_spin.setValue(params.size)
        self.style_scale_spin.setValue(params.style_scale)
        self.init_combo.setCurrentIndex(max(self.init_combo.findData(params.init), 0))
        self.colors_combo.setCurrentIndex(
            max(self.colors_combo.findData(params.preserve_colors), 0)
        )
        self.multi_scale_check.setChecked(params.multi_scale)
        self.seed_spin.setValue(-1 if params.seed is None else int(params.seed))
        self._optimizer_controls()
        self._update_memory()

    def snapshot_every(self) -> int:
        """Keep a snapshot of the picture every this many iterations."""
        return int(self.snapshot_spin.value())

    def _optimizer_changed(self) -> None:
        # each optimiser counts iterations differently: switch to its default count
        adam = self.optimizer_combo.currentData() == "adam"
        self.steps_spin.setValue(
            style_params.ADAM_DEFAULT_STEPS if adam else style_params.LBFGS_DEFAULT_STEPS
        )
        self._optimizer_controls()

    def _optimizer_controls(self) -> None:
        adam = self.optimizer_combo.currentData() == "adam"
        self.lr_spin.setEnabled(adam)
        self.evaluations_spin.setEnabled(not adam)

    # ------------------------------------------------------------------ memory

    def set_content_shape(self, shape: Sequence[int] | None) -> None:
        """The content picture's shape (H, W, 3): the memory line estimates for it."""
        self._content_shape = None if shape is None else tuple(shape)
        self._update_memory()

    def _update_memory(self) -> None:
        shape = self._content_shape
        if shape is None:
            self.memory_label.setText("")
            return
        try:
            params = self.params()
            needed = style_memory.estimate_memory(params, shape)
        except StudioError as error:
            self.memory_label.setText(describe(error))
            return
        available = style_memory.available_memory()
        height, width = style_params.output_size(shape, params.size)
        verdict = ""
        if needed > available:
            fits = style_memory.fitting_size(params, shape, available)
            verdict = f" - too large: {fits} px fits"
        self.memory_label.setText(
            f"{width}x{height} px needs about {needed / 2**30:.1f} GB "
            f"({available / 2**30:.1f} GB free){verdict}"
        )

    # ------------------------------------------------------------------ settings

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("params", json.dumps(dataclasses.asdict(self.params())))
        settings.setValue("snapshot_every", self.snapshot_spin.value())

    def restore_settings(self, settings: QSettings) -> None:
        # each value validated (a bad one is ignored with a notice), then set all at once
        params = read_params(settings, "params", style_params.params_from_metadata)
        if params is not None:
            self.set_params(params)
        restore_spin_box(settings, "snapshot_every", self.snapshot_spin)
