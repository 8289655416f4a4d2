"""A quicker forward pass for previews: the style network computing in bfloat16, used
only where this computer runs it clearly faster than float32 (measured once per model).

On a CPU with native bfloat16 (AVX512-BF16, AMX) a 512x384 preview costs about 1.6x less
CPU time, and the picture differs from the float32 one by about 1 level of 255 on average
(bench/bench_faststyle_window.py); elsewhere bfloat16 is emulated and slower, which the
measurement finds. Full-size results always use float32. TensorFlow at the top.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

log = logging.getLogger(__name__)

#: bfloat16 is used for previews when it is at least this many times faster
MIN_SPEEDUP = 1.25
_PROBE_SIDE = 256
_SPEC = [tf.TensorSpec([1, None, None, 3], tf.float32)]


def bfloat16_pass(model: Any) -> Callable[[np.ndarray], Any]:
    """The network ``model`` computing in mixed bfloat16 (a copy with the same weights;
    the global dtype policy is left alone), float32 in and out, traced for any size."""

    def to_bfloat16(layer):
        config = layer.get_config()
        config["dtype"] = "mixed_bfloat16"
        return layer.__class__.from_config(config)

    twin = keras.models.clone_model(model, clone_function=to_bfloat16)
    twin.set_weights(model.get_weights())
    return tf.function(
        lambda x: tf.cast(twin(x, training=False), tf.float32), input_signature=_SPEC
    )


def _cpu_seconds(run: Callable[[np.ndarray], Any], probe: np.ndarray) -> float:
    """The least CPU time of a few passes: steadier than the wall clock on a busy
    machine (the passes use every core either way)."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        np.asarray(run(probe))
        best = min(best, time.process_time() - start)
    return best


def faster_pass(model: Any, forward: Callable[[np.ndarray], Any]) -> Callable | None:
    """The bfloat16 pass of ``model`` when it beats ``forward`` (float32) by
    :data:`MIN_SPEEDUP` on this computer's CPU, else None (also on a GPU, where float32
    is fast already, and when the copy cannot be made)."""
    if tf.config.list_logical_devices("GPU"):
        return None
    try:
        quick = bfloat16_pass(model)
        probe = np.zeros((1, _PROBE_SIDE, _PROBE_SIDE, 3), np.float32)
        np.asarray(quick(probe))  # traced: not timed
        np.asarray(forward(probe))
        float32, bfloat16 = _cpu_seconds(forward, probe), _cpu_seconds(quick, probe)
    except (ValueError, TypeError, tf.errors.OpError) as error:
        log.info("no bfloat16 preview pass: %s", error)
        return None
    log.info("preview pass: float32 %.3f s CPU, bfloat16 %.3f s CPU", float32, bfloat16)
    return quick if bfloat16 * MIN_SPEEDUP <= float32 else None
