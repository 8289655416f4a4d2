"""The form of the Style tab's "Train a fast style model" mode: the style pictures and
the photo folder (:mod:`.fast_inputs`) over the training settings, <->
:class:`cnnstudio.core.faststyle.params.FastStyleParams`.

The loss weights mean what they mean in "Optimise a picture": relative importances of
normalised terms (README, "Style transfer: what the weights mean").
"""

from __future__ import annotations

import json
from dataclasses import replace

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.faststyle import params as fast_core
from cnnstudio.core.faststyle.params import FastStyleParams
from cnnstudio.core.style.params import VGG19_MIN_SIZE
from cnnstudio.gui.settings import read_params
from cnnstudio.gui.tabs.style.fast_inputs import PhotoFolder, StyleList
from cnnstudio.gui.widgets.spin_boxes import double_spin_box, spin_box
from cnnstudio.gui.widgets.weights_picker import WeightsPicker

#: what the settings keep (the style pictures are inputs: not kept)
_SETTINGS_KEY = "fast_train_params"
_WEIGHTS_NOTE = (
    "Relative importances: each term is normalised, so style 10 asks for the style ten "
    "times as much as for the content, with any loss network"
)


class FastTrainForm(QWidget):
    """Style pictures, photos and the settings of a training run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self._build_styles_group())
        self.photos = PhotoFolder()
        column.addWidget(self.photos)
        column.addWidget(self._build_training_group())
        column.addWidget(self._build_loss_group())
        column.addStretch(1)
        self.set_params(FastStyleParams())

    # ------------------------------------------------------------------ the groups

    def _build_styles_group(self) -> QGroupBox:
        box = QGroupBox("Style pictures")
        column = QVBoxLayout(box)
        self.style_list = StyleList()
        self.add_style_button = QPushButton("Add style...")
        self.add_style_button.setObjectName("fastAddStyleButton")
        self.add_style_button.setToolTip("Choose style pictures (several at once)")
        self.remove_style_button = QPushButton("Remove")
        self.remove_style_button.setObjectName("fastRemoveStyleButton")
        self.remove_style_button.setToolTip("Take the selected style picture out")
        self.remove_style_button.clicked.connect(self.style_list.remove_selected)
        row = QHBoxLayout()
        row.addWidget(self.add_style_button)
        row.addWidget(self.remove_style_button)
        row.addStretch(1)
        column.addWidget(self.style_list)
        column.addLayout(row)
        return box

    def _build_training_group(self) -> QGroupBox:
        box = QGroupBox("Training")
        form = QFormLayout(box)
        defaults = FastStyleParams()
        self.size_spin = spin_box(
            VGG19_MIN_SIZE, fast_core.MAX_SIZE, defaults.size, "fastSize",
            "training pictures are squares of this side (Johnson et al.: 256); a multiple "
            "of 4. The trained model styles pictures of any size",
        )  # fmt: skip
        self.size_spin.setSingleStep(32)
        self.steps_spin = spin_box(
            1, fast_core.MAX_STEPS, defaults.steps, "fastSteps",
            "training steps in all (Resume goes on up to this number)",
        )  # fmt: skip
        self.batch_spin = spin_box(
            1, fast_core.MAX_BATCH, defaults.batch_size, "fastBatch", "photos per step"
        )
        self.lr_spin = double_spin_box(
            0.00001, fast_core.MAX_LEARNING_RATE, defaults.learning_rate, 0.0005, 5,
            "fastLearningRate",
            "Adam's learning rate (Johnson et al.: 0.001)",
        )  # fmt: skip
        self.preview_spin = spin_box(
            1, fast_core.MAX_EVERY, defaults.preview_every, "fastPreviewEvery",
            "every this many steps a held-out photo is styled and shown, and the best "
            "network so far is kept",
        )  # fmt: skip
        self.checkpoint_spin = spin_box(
            1, fast_core.MAX_EVERY, defaults.checkpoint_every, "fastCheckpointEvery",
            "every this many steps the run is saved in its folder: a killed run resumes there",
        )  # fmt: skip
        form.addRow("Size (px)", self.size_spin)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Batch", self.batch_spin)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Preview every", self.preview_spin)
        form.addRow("Checkpoint every", self.checkpoint_spin)
        return box

    def _build_loss_group(self) -> QGroupBox:
        box = QGroupBox("Loss")
        form = QFormLayout(box)
        defaults = FastStyleParams()
        self.content_weight_spin = double_spin_box(
            0.0, fast_core.MAX_LOSS_WEIGHT, defaults.content_weight, 0.1, 3,
            "fastContentWeight",
            "how much of the photo must survive (relative to the style)",
        )  # fmt: skip
        self.style_weight_spin = double_spin_box(
            0.001, fast_core.MAX_LOSS_WEIGHT, defaults.style_weight, 1.0, 3, "fastStyleWeight",
            "how strongly the style is painted (10: ten times the content's weight)",
        )  # fmt: skip
        self.tv_weight_spin = double_spin_box(
            0.0, fast_core.MAX_LOSS_WEIGHT, defaults.tv_weight, 0.1, 3, "fastTvWeight",
            "total variation: smooths noise (0: off)",
        )  # fmt: skip
        note = QLabel(_WEIGHTS_NOTE)
        note.setWordWrap(True)
        note.setObjectName("fastWeightsNote")
        self.weights_picker = WeightsPicker()
        self.weights_picker.setObjectName("fastWeights")
        self.colors_check = QCheckBox("Keep the pictures' own colours")
        self.colors_check.setObjectName("fastPreserveColors")
        self.colors_check.setToolTip(
            "Train on luminance only: the model learns strokes and tones, and every "
            "picture it styles keeps its own colours"
        )
        form.addRow("Content", self.content_weight_spin)
        form.addRow("Style", self.style_weight_spin)
        form.addRow("Smoothness (TV)", self.tv_weight_spin)
        form.addRow(note)
        form.addRow("VGG19 weights", self.weights_picker)
        form.addRow(self.colors_check)
        return box

    # ------------------------------------------------------------------ params <-> controls

    def params(self) -> FastStyleParams:
        """The run the controls describe (``styles``: the style pictures' files or names;
        the pictures themselves are :meth:`style_images`)."""
        size = int(self.size_spin.value())
        return FastStyleParams(
            styles=[s.path or s.name for s in self.style_list.styles],
            data=self.photos.folder,
            size=max(VGG19_MIN_SIZE, size - size % 4),
            steps=int(self.steps_spin.value()),
            batch_size=int(self.batch_spin.value()),
            learning_rate=float(self.lr_spin.value()),
            content_weight=float(self.content_weight_spin.value()),
            style_weight=float(self.style_weight_spin.value()),
            tv_weight=float(self.tv_weight_spin.value()),
            weights=self.weights_picker.value(),
            preserve_colors=self.colors_check.isChecked(),
            preview_every=int(self.preview_spin.value()),
            checkpoint_every=int(self.checkpoint_spin.value()),
        )

    def set_params(self, params: FastStyleParams, *, folder: bool = True) -> None:
        """Show ``params`` (a run folder's, restored settings); the style pictures stay.
        ``folder``: also the photo folder."""
        self.size_spin.setValue(params.size)
        self.steps_spin.setValue(params.steps)
        self.batch_spin.setValue(params.batch_size)
        self.lr_spin.setValue(params.learning_rate)
        self.content_weight_spin.setValue(params.content_weight)
        self.style_weight_spin.setValue(params.style_weight)
        self.tv_weight_spin.setValue(params.tv_weight)
        self.weights_picker.set_value(params.weights)
        self.colors_check.setChecked(bool(params.preserve_colors))
        self.preview_spin.setValue(params.preview_every)
        self.checkpoint_spin.setValue(params.checkpoint_every)
        if folder and params.data != self.photos.folder:
            self.photos.set_folder(params.data)

    def style_images(self):
        return [s.image for s in self.style_list.styles]

    # ------------------------------------------------------------------ settings

    def save_settings(self, settings: QSettings) -> None:
        params = self.params()
        params.styles = []
        settings.setValue(_SETTINGS_KEY, json.dumps(params.to_dict()))

    def restore_settings(self, settings: QSettings) -> None:
        """The settings of the last session: parsed with a bound on nesting, checked
        against FastStyleParams' bounds first (values that fail are left at their
        defaults, named in the window's status bar), then shown."""
        params = read_params(settings, _SETTINGS_KEY, _checked_settings)
        if params is not None:
            self.set_params(params)


def _checked_settings(data: dict) -> FastStyleParams:
    params = FastStyleParams.from_dict(data)
    # the pictures are inputs, not settings: only the rest is checked
    replace(params, styles=["kept"], data=params.data or "kept").validate()
    return params
