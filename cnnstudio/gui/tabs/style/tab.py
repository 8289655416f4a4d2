"""The Style tab: neural style transfer with a live preview.

A content slot and one or more weighted style images on the left with every parameter of
:class:`cnnstudio.core.style.StyleParams`; the picture changing live, snapshots to step
back through, the progress and the three loss terms on the right. The controls map to a
StyleParams (:meth:`StyleTab.params`) and back (:meth:`StyleTab.set_params`), which is also
how settings and the parameters embedded in a saved PNG restore the tab. The job is
``core.style.stylize``, run by a :class:`JobRunner`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core import style as style_core
from cnnstudio.core.errors import InputError, StudioError
from cnnstudio.core.events import Preview, Progress
from cnnstudio.core.style import LAYER_PRESETS, StyleParams
from cnnstudio.gui.settings import read_int, read_str
from cnnstudio.gui.tabs.image_job import ImageJobTab, double_spin_box, spin_box
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.image_view import ImageView, array_to_qimage
from cnnstudio.gui.widgets.plots import LossPlot
from cnnstudio.gui.widgets.progress import JobProgress
from cnnstudio.gui.widgets.weights_picker import WeightsPicker
from cnnstudio.gui.workers import JobRunner

log = logging.getLogger(__name__)

#: the VGG19 layers offered in the layer table: every convolution
CONV_LAYERS = tuple(n for n in style_core.VGG19_LAYER_NAMES if "conv" in n)
CUSTOM_PRESET = "custom"
_THUMB = 48
_OPTIMIZER_LABELS = {"adam": "Adam (TF tutorial)", "lbfgs": "L-BFGS (Gatys, scipy)"}
_INIT_LABELS = {"content": "Content", "noise": "Noise", "style": "Style"}
_COLOR_LABELS = {
    "none": "No (take the style's colours)",
    "luminance": "Keep content colours (luminance only)",
    "match": "Recolour the style to the content",
}
_HINT = "Drop a content picture and at least one style picture, then press Run"


def _thumbnail(image: np.ndarray) -> QIcon:
    pixmap = QPixmap.fromImage(array_to_qimage(image)).scaled(
        _THUMB,
        _THUMB,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    return QIcon(pixmap)


@dataclasses.dataclass
class _StyleImage:
    name: str
    image: np.ndarray


class StyleTab(ImageJobTab):
    """Neural style transfer: pictures and parameters left, live result right."""

    title = "Style"
    settings_key = "style"
    object_prefix = "style"
    job_name = "Style"
    made_verb = "painted"
    stopped_text = "Stopped at step {step}: the picture so far can be saved"
    nothing_to_save = "Nothing to save yet: run a style transfer first"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("styleTab")
        self.runner = JobRunner("Style", self)
        self._content: np.ndarray | None = None
        self._content_name = ""
        self._styles: list[_StyleImage] = []
        self._run_params: StyleParams | None = None
        self._run_meta: dict = {}
        self._result: np.ndarray | None = None
        self._result_meta: dict = {}
        self._last_preview: Preview | None = None
        self._last_step = 0
        self._progress_text = ""  # the bar's text after the latest Progress
        self._eta: style_core.StageEta | None = None  # multi-scale ETA, per run
        #: (step, picture) every N steps of the current or last run, the final one last
        self.snapshots: list[tuple[int, np.ndarray]] = []
        self._next_snapshot = 0
        self._build_ui()
        self._connect()
        self.set_params(StyleParams())
        self._update_buttons()

    # ------------------------------------------------------------------ construction

    def _build_ui(self) -> None:
        controls = QWidget()
        column = QVBoxLayout(controls)
        column.setContentsMargins(4, 4, 4, 4)

        # the pictures
        pictures = QGroupBox("Pictures")
        pictures_layout = QVBoxLayout(pictures)
        slots = QHBoxLayout()
        content_column = QVBoxLayout()
        content_column.addWidget(QLabel("Content"))
        self.content_slot = ImageView(placeholder="Drop the content picture")
        self.content_slot.setObjectName("styleContentSlot")
        self.content_slot.setMinimumSize(140, 110)
        content_column.addWidget(self.content_slot, 1)
        self.open_content_button = QPushButton("Open content...")
        self.open_content_button.setObjectName("styleOpenContentButton")
        content_column.addWidget(self.open_content_button)
        style_column = QVBoxLayout()
        style_column.addWidget(QLabel("Style (drop to add)"))
        self.style_slot = ImageView(placeholder="Drop style pictures")
        self.style_slot.setObjectName("styleStyleSlot")
        self.style_slot.setMinimumSize(140, 110)
        style_column.addWidget(self.style_slot, 1)
        self.add_style_button = QPushButton("Add style...")
        self.add_style_button.setObjectName("styleAddStyleButton")
        style_column.addWidget(self.add_style_button)
        slots.addLayout(content_column)
        slots.addLayout(style_column)
        pictures_layout.addLayout(slots)
        self.style_table = QTableWidget(0, 2)
        self.style_table.setObjectName("styleStyleList")
        self.style_table.setHorizontalHeaderLabels(["Style picture", "Weight"])
        self.style_table.verticalHeader().setVisible(False)
        self.style_table.setIconSize(QSize(_THUMB, _THUMB))
        header = self.style_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.style_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.style_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.style_table.setMinimumHeight(90)
        self.style_table.setToolTip("Several styles are blended by their weights")
        pictures_layout.addWidget(self.style_table)
        self.remove_style_button = QPushButton("Remove style")
        self.remove_style_button.setObjectName("styleRemoveStyleButton")
        pictures_layout.addWidget(self.remove_style_button)
        column.addWidget(pictures)

        # the network and its layers
        network = QGroupBox("Network and layers")
        network_layout = QVBoxLayout(network)
        net_form = QFormLayout()
        self.weights_picker = WeightsPicker()
        self.weights_picker.setObjectName("styleWeights")
        net_form.addRow("VGG19 weights", self.weights_picker)
        self.preset_combo = QComboBox()
        self.preset_combo.setObjectName("styleLayers")
        for key, preset in LAYER_PRESETS.items():
            self.preset_combo.addItem(preset.label, key)
        self.preset_combo.addItem("Custom (table below)", CUSTOM_PRESET)
        self.preset_combo.setToolTip(
            "Which layers carry the content and the style; edit the table for your own"
        )
        net_form.addRow("Layers", self.preset_combo)
        network_layout.addLayout(net_form)
        self.layer_table = QTableWidget(len(CONV_LAYERS), 3)
        self.layer_table.setObjectName("styleLayerTable")
        self.layer_table.setHorizontalHeaderLabels(["Layer", "Content", "Style"])
        self.layer_table.verticalHeader().setVisible(False)
        layer_header = self.layer_table.horizontalHeader()
        layer_header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.layer_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.layer_table.setMinimumHeight(160)
        self.layer_table.setToolTip(
            "Weight of each layer in the content and style loss (0: unused)"
        )
        self._layer_spins: dict[tuple[str, str], QDoubleSpinBox] = {}
        for row, name in enumerate(CONV_LAYERS):
            item = QTableWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.layer_table.setItem(row, 0, item)
            for col, kind in ((1, "content"), (2, "style")):
                spin = double_spin_box(0.0, 100.0, 0.0, 0.5, 2, f"style_{kind}_{name}")
                spin.setSpecialValueText("-")
                self.layer_table.setCellWidget(row, col, spin)
                self._layer_spins[(kind, name)] = spin
        network_layout.addWidget(self.layer_table)
        column.addWidget(network)

        # the loss
        loss = QGroupBox("Loss weights")
        loss_form = QFormLayout(loss)
        self.content_weight_spin = double_spin_box(
            0.0, 1e9, 1e4, 1000.0, 2, "styleContentWeight", "how much the content must survive"
        )
        self.style_weight_spin = double_spin_box(
            0.0, 1e9, 1e-2, 0.01, 6, "styleStyleWeight", "how strongly the style is painted"
        )
        self.tv_weight_spin = double_spin_box(
            0.0, 1e9, 30.0, 5.0, 4, "styleTvWeight", "total variation: smooths noise"
        )
        loss_form.addRow("Content", self.content_weight_spin)
        loss_form.addRow("Style", self.style_weight_spin)
        loss_form.addRow("Smoothness (TV)", self.tv_weight_spin)
        column.addWidget(loss)

        # the optimiser
        optimiser = QGroupBox("Optimiser")
        opt_form = QFormLayout(optimiser)
        self.optimizer_combo = QComboBox()
        self.optimizer_combo.setObjectName("styleOptimizer")
        for key in style_core.OPTIMIZERS:
            self.optimizer_combo.addItem(_OPTIMIZER_LABELS[key], key)
        self.steps_spin = spin_box(
            1, 100000, style_core.ADAM_DEFAULT_STEPS, "styleSteps",
            "optimiser iterations (per scale in multi-scale mode)",
        )  # fmt: skip
        self.lr_spin = double_spin_box(
            0.0001, 100.0, 0.02, 0.005, 4, "styleLearningRate", "Adam step on 0..1 pixels"
        )
        self.evaluations_spin = spin_box(
            1, 1000, 20, "styleLbfgsEvaluations", "loss evaluations per L-BFGS iteration"
        )
        opt_form.addRow("Method", self.optimizer_combo)
        opt_form.addRow("Iterations", self.steps_spin)
        opt_form.addRow("Learning rate", self.lr_spin)
        opt_form.addRow("Evaluations / iteration", self.evaluations_spin)
        column.addWidget(optimiser)

        # the picture
        picture = QGroupBox("Result")
        picture_form = QFormLayout(picture)
        self.size_spin = spin_box(32, 8192, 512, "styleSize", "longest side of the result in px")
        self.style_scale_spin = double_spin_box(
            0.05, 4.0, 1.0, 0.1, 2, "styleStyleScale",
            "style picture size relative to the result (smaller: finer brush strokes)",
        )  # fmt: skip
        self.init_combo = QComboBox()
        self.init_combo.setObjectName("styleInit")
        for key in style_core.INITS:
            self.init_combo.addItem(_INIT_LABELS[key], key)
        self.colors_combo = QComboBox()
        self.colors_combo.setObjectName("stylePreserveColors")
        for key in style_core.COLOR_MODES:
            self.colors_combo.addItem(_COLOR_LABELS[key], key)
        self.multi_scale_check = QCheckBox("Coarse to fine (1/4, 1/2, full size)")
        self.multi_scale_check.setObjectName("styleMultiScale")
        self.seed_spin = spin_box(-1, 2**31 - 1, -1, "styleSeed", "-1: a new seed every run")
        self.seed_spin.setSpecialValueText("random")
        self.snapshot_spin = spin_box(
            1, 100000, 25, "styleSnapshotEvery", "keep a snapshot every N iterations"
        )
        self.memory_label = QLabel("")
        self.memory_label.setObjectName("styleMemoryLabel")
        self.memory_label.setWordWrap(True)
        picture_form.addRow("Size (px)", self.size_spin)
        picture_form.addRow("Style scale", self.style_scale_spin)
        picture_form.addRow("Start from", self.init_combo)
        picture_form.addRow("Colours", self.colors_combo)
        picture_form.addRow(self.multi_scale_check)
        picture_form.addRow("Seed", self.seed_spin)
        picture_form.addRow("Snapshot every", self.snapshot_spin)
        picture_form.addRow(self.memory_label)
        column.addWidget(picture)
        column.addStretch(1)

        # the live result, snapshots, progress and loss
        self.snapshot_slider = QSlider(Qt.Orientation.Horizontal)
        self.snapshot_slider.setObjectName("styleSnapshotSlider")
        self.snapshot_slider.setRange(0, 0)
        self.snapshot_slider.setToolTip("Step back through the snapshots (right end: latest)")
        self.snapshot_label = QLabel("No snapshots yet")
        self.snapshot_label.setObjectName("styleSnapshotLabel")
        snapshot_bar = QHBoxLayout()
        snapshot_bar.addWidget(QLabel("Snapshots"))
        snapshot_bar.addWidget(self.snapshot_slider, 1)
        snapshot_bar.addWidget(self.snapshot_label)
        loss_plot = LossPlot(x_label="iteration", y_label="loss (log)")
        loss_plot.set_log_y(True)  # content, style and TV differ by decades
        self._build_job_layout(
            controls,
            button_tips=(
                "Start painting",
                "Stop after the current iteration",
                "Save the picture shown (with its parameters)",
            ),
            placeholder=_HINT,
            compare_tip="Shows the content picture while pressed",
            fit_tip="Fit the picture to the view (the wheel zooms)",
            progress=JobProgress(stage_name="Scale"),
            loss_plot=loss_plot,
            under_preview=snapshot_bar,
        )

    def _connect(self) -> None:
        self._connect_job()
        self.open_content_button.clicked.connect(self._open_content_clicked)
        self.add_style_button.clicked.connect(self._add_style_clicked)
        self.remove_style_button.clicked.connect(self.remove_selected_style)
        self.content_slot.image_dropped.connect(self.open_image)
        # several style pictures may be dropped at once: each becomes a style
        self.style_slot.images_dropped.connect(self.add_style_files)
        self.style_table.currentCellChanged.connect(self._style_row_changed)
        self.preset_combo.activated.connect(self._preset_chosen)
        for spin in self._layer_spins.values():
            spin.valueChanged.connect(self._layers_edited)
        self.optimizer_combo.currentIndexChanged.connect(self._optimizer_changed)
        self.size_spin.valueChanged.connect(self._update_memory)
        self.multi_scale_check.toggled.connect(self._update_memory)
        self.snapshot_slider.valueChanged.connect(self._show_snapshot)

    # ------------------------------------------------------------------ layers

    def layer_weights(self) -> tuple[dict[str, float], dict[str, float]]:
        """({content layer: weight}, {style layer: weight}) of the non-zero table cells."""
        content, style = {}, {}
        for name in CONV_LAYERS:
            for kind, target in (("content", content), ("style", style)):
                value = float(self._layer_spins[(kind, name)].value())
                if value > 0:
                    target[name] = value
        return content, style

    def set_layer_weights(self, content: dict[str, float], style: dict[str, float]) -> None:
        for name in CONV_LAYERS:
            for kind, weights in (("content", content), ("style", style)):
                spin = self._layer_spins[(kind, name)]
                spin.blockSignals(True)
                spin.setValue(float(weights.get(name, 0.0)))
                spin.blockSignals(False)

    def _matching_preset(self) -> str:
        content, style = self.layer_weights()
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
            self.set_layer_weights(
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
        content, style = self.layer_weights()
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
        """Show ``params`` in the controls."""
        self.weights_picker.set_value(params.weights)
        content, style = params.layer_weights()
        self.set_layer_weights(content, style)
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

    def _optimizer_changed(self) -> None:
        # each optimiser counts iterations differently: switch to its default count
        adam = self.optimizer_combo.currentData() == "adam"
        self.steps_spin.setValue(
            style_core.ADAM_DEFAULT_STEPS if adam else style_core.LBFGS_DEFAULT_STEPS
        )
        self._optimizer_controls()

    def _optimizer_controls(self) -> None:
        adam = self.optimizer_combo.currentData() == "adam"
        self.lr_spin.setEnabled(adam)
        self.evaluations_spin.setEnabled(not adam)

    def _update_memory(self) -> None:
        if self._content is None:
            self.memory_label.setText("")
            return
        try:
            params = self.params()
            needed = style_core.estimate_memory(params, self._content.shape)
        except StudioError as error:
            self.memory_label.setText(str(error))
            return
        available = style_core.available_memory()
        height, width = style_core.output_size(self._content.shape, params.size)
        verdict = ""
        if needed > available:
            fits = style_core.fitting_size(params, self._content.shape, available)
            verdict = f" - too large: {fits} px fits"
        self.memory_label.setText(
            f"{width}x{height} px needs about {needed / 2**30:.1f} GB "
            f"({available / 2**30:.1f} GB free){verdict}"
        )

    def _update_buttons(self) -> None:
        running = self.runner.running
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.save_button.setEnabled(self.shown_picture() is not None and not running)
        self.controls.setEnabled(not running)

    # ------------------------------------------------------------------ pictures in

    def ask_open_path(self, title: str = "Content picture") -> str | None:
        """An image file from a dialog (replaced in tests)."""
        return dialogs.ask_open_image(self, title)

    def ask_open_paths(self, title: str = "Style pictures") -> list[str]:
        """Image files from a dialog that allows several (replaced in tests)."""
        from PySide6.QtWidgets import QFileDialog

        from cnnstudio.gui.settings import last_folder, remember_folder

        paths, _ = QFileDialog.getOpenFileNames(
            self, title, last_folder(), dialogs.image_file_filter()
        )
        if paths:
            remember_folder(paths[0])
        return list(paths)

    def _open_content_clicked(self) -> None:
        path = self.ask_open_path("Content picture")
        if path:
            self.open_image(path)

    def _add_style_clicked(self) -> None:
        self.add_style_files(self.ask_open_paths("Style pictures"))

    def open_image(self, path: str) -> None:
        """Use ``path`` as the content picture; offer to restore embedded parameters."""
        if self.runner.running:
            self.status.emit("Stop the run before changing the pictures")
            return
        image = self._load_picture(path)
        if image is None:
            return
        self.set_content(image, Path(path).name)
        self.status.emit(f"Content: {Path(path).name} ({image.shape[1]}x{image.shape[0]})")
        self._offer_params_from(path)

    def _offer_params_from(self, path: str) -> None:
        from cnnstudio.core import images

        try:
            meta = images.read_params(path)
        except (StudioError, OSError):
            return
        if not meta or meta.get("job") != "style":
            return
        try:
            params = style_core.params_from_metadata(meta)
            params.validate()
        except (StudioError, TypeError, ValueError) as error:
            self.status.emit(f"{Path(path).name}: its saved parameters are not usable ({error})")
            return
        if self.ask_restore_params(path):
            message = f"Restored the parameters of {Path(path).name}"
            weights = params.weights
            if weights not in ("imagenet", "random") and not Path(weights).is_file():
                # a weights file that is gone: keep the current choice, and say so
                params = dataclasses.replace(params, weights=self.weights_picker.value())
                message += (
                    f"; its weights file {weights} no longer exists, so the weights stay "
                    f"'{self.weights_picker.currentText()}': choose the file again"
                )
            self.set_params(params)
            self.status.emit(message)

    def set_content(self, image: np.ndarray, name: str = "content") -> None:
        """Paint ``image`` (uint8 RGB) from now on."""
        self._content = np.ascontiguousarray(image)
        self._content_name = name
        self.content_slot.set_image(self._content)
        self.content_slot.setToolTip(name)
        self.preview.set_reference(self._content)
        if self._result is None and not self.runner.running:
            self.preview.set_image(self._content)
        self._update_memory()
        self._update_buttons()

    def add_style_file(self, path: str) -> None:
        """Add the picture at ``path`` to the styles (weight 1)."""
        if self.runner.running:
            self.status.emit("Stop the run before changing the pictures")
            return
        image = self._load_picture(path)
        if image is not None:
            self.add_style(image, Path(path).name)
            self.status.emit(f"Style added: {Path(path).name}")

    def add_style_files(self, paths: list[str]) -> None:
        """Add each picture in ``paths`` as a style (weight 1); unreadable ones are reported."""
        if self.runner.running:
            self.status.emit("Stop the run before changing the pictures")
            return
        added = []
        for path in paths:
            image = self._load_picture(path)
            if image is not None:
                self.add_style(image, Path(path).name)
                added.append(Path(path).name)
        if added:
            self.status.emit(f"Style added: {', '.join(added)}")

    def add_style(self, image: np.ndarray, name: str = "style", weight: float = 1.0) -> None:
        """Add a style picture (uint8 RGB) with a blend weight."""
        self._styles.append(_StyleImage(name, np.ascontiguousarray(image)))
        row = self.style_table.rowCount()
        self.style_table.insertRow(row)
        item = QTableWidgetItem(_thumbnail(image), name)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        item.setToolTip(f"{name} ({image.shape[1]}x{image.shape[0]})")
        self.style_table.setItem(row, 0, item)
        self.style_table.setCellWidget(
            row, 1, double_spin_box(0.0, 100.0, weight, 0.1, 2, f"styleBlend{row}", "blend weight")
        )
        self.style_table.setRowHeight(row, _THUMB + 4)
        self.style_table.setCurrentCell(row, 0)
        self.style_slot.set_image(image)

    def remove_selected_style(self) -> None:
        row = self.style_table.currentRow()
        if row < 0 or row >= len(self._styles) or self.runner.running:
            return
        del self._styles[row]
        self.style_table.removeRow(row)
        self._style_row_changed(self.style_table.currentRow())

    def _style_row_changed(self, row: int, *_: object) -> None:
        if 0 <= row < len(self._styles):
            self.style_slot.set_image(self._styles[row].image)
        elif not self._styles:
            self.style_slot.set_image(None)

    def style_blend(self) -> list[float]:
        """The blend weight of each style picture, in order."""
        return [float(self.style_table.cellWidget(r, 1).value()) for r in range(len(self._styles))]

    def receive_image(self, image: object, role: str) -> None:
        """From another tab: role "style" adds a style, anything else sets the content."""
        if isinstance(image, np.ndarray):
            if role == "style":
                self.add_style(image, "style")
            else:
                self.set_content(image, role or "content")
        elif isinstance(image, str) and role == "style":
            self.add_style_file(image)
        else:
            super().receive_image(image, role)

    # ------------------------------------------------------------------ the job

    def run_job(self) -> None:
        if self.runner.running:
            return
        if self._content is None or not self._styles:
            self.status.emit(_HINT)
            self.show_error(_HINT)
            return
        params = self.params()
        blend = self.style_blend()
        try:
            params.validate()
            if sum(blend) <= 0:
                raise InputError("every style weight is 0: give at least one style a weight")
            style_core.check_memory(params, self._content.shape)
        except style_core.MemoryTooLargeError as error:
            self.status.emit(str(error))
            self.show_memory_error(error)
            return
        except InputError as error:
            self.status.emit(str(error))
            self.show_error(str(error))
            return
        self._run_params = params
        self._run_meta = {
            "content": self._content_name,
            "styles": [s.name for s in self._styles],
            "style_blend": blend,
        }
        self._progress_text = ""
        self._eta = style_core.StageEta.for_run(params, self._content.shape)
        self.snapshots = []
        self._next_snapshot = 1  # the first picture, then every N iterations
        self._refresh_snapshot_slider(follow=True)
        self._reset_for_run(self._content)
        from cnnstudio.core.backbones import weights_label

        label = f"VGG19, {weights_label(params.weights)}"
        self._announce_run(label, "Painting")
        self.runner.run_generator(
            style_core.stylize,
            self._content,
            [s.image for s in self._styles],
            params,
            style_weights=blend,
        )
        self._update_buttons()

    def _on_other_progress(self, event: object) -> None:
        if isinstance(event, style_core.LbfgsEvaluation):
            # inside an L-BFGS iteration: the bar stays, the text follows the evaluations
            if self.progress.maximum() != event.total:
                self.progress.setRange(0, event.total)
                self.progress.setValue(event.iteration - 1)
            base = self._progress_text or "Started"
            self.progress.setFormat(f"{base} - {event.text}")

    def _on_step(self, event: Progress) -> None:
        if self._eta is not None:
            eta = self._eta.update(event.step, time.monotonic())
            if event.stages > 1:
                # the bar's own ETA assumes equal steps; a scale's steps cost its pixels
                self.progress.setFormat(
                    self.progress.describe(event.step, event.total, event.stage, event.stages, eta)
                )
        self._progress_text = self.progress.format()
        for name, value in event.terms.items():
            if value > 0:  # log axis: a switched-off term has nothing to show
                self.loss_plot.add_point(name, event.step, value)
        extra = f" - {event.message}" if event.message else ""
        self.progress.setFormat(self.progress.format() + extra)

    def _on_preview(self, event: Preview) -> None:
        self._last_preview = event
        if event.step >= self._next_snapshot:
            self.snapshots.append((event.step, event.image))
            every = int(self.snapshot_spin.value())
            self._next_snapshot = (event.step // every + 1) * every
            self._refresh_snapshot_slider(follow=self._following())
        if self._following():
            self.preview.set_image(event.image)

    def _result_untrained(self) -> bool:
        return bool(self._result_meta.get("untrained"))

    def _keep_result(self, image: np.ndarray, stopped_at: int | None) -> None:
        self._result = image
        step = stopped_at if stopped_at is not None else self._last_step
        if not self.snapshots or self.snapshots[-1][0] != step:
            self.snapshots.append((step, image))
        meta = style_core.style_metadata(
            self._run_params, **self._run_meta, output_size=[image.shape[1], image.shape[0]]
        )
        if stopped_at is not None:
            meta["stopped_at_step"] = int(stopped_at)
        self._result_meta = meta
        self._refresh_snapshot_slider(follow=True)
        self.preview.set_image(image)

    def show_memory_error(self, error: style_core.MemoryTooLargeError) -> QMessageBox:
        """The run will not fit: say so and offer the size that fits as a button."""
        size = error.suggested_size
        box = dialogs.show_error(
            self,
            f"The result at {error.size} px needs about {error.needed / 2**30:.1f} GB of "
            f"memory but {error.available / 2**30:.1f} GB is free. A size of {size} px "
            "fits: press the button to use it, or close other programs.",
            title="Not enough memory",
        )
        use = box.addButton(f"Use {size} px", QMessageBox.ButtonRole.ActionRole)
        use.setObjectName("styleUseSuggestedSize")
        use.clicked.connect(lambda: self.size_spin.setValue(size))
        return box

    # ------------------------------------------------------------------ snapshots

    def _following(self) -> bool:
        """True when the slider sits at the latest snapshot (the view follows the run)."""
        return self.snapshot_slider.value() >= self.snapshot_slider.maximum()

    def _refresh_snapshot_slider(self, follow: bool) -> None:
        self.snapshot_slider.blockSignals(True)
        self.snapshot_slider.setRange(0, max(len(self.snapshots) - 1, 0))
        if follow:
            self.snapshot_slider.setValue(self.snapshot_slider.maximum())
        self.snapshot_slider.blockSignals(False)
        self._update_snapshot_label()

    def _update_snapshot_label(self) -> None:
        if not self.snapshots:
            self.snapshot_label.setText("No snapshots yet")
            return
        index = self.snapshot_slider.value()
        step = self.snapshots[index][0]
        self.snapshot_label.setText(f"{index + 1}/{len(self.snapshots)}: iteration {step}")

    def _show_snapshot(self, index: int) -> None:
        if 0 <= index < len(self.snapshots):
            self.preview.set_image(self.snapshots[index][1])
        self._update_snapshot_label()
        self._update_buttons()

    def select_snapshot(self, index: int) -> None:
        """Show snapshot ``index`` (the slider does the same)."""
        self.snapshot_slider.setValue(index)

    def shown_picture(self) -> tuple[int, np.ndarray] | None:
        """(iteration, picture) that Save writes: the snapshot on show, else the result."""
        if self.snapshots and not self.runner.running:
            index = min(self.snapshot_slider.value(), len(self.snapshots) - 1)
            return self.snapshots[index]
        if self._result is not None:
            return self._last_step, self._result
        return None

    # ------------------------------------------------------------------ results out

    def ask_save_path(self) -> str | None:
        """Where to save (replaced in tests). QFileDialog asks before replacing a file."""
        stem = Path(self._run_meta.get("content") or "picture").stem
        return dialogs.ask_save_image(self, f"{stem}-style.png", "Save styled picture")

    def _picture_to_save(self) -> tuple[np.ndarray, dict] | None:
        shown = self.shown_picture()
        if shown is None or self._run_params is None:
            return None
        step, picture = shown
        meta = dict(self._result_meta) or style_core.style_metadata(self._run_params)
        meta["output_size"] = [int(picture.shape[1]), int(picture.shape[0])]
        if picture is not self._result:
            meta["snapshot_step"] = int(step)
        return picture, meta

    # ------------------------------------------------------------------ settings, shutdown

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("params", json.dumps(dataclasses.asdict(self.params())))
        settings.setValue("snapshot_every", self.snapshot_spin.value())

    def restore_settings(self, settings: QSettings) -> None:
        text = read_str(settings, "params", "")
        if text:
            try:
                params = style_core.params_from_metadata(json.loads(text))
                params.validate()
                self.set_params(params)
            except (ValueError, TypeError, StudioError) as error:
                log.warning("style settings not restored: %s", error)
        self.snapshot_spin.setValue(
            read_int(settings, "snapshot_every", self.snapshot_spin.value())
        )
