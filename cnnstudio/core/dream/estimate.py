"""How long a dream's frames take, said before a zoom or a video starts (and a smaller
size offered when it is long: :func:`cnnstudio.core.video.params.check_workload`).

A dream step costs about the same per pixel at any size (InceptionV3 forward and
backward on tiles), so one figure measured on the benchmarks' machine scales by the
pixels of every octave and the steps. No TensorFlow: the window estimates at once.
"""

from __future__ import annotations

from cnnstudio.core.dream.params import DreamParams, octave_exponents

#: a dream step (InceptionV3, one tile) per megapixel on the 2-core CPU the benchmarks run
#: on (bench_motion); other networks cost less (MobileNetV2) or more (VGG19)
STEP_SECONDS_PER_MEGAPIXEL = 1.5


def frame_seconds(params: DreamParams) -> float:
    """Seconds a frame of one megapixel takes to dream with ``params``: its steps on
    every octave, each octave's pixels relative to the frame's (flow is extra)."""
    relative = sum((params.octave_scale**exponent) ** 2 for exponent in octave_exponents(params))
    return params.steps * relative * STEP_SECONDS_PER_MEGAPIXEL
