"""How long a style run will take, said before it starts: a measured step, scaled.

A step of the style loss (VGG19 forward and backward, the Gram matrices) costs about the
same per pixel at any size, so one short measurement on this machine,
:func:`measure_step` (a few compiled Adam steps at a small size), gives seconds per
megapixel-step; :func:`estimate_seconds` scales it by the pixels of every scale of a run,
its iterations and, for L-BFGS, its loss evaluations per iteration. A finished run gives a
better figure for the next estimate (:func:`rate_from_run`).

No TensorFlow at import: the window estimates at start; :func:`measure_step` imports it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cnnstudio.core.style.params import StyleParams, output_size, stage_sizes

#: the side of the square picture measured (small: the measurement takes seconds; the
#: cost per pixel is the same from 128 to 384 px within a few per cent)
MEASURE_SIDE = 192
MEASURE_STEPS = 3
#: a step in the job's loop (previews, progress, Python) against the bare compiled step,
#: and an L-BFGS loss evaluation (float64 copies, scipy, the hand-over between threads)
#: against an Adam step; both measured on the 2-core development machine
LOOP_OVERHEAD = 1.25
LBFGS_EVALUATION_COST = 1.4


@dataclass(frozen=True)
class StepRate:
    """Seconds one optimiser step (or one L-BFGS loss evaluation) takes per megapixel."""

    seconds_per_megapixel: float
    source: str = "measured"  # "measured" (a short timed step) or "last run"


def work_units(params: StyleParams, content_shape: Sequence[int]) -> float:
    """A run's work in bare compiled megapixel-steps: each scale's pixels times the
    iterations (for L-BFGS, times its loss evaluations and their extra cost), summed over
    the scales, plus the loop's own share."""
    height, width = output_size(content_shape, params.size)
    megapixels = sum(h * w for h, w in stage_sizes(height, width, params.multi_scale)) / 1e6
    per_iteration = 1.0
    if params.optimizer == "lbfgs":
        per_iteration = params.lbfgs_evaluations * LBFGS_EVALUATION_COST
    return megapixels * params.total_steps() * per_iteration * LOOP_OVERHEAD


def estimate_seconds(params: StyleParams, content_shape: Sequence[int], rate: StepRate) -> float:
    """Seconds the run will take on the machine ``rate`` was measured on."""
    return work_units(params, content_shape) * rate.seconds_per_megapixel


#: a compiled Adam step of VGG19 per megapixel on the 2-core CPU the benchmarks run on
#: (bench_motion), for a video's estimate when no step was measured in this session
CPU_STEP_SECONDS_PER_MEGAPIXEL = 6.0
#: a fast style network's one pass per megapixel, same machine (bench_faststyle: a
#: 1024x768 photo, 0.79 megapixel, took 1.5 s of CPU and 0.8-2.9 s wall with the load)
FAST_STYLE_SECONDS_PER_MEGAPIXEL = 2.0


def video_frame_seconds(params: StyleParams, rate: StepRate | None = None) -> float:
    """Seconds a video frame of one megapixel takes to paint with ``params`` (every
    frame at one scale, its iterations and, for L-BFGS, its loss evaluations), on the
    machine ``rate`` was measured on (default: the benchmarks' 2-core CPU). Optical flow
    is extra (:data:`cnnstudio.core.video.params.FLOW_SECONDS_PER_MEGAPIXEL`)."""
    per_iteration = 1.0
    if params.optimizer == "lbfgs":
        per_iteration = params.lbfgs_evaluations * LBFGS_EVALUATION_COST
    seconds = rate.seconds_per_megapixel if rate is not None else CPU_STEP_SECONDS_PER_MEGAPIXEL
    return params.total_steps() * per_iteration * LOOP_OVERHEAD * seconds


def rate_from_run(
    params: StyleParams, content_shape: Sequence[int], fraction_done: float, seconds: float
) -> StepRate | None:
    """The rate a run showed: ``seconds`` for ``fraction_done`` of its work (the share of
    ``Progress.fraction`` between the first and the last step it reported). None when too
    little was done to tell."""
    units = work_units(params, content_shape) * fraction_done
    if units <= 0 or seconds <= 0 or fraction_done < 0.05:
        return None
    return StepRate(seconds / units, "last run")


def measure_step(
    model=None,
    side: int = MEASURE_SIDE,
    steps: int = MEASURE_STEPS,
    params: StyleParams | None = None,
) -> StepRate:
    """Time the compiled Adam step of ``params``' layers (default: the tutorial's) on a
    ``side`` x ``side`` picture: one step to compile, then the median of ``steps`` timed
    ones. ``model``: a VGG19 without top (default: a new one with random weights, which
    costs the same as trained ones and needs no download; it is not cached)."""
    import numpy as np

    from cnnstudio.core import backbones
    from cnnstudio.core.style.params import BACKBONE
    from cnnstudio.core.style.program import StyleProgram  # TensorFlow: loaded here

    params = params or StyleParams()
    if model is None:
        model = backbones.build_backbone_uncached(BACKBONE, "random", include_top=False)
    content_w, style_w = params.layer_weights()
    program = StyleProgram(model, list(content_w), list(style_w))
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (1, side, side, 3)).astype(np.float32)
    content_targets, grams = program.targets(image)
    weights = (
        np.ones(len(content_w), np.float32),
        np.ones(len(style_w), np.float32),
        np.asarray([params.content_weight, params.style_weight, params.tv_weight], np.float32),
    )
    m = np.zeros_like(image)
    v = np.zeros_like(image)
    times = []
    for t in range(1, steps + 2):  # the first traces the step: not timed
        hp = np.asarray([params.learning_rate, params.beta_1, params.beta_2, 0.1, t], np.float32)
        start = time.perf_counter()
        image, m, v, terms = program.adam_step(image, content_targets, grams, *weights, m, v, hp)
        terms.numpy()  # wait for the step to finish
        if t > 1:
            times.append(time.perf_counter() - start)
    return StepRate(statistics.median(times) / (side * side / 1e6))
