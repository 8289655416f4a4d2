"""The upper bounds of a dream's parameters: every number has one, so no value overflows a
control, TensorFlow or memory (a settings file or a saved picture's parameters are
untrusted). No TensorFlow; :func:`cnnstudio.core.dream.params.validate_params` calls
:func:`check_upper_bounds` once the types and lower bounds hold."""

from __future__ import annotations

from typing import Any

from cnnstudio.core import checks
from cnnstudio.core.errors import InputError

#: upper bounds (the Dream tab's controls reach them; beyond them a value is refused)
MAX_STEPS = 10_000
MAX_STEP_SIZE = 100.0
MAX_OCTAVES = 12
MAX_OCTAVE_SCALE = 3.0
MAX_LAYER_WEIGHT = 100.0
MAX_LAYERS = 1000
MAX_LOSS = 1e6
MAX_TV_WEIGHT = 100.0
MAX_TILE_SIZE = 4096
MAX_JITTER = 4096
MAX_SIZE = 8192  # longest side of the working image
MAX_CHANNEL = 65_535
MAX_SEED = checks.INT32_MAX


def check_upper_bounds(params: Any) -> None:
    """The upper bounds of a DreamParams whose types and lower bounds hold
    (``params.validate_params`` checks those first, then calls this)."""
    if params.channel is not None:
        checks.whole(params.channel[1], "channel index", 0, MAX_CHANNEL, param="channel")
        checks.text(params.channel[0], "channel layer", 1000, param="channel")
    else:
        if len(params.layers) > MAX_LAYERS:
            raise InputError(f"{len(params.layers)} dream layers are more than {MAX_LAYERS}")
        for name, weight in params.layers.items():
            checks.text(name, "layer name", 1000, param="layers")
            checks.number(weight, f"weight of layer {name[:40]!r}", -MAX_LAYER_WEIGHT,
                          MAX_LAYER_WEIGHT, param="layers")  # fmt: skip
    checks.whole(params.steps, "steps", 1, MAX_STEPS, param="steps")
    if params.step_size is not None:
        checks.number(params.step_size, "step size", 0, MAX_STEP_SIZE, param="step_size")
    checks.whole(params.octaves, "octaves", 1, MAX_OCTAVES, param="octaves")
    checks.number(params.octave_scale, "octave scale", 1, MAX_OCTAVE_SCALE, param="octave_scale")
    if params.top_octave is not None:
        checks.whole(params.top_octave, "top octave", 0, MAX_OCTAVES, param="top_octave")
    checks.flag(params.reinject_detail, "detail re-injection", param="reinject_detail")
    if params.max_loss is not None:
        checks.number(params.max_loss, "max loss", -MAX_LOSS, MAX_LOSS, param="max_loss")
    checks.number(params.tv_weight, "total-variation weight", 0, MAX_TV_WEIGHT, param="tv_weight")
    checks.whole(params.tile_size, "tile size", 1, MAX_TILE_SIZE, param="tile_size")
    checks.whole(params.jitter, "jitter", 0, MAX_JITTER, param="jitter")
    if params.max_size is not None:
        checks.whole(params.max_size, "max size", 1, MAX_SIZE, param="max_size")
    if params.seed is not None:
        checks.whole(params.seed, "seed", 0, MAX_SEED, param="seed")
