"""The plainer groups of the feature visualisation form: the recipe (size, steps, seed,
the regularisers) and the dataset examples folder. Each function builds a group box and
sets the controls as attributes of the form."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
)

from cnnstudio.core.visualize import params as vparams
from cnnstudio.core.visualize.params import VisualizeParams
from cnnstudio.gui.widgets.spin_boxes import double_spin_box, spin_box


def recipe_group(form: Any) -> QGroupBox:
    """Size, steps, seed and the regularisers (learning rate, jitter, scale, rotation,
    the parameterisation and the colours)."""
    box = QGroupBox("Recipe")
    rows = QFormLayout(box)
    d = VisualizeParams()
    form.size_spin = spin_box(
        vparams.MIN_SIZE, vparams.MAX_SIZE, d.size, "visualizeSize",
        "Side of each image in pixels (a model with a fixed input size uses its own)",
    )  # fmt: skip
    form.steps_spin = spin_box(
        1, vparams.MAX_STEPS, d.steps, "visualizeSteps", "Optimisation steps per image"
    )
    form.seed_spin = spin_box(
        0, 2**31 - 1, d.seed, "visualizeSeed", "The same seed gives the same grid"
    )
    form.rate_spin = double_spin_box(
        0.001, vparams.MAX_LEARNING_RATE, d.learning_rate, 0.01, 3, "visualizeRate",
        "Adam's learning rate on the image's parameters",
    )  # fmt: skip
    form.jitter_spin = spin_box(
        0, vparams.MAX_JITTER, d.jitter, "visualizeJitter",
        "Largest random shift in pixels at every step (robustness)",
    )  # fmt: skip
    form.scale_spin = double_spin_box(
        0.0, vparams.MAX_SCALE, d.scale, 0.05, 2, "visualizeScale",
        "Largest random scale change at every step (0.1: 0.9 to 1.1)",
    )  # fmt: skip
    form.rotation_spin = double_spin_box(
        0.0, vparams.MAX_ROTATION, d.rotation, 1.0, 1, "visualizeRotation",
        "Largest random rotation in degrees at every step",
    )  # fmt: skip
    form.fourier_check = QCheckBox("Fourier parameterisation", objectName="visualizeFourier")
    form.fourier_check.setToolTip(
        "Optimise a spectrum scaled by 1/frequency (off: plain pixels, noisier images)"
    )
    form.decorrelate_check = QCheckBox("Decorrelated colours", objectName="visualizeColours")
    form.decorrelate_check.setToolTip("Optimise colours through ImageNet's colour matrix")
    rows.addRow("Size", form.size_spin)
    rows.addRow("Steps", form.steps_spin)
    rows.addRow("Seed", form.seed_spin)
    rows.addRow("Learning rate", form.rate_spin)
    rows.addRow("Jitter", form.jitter_spin)
    rows.addRow("Scale", form.scale_spin)
    rows.addRow("Rotation", form.rotation_spin)
    rows.addRow(form.fourier_check)
    rows.addRow(form.decorrelate_check)
    return box


def examples_group(form: Any) -> QGroupBox:
    """The examples folder (a field and Choose...) and how many per channel."""
    box = QGroupBox("Dataset examples")
    rows = QFormLayout(box)
    form.examples_edit = QLineEdit(objectName="visualizeExamplesFolder")
    form.examples_edit.setPlaceholderText("none")
    form.examples_edit.setToolTip(
        "A folder of pictures: each channel also gets the ones that excite it most, "
        "with the region that does (files that are not pictures are skipped and listed)"
    )
    form.examples_button = QPushButton("Choose...", objectName="visualizeExamplesButton")
    form.examples_button.setToolTip("Choose the folder of pictures")
    form.examples_button.clicked.connect(form.choose_folder)
    form.top_spin = spin_box(
        1, vparams.MAX_TOP, VisualizeParams().top, "visualizeTop",
        "How many of the folder's pictures each channel gets, best first",
    )  # fmt: skip
    row = QHBoxLayout()
    row.addWidget(form.examples_edit, 1)
    row.addWidget(form.examples_button)
    rows.addRow("Folder", row)
    rows.addRow("Top", form.top_spin)
    return box
