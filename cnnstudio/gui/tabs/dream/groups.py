"""The Dream form's plainer groups: where a dream starts, its steps and octaves, its size,
tiles and randomness. Each function builds one group box and sets the form's controls as
attributes (``owner.steps_spin``...), as the form's own ``_build_*_group`` methods do."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
)

from cnnstudio.gui.widgets.elided_label import ElidedLabel
from cnnstudio.gui.widgets.spin_boxes import double_spin_box, spin_box

#: the form the groups belong to (not imported: it imports this module)
DreamForm = Any


def source_group(owner: DreamForm) -> QGroupBox:
    """Start from an image (opened or dropped) or from noise of a chosen size."""
    box = QGroupBox("Start from")
    layout = QFormLayout(box)
    owner.from_image = QRadioButton("Image")
    owner.from_image.setObjectName("dreamFromImage")
    owner.from_image.setToolTip("Dream on the picture opened, dropped or pasted")
    owner.from_noise = QRadioButton("Noise")
    owner.from_noise.setObjectName("dreamFromNoise")
    owner.from_noise.setToolTip("Dream from random noise of the size beside")
    owner.from_image.setChecked(True)
    group = QButtonGroup(owner)
    group.addButton(owner.from_image)
    group.addButton(owner.from_noise)
    owner.open_button = QPushButton("Open image...")
    owner.open_button.setObjectName("dreamOpenButton")
    owner.open_button.setToolTip(
        "Choose the picture to dream on (Ctrl+O); a folder: File > Batch..."
    )
    row = QHBoxLayout()
    row.addWidget(owner.from_image)
    row.addWidget(owner.open_button)
    row.addStretch(1)
    layout.addRow(row)
    # a long file name is elided in the middle: it must not widen the panel
    owner.source_label = ElidedLabel("No image yet", elide_mode=Qt.TextElideMode.ElideMiddle)
    owner.source_label.setObjectName("dreamSourceLabel")
    layout.addRow(owner.source_label)
    owner.noise_width = spin_box(32, 4096, 400, "dreamNoiseWidth", "width of the noise image")
    owner.noise_height = spin_box(32, 4096, 300, "dreamNoiseHeight", "height of the noise image")
    noise_row = QHBoxLayout()
    noise_row.addWidget(owner.from_noise)
    noise_row.addWidget(owner.noise_width)
    noise_row.addWidget(QLabel("x"))
    noise_row.addWidget(owner.noise_height)
    noise_row.addStretch(1)
    layout.addRow(noise_row)
    return box


def schedule_group(owner: DreamForm) -> QGroupBox:
    """Steps, step size, octaves and what ends or smooths them."""
    box = QGroupBox("Steps and octaves")
    form = QFormLayout(box)
    owner.steps_spin = spin_box(1, 10000, 50, "dreamSteps", "gradient steps per octave")
    owner.step_size_spin = double_spin_box(
        0.0001, 100.0, 0.01, 0.005, 4, "dreamStepSize",
        "step in the network's input units ([-1, 1] for InceptionV3) x normalised gradient",
    )  # fmt: skip
    owner.octaves_spin = spin_box(1, 12, 5, "dreamOctaves", "number of scales (1: single scale)")
    owner.octave_scale_spin = double_spin_box(
        1.0, 3.0, 1.3, 0.05, 2, "dreamOctaveScale", "size ratio between octaves"
    )
    owner.end_at_base = QCheckBox("Largest octave is the image size")
    owner.end_at_base.setObjectName("dreamEndAtBase")
    owner.end_at_base.setToolTip(
        "On: octaves shrink from the image size (DLwP, TF1). Off: centred on it (TF2)"
    )
    owner.reinject_check = QCheckBox("Re-inject lost detail after each upscale")
    owner.reinject_check.setObjectName("dreamReinject")
    owner.reinject_check.setToolTip(
        "After each upscale, add back the detail that shrinking the picture lost "
        "(keeps the photo sharp)"
    )
    owner.max_loss_spin = double_spin_box(
        0.0, 1e6, 0.0, 1.0, 2, "dreamMaxLoss", "end an octave when the loss exceeds this"
    )
    owner.max_loss_spin.setSpecialValueText("off")
    owner.tv_spin = double_spin_box(
        0.0, 100.0, 0.0, 0.01, 3, "dreamTvWeight", "total-variation smoothing against noise"
    )
    owner.tv_spin.setSpecialValueText("off")
    form.addRow("Steps per octave", owner.steps_spin)
    form.addRow("Step size", owner.step_size_spin)
    form.addRow("Octaves", owner.octaves_spin)
    form.addRow("Octave scale", owner.octave_scale_spin)
    form.addRow(owner.end_at_base)
    form.addRow(owner.reinject_check)
    form.addRow("Max loss", owner.max_loss_spin)
    form.addRow("Smoothing", owner.tv_spin)
    return box


def size_group(owner: DreamForm) -> QGroupBox:
    """The dreamed size, the gradient tiles and the random roll and seed."""
    box = QGroupBox("Size, tiles, randomness")
    form = QFormLayout(box)
    owner.max_size_spin = spin_box(
        0, 8192, 500, "dreamMaxSize", "longest side of the dreamed image (0: keep the size)"
    )
    owner.max_size_spin.setSpecialValueText("original")
    owner.tile_spin = spin_box(32, 4096, 512, "dreamTileSize", "gradients tile by tile")
    owner.jitter_spin = spin_box(0, 4096, 512, "dreamJitter", "largest random roll (0: off)")
    owner.jitter_spin.setSpecialValueText("off")
    owner.seed_spin = spin_box(-1, 2**31 - 1, -1, "dreamSeed", "-1: a new seed every run")
    owner.seed_spin.setSpecialValueText("random")
    form.addRow("Max image size", owner.max_size_spin)
    form.addRow("Tile size", owner.tile_spin)
    form.addRow("Jitter (px)", owner.jitter_spin)
    form.addRow("Seed", owner.seed_spin)
    return box
