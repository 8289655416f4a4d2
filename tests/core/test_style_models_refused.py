"""A style network in the library is no dream network and has no features to visualise
as a classifier's: Dream and Visualize refuse it by name and as a file, before loading."""

from __future__ import annotations

import numpy as np
import pytest

from cnnstudio.core.errors import InputError
from cnnstudio.core.faststyle import models
from cnnstudio.core.faststyle.params import FastStyleParams


@pytest.fixture
def style_entry():
    from cnnstudio.core.faststyle.network import build_style_network

    styles = [np.full((32, 32, 3), 128, np.uint8)]
    params = FastStyleParams(styles=["s.png"], data="photos", size=32)
    meta = models.style_model_meta(
        params, styles, steps=1, best_step=1, held_out_loss=1.0, photos=8
    )
    return models.save_style_model(build_style_network(seed=0), "painter", meta)


def test_dream_refuses_a_style_model(style_entry):
    from cnnstudio.core.dream.network import find_library_model

    for spec in ("painter", style_entry.path):
        with pytest.raises(InputError, match="'painter' is a style model: .*cannot be dreamed"):
            find_library_model(spec)


def test_visualize_refuses_a_style_model(style_entry):
    from cnnstudio.core.visualize.network import load_network
    from cnnstudio.core.visualize.params import VisualizeParams

    for spec in ("painter", str(style_entry.path)):
        with pytest.raises(InputError, match="is a style model: .*visualised"):
            load_network(VisualizeParams(model=spec))
