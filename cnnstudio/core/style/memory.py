"""Will a style run fit in memory? The estimate, the memory free now, the size that fits.

A run that does not fit is refused before it starts (:func:`check_memory`) with a size
that does fit, which the window offers as a button and the terminal as ``--size``. No
TensorFlow here: the estimate counts VGG19's activations from :data:`params.VGG19_LAYERS`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

from cnnstudio.core.errors import InputError, Remedy
from cnnstudio.core.style.params import (
    VGG19_LAYER_NAMES,
    VGG19_LAYERS,
    VGG19_MIN_SIZE,
    StyleParams,
    output_size,
)

_BYTES_PER_FLOAT = 4
_BACKPROP_FACTOR = 3  # activations kept for the backward pass + their gradients + scratch
_RUNTIME_OVERHEAD = 300 * 2**20  # TensorFlow's own buffers and the Python process

#: where Linux says how much memory can be had without swapping
MEMINFO = Path("/proc/meminfo")
#: what we assume when the system does not say
_UNKNOWN_AVAILABLE = 4 * 2**30


def estimate_memory(params: StyleParams, content_shape: Sequence[int]) -> int:
    """Bytes a run will need at its largest scale: VGG19 activations up to the deepest
    layer used, times a factor for the backward pass, plus weights and optimiser state.

    Multi-scale mode needs the same: its last scale is the full size, and the smaller
    scales' buffers are freed before it starts, so it does not lower the peak."""
    height, width = output_size(content_shape, params.size)
    content, style = params.layer_weights()
    used = set(content) | set(style)
    deepest = max((VGG19_LAYER_NAMES.index(n) for n in used if n in VGG19_LAYER_NAMES), default=0)
    activations = height * width * 3
    weights = 0
    channels_in = 3
    for name, factor, channels in VGG19_LAYERS[: deepest + 1]:
        activations += math.ceil(height / factor) * math.ceil(width / factor) * channels
        if "conv" in name:
            weights += 3 * 3 * channels_in * channels + channels
        channels_in = channels
    image_state = 6 * height * width * 3  # image, gradient, Adam m and v, float64 L-BFGS copies
    total_floats = _BACKPROP_FACTOR * activations + weights + image_state
    return _BYTES_PER_FLOAT * total_floats + _RUNTIME_OVERHEAD


def available_memory() -> int:
    """Bytes the system can give us now: MemAvailable in :data:`MEMINFO`, else 4 GiB."""
    try:
        with open(MEMINFO, encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return _UNKNOWN_AVAILABLE


class MemoryTooLargeError(InputError):
    """A run will not fit in memory. ``size`` is the longest side asked for,
    ``suggested_size`` one that fits (also ``details["size"]``, which the front ends offer:
    the window as a button, the terminal as ``--size``)."""

    def __init__(self, size: int, suggested_size: int, needed: int, available: int):
        super().__init__(
            f"size {size} px needs about {needed / 2**30:.1f} GB of memory but "
            f"{available / 2**30:.1f} GB is available",
            param="size",
            remedy=Remedy.SMALLER_SIZE,
            size=suggested_size,
            needed=needed,
            available=available,
        )
        self.size = size
        self.suggested_size = suggested_size
        self.needed = needed
        self.available = available


def fitting_size(params: StyleParams, content_shape: Sequence[int], available: int) -> int:
    """The largest size (a multiple of 16, at least VGG19's minimum) whose estimate fits in
    ``available`` bytes."""
    # Activations grow with the pixel count, so the size that fits scales with the root;
    # then step down until the estimate really fits (rounding, the fixed weight share).
    needed = estimate_memory(params, content_shape)
    usable = max(available - _RUNTIME_OVERHEAD, 0)
    ratio = math.sqrt(usable / max(needed - _RUNTIME_OVERHEAD, 1))
    size = max(VGG19_MIN_SIZE, int(params.size * ratio * 0.95) // 16 * 16)
    while (
        size > VGG19_MIN_SIZE
        and estimate_memory(dataclasses.replace(params, size=size), content_shape) > available
    ):
        size = max(VGG19_MIN_SIZE, size - 16)
    return size


def check_memory(
    params: StyleParams, content_shape: Sequence[int], available: int | None = None
) -> int:
    """Raise MemoryTooLargeError (an InputError carrying a size that fits) when the run
    will not fit in ``available`` bytes (default: what the system has free now); return
    the estimate otherwise."""
    needed = estimate_memory(params, content_shape)
    available = available_memory() if available is None else available
    if needed <= available:
        return needed
    raise MemoryTooLargeError(
        size=params.size,
        suggested_size=fitting_size(params, content_shape, available),
        needed=needed,
        available=available,
    )
