"""The style run time said before Run: a measured step scaled by pixels, scales,
iterations and L-BFGS evaluations; a finished run's own speed replaces the measurement."""

from __future__ import annotations

import pytest

from cnnstudio.core.style import timing
from cnnstudio.core.style.params import StyleParams


def test_estimate_scales_with_pixels_iterations_scales_and_evaluations():
    rate = timing.StepRate(10.0)
    shape = (600, 800, 3)
    base = StyleParams(size=400, steps=100)
    seconds = timing.estimate_seconds(base, shape, rate)
    assert seconds == pytest.approx(10.0 * 400 * 300 / 1e6 * 100 * timing.LOOP_OVERHEAD)
    bigger = timing.estimate_seconds(StyleParams(size=800, steps=100), shape, rate)
    assert bigger == pytest.approx(4 * seconds)  # twice the side: four times the pixels
    multi = timing.estimate_seconds(StyleParams(size=400, steps=100, multi_scale=True), shape, rate)
    assert multi == pytest.approx(seconds * (1 + 1 / 4 + 1 / 16), rel=0.02)
    lbfgs = StyleParams(size=400, steps=10, optimizer="lbfgs", lbfgs_evaluations=20)
    assert timing.estimate_seconds(lbfgs, shape, rate) == pytest.approx(
        seconds / 10 * 20 * timing.LBFGS_EVALUATION_COST
    )


def test_a_run_gives_its_own_rate():
    params = StyleParams(size=400, steps=100)
    units = timing.work_units(params, (600, 800, 3))
    rate = timing.rate_from_run(params, (600, 800, 3), fraction_done=0.5, seconds=30.0)
    assert rate.source == "last run"
    assert rate.seconds_per_megapixel == pytest.approx(30.0 / (units * 0.5))
    assert timing.rate_from_run(params, (600, 800, 3), fraction_done=0.01, seconds=1.0) is None


def test_measuring_a_step_gives_a_rate():
    from cnnstudio.core import backbones

    model = backbones.build_backbone("vgg19", "random", include_top=False)
    rate = timing.measure_step(model=model, side=48, steps=1)
    assert rate.seconds_per_megapixel > 0 and rate.source == "measured"
