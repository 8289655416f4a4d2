"""The preview's quicker pass: the style network in bfloat16 gives (nearly) the float32
picture, and a preview uses it only where it was measured to be faster."""

from __future__ import annotations

import numpy as np
import pytest

from cnnstudio.core.faststyle import apply, models, network, quick
from cnnstudio.core.faststyle.params import FastStyleParams


@pytest.fixture
def style_model():
    styles = [np.full((32, 32, 3), 128, np.uint8)]
    params = FastStyleParams(styles=["s.png"], data="photos", size=32)
    meta = models.style_model_meta(
        params, styles, steps=1, best_step=1, held_out_loss=1.0, photos=8
    )
    entry = models.save_style_model(network.build_style_network(seed=2), "quick", meta)
    return apply.load_style_model(entry)


def _picture(height=60, width=84):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_the_bfloat16_pass_paints_the_float32_picture(style_model):
    picture = _picture()[None, :56].astype(np.float32)  # sides multiples of 4
    exact = np.clip(np.rint(style_model.forward(picture)), 0, 255)
    half = np.clip(np.rint(np.asarray(quick.bfloat16_pass(style_model.model)(picture))), 0, 255)
    assert half.shape == exact.shape
    assert np.abs(half - exact).mean() < 3 and np.abs(half - exact).max() <= 24


@pytest.mark.parametrize("faster", [True, False])
def test_a_preview_uses_the_quick_pass_only_where_it_is_faster(style_model, monkeypatch, faster):
    monkeypatch.setattr(quick, "MIN_SPEEDUP", 0.0 if faster else float("inf"))
    picture = _picture()
    exact = apply.stylize(style_model, picture)
    preview = apply.stylize(style_model, picture, quick=True)
    assert (style_model._quick is not None) is faster
    assert preview.shape == picture.shape and preview.dtype == np.uint8
    difference = np.abs(preview.astype(int) - exact)
    if faster:
        assert 0 < difference.max() <= 24  # bfloat16: a little apart, never far
    else:
        assert difference.max() == 0
