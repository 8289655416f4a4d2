"""Fixtures of the Classify tab tests: a tiny two-class library model, the tab with it
chosen, small pictures
(the helpers to find controls and wait for runs are in classify_helpers.py)."""

from __future__ import annotations

import numpy as np
import pytest
from classify_helpers import child
from PySide6.QtWidgets import (
    QComboBox,
)

from cnnstudio.core import image_saving, library
from cnnstudio.gui.tabs.classify.tab import ClassifyTab

CLASSES = ["dark", "light"]


@pytest.fixture(scope="module")
def tiny_model():
    """A small CNN whose output follows the brightness of the picture (untrained weights
    arranged by hand: bright pixels push class 'light')."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, activation="softmax", name="head"),
        ]
    )
    conv1, conv2, head = (model.get_layer(n) for n in ("conv1", "conv2", "head"))
    conv1.set_weights([np.full((3, 3, 3, 4), 0.05, np.float32), np.zeros(4, np.float32)])
    conv2.set_weights([np.full((3, 3, 4, 4), 0.1, np.float32), np.zeros(4, np.float32)])
    head.set_weights([np.tile([[-4.0, 4.0]], (4, 1)).astype(np.float32), np.array([2.0, -2.0])])
    return model


@pytest.fixture
def entry(tiny_model):
    return library.save_to_library(
        tiny_model, "brightness", {"class_names": CLASSES, "input_size": [32, 32], "channels": 3}
    )


@pytest.fixture
def tab(qtbot, entry):
    widget = ClassifyTab()
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    combo = child(widget, QComboBox, "classifyModel")
    index = combo.findData(str(entry.path))
    assert index >= 0, "the library model is listed"
    combo.setCurrentIndex(index)
    yield widget
    widget.shutdown()


@pytest.fixture
def pictures(tmp_path):
    folder = tmp_path / "pictures"
    (folder / "inner").mkdir(parents=True)
    files = {
        "black.png": np.zeros((40, 40, 3), np.uint8),
        "white.png": np.full((40, 40, 3), 255, np.uint8),
        "inner/grey.png": np.full((40, 40, 3), 200, np.uint8),
    }
    for name, array in files.items():
        image_saving.save_image(folder / name, array)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\ncut")
    return folder
