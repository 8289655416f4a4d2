"""Will a dream fit in memory? The estimate of its largest octave and a size that fits.

Gradients are computed on tiles, so the network's activations cost the same at any image
size; what grows is the picture itself, held as float32 in a few copies at once (the
dream, the original for detail re-injection, the gradient, the rolled copy, resize
temporaries). An octave scale of 3 over 12 octaves makes the largest octave 243 times the
image's side: such a dream is refused before it starts (:func:`check_memory`), with a
``max_size`` that fits, instead of TensorFlow failing to allocate a picture of billions of
pixels. No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Sequence

from cnnstudio.core.errors import InputError, Remedy
from cnnstudio.core.style.memory import available_memory

_PIXEL_BYTES = 3 * 4  # float32 RGB
_IMAGE_COPIES = 8  # dream, original, gradient, rolled copy, resize temporaries, preview
_TILE_BYTES_PER_PIXEL = 400  # InceptionV3 activations and gradients per input pixel
_RUNTIME_OVERHEAD = 300 * 2**20  # TensorFlow's own buffers and the Python process
MIN_SIDE = 32


def estimate_memory(sizes: Sequence[tuple[int, int]], tile_size: int) -> int:
    """Bytes a dream over the octave ``sizes`` ((height, width) each) needs at its peak,
    the largest octave, with gradients on tiles of ``tile_size``."""
    height, width = max(sizes, key=lambda hw: hw[0] * hw[1])
    picture = height * width * _PIXEL_BYTES * _IMAGE_COPIES
    tile = min(tile_size, height) * min(tile_size, width) * _TILE_BYTES_PER_PIXEL
    return picture + tile + _RUNTIME_OVERHEAD


class DreamTooLargeError(InputError):
    """The largest octave will not fit in memory; ``details["size"]``: a ``max_size``
    that fits (the front ends offer it), 0 when no size does."""


def check_memory(
    sizes: Sequence[tuple[int, int]],
    tile_size: int,
    base_side: int,
    available: int | None = None,
) -> int:
    """The estimate for ``sizes`` if it fits in ``available`` bytes (default: what the
    system has free now); DreamTooLargeError with a ``max_size`` that fits otherwise
    (``base_side``: the longest side of the image the octaves are scaled from)."""
    needed = estimate_memory(sizes, tile_size)
    available = available_memory() if available is None else available
    if needed <= available:
        return needed
    height, width = max(sizes, key=lambda hw: hw[0] * hw[1])
    # the picture's share grows with the pixels: scale the side by the root of the ratio
    usable = available - estimate_memory([(1, 1)], tile_size)
    ratio = (max(usable, 0) / max(needed - estimate_memory([(1, 1)], tile_size), 1)) ** 0.5
    fits = int(base_side * ratio * 0.95)
    fits = fits if fits >= MIN_SIDE else 0
    advice = "; use fewer octaves or a smaller octave scale" if not fits else ""
    raise DreamTooLargeError(
        f"the largest octave, {width}x{height} px, needs about {needed / 2**30:.1f} GB of "
        f"memory but {available / 2**30:.1f} GB is available{advice}",
        param="max_size",
        remedy=Remedy.SMALLER_SIZE if fits else None,
        size=fits,
        needed=needed,
        available=available,
    )
