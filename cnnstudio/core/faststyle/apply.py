"""Styling pictures with a trained style network: one forward pass at any size.

The network is fully convolutional; a picture's sides are padded (mirrored) to multiples
of 4 and the result cropped back. Pictures above :data:`TILE_PIXELS` are styled in
overlapping tiles blended with linear ramps, so memory stays bounded (instance
normalisation sees each tile's own statistics, so very large pictures can show gentle
tonal differences between tiles; the overlap hides the seams). The forward pass is one
``tf.function`` with unknown height and width: new sizes do not retrace it.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from cnnstudio.core import library
from cnnstudio.core.errors import InputError
from cnnstudio.core.faststyle.models import check_style_entry
from cnnstudio.core.faststyle.network import MULTIPLE
from cnnstudio.core.style.colors import transfer_luminance

#: pictures with more pixels than this are styled in tiles (about 2.4 GB of activations
#: in one pass at this size)
TILE_PIXELS = 2_400_000
TILE_SIDE = 1024  # tiles' side before their overlap
OVERLAP = 64  # pixels two neighbouring tiles share (blended)
_CACHE_SIZE = 2


@dataclass
class StyleModel:
    """A style network and its sidecar."""

    model: Any
    name: str
    meta: dict[str, Any] = field(default_factory=dict)
    _forward: Any = field(default=None, repr=False)
    _quick: Any = field(default=None, repr=False)  # the preview's pass (quick.py)
    _quick_checked: bool = field(default=False, repr=False)

    @property
    def trained_on_luminance(self) -> bool:
        return bool(self.meta.get("preserve_colors"))

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """(1, H, W, 3) float 0..255 (sides multiples of 4) -> the styled floats."""
        if self._forward is None:
            model = self.model
            spec = [tf.TensorSpec([1, None, None, 3], tf.float32)]
            self._forward = tf.function(lambda x: model(x, training=False), input_signature=spec)
        return np.asarray(self._forward(np.asarray(batch, np.float32)))

    def quick_forward(self, batch: np.ndarray) -> np.ndarray:
        """:meth:`forward` for previews: in bfloat16 where this computer runs that clearly
        faster (measured the first time, :mod:`.quick`), else the same float32 pass."""
        if not self._quick_checked:
            from cnnstudio.core.faststyle import quick

            self.forward(np.zeros((1, 2 * MULTIPLE, 2 * MULTIPLE, 3), np.float32))
            self._quick = quick.faster_pass(self.model, self._forward)
            self._quick_checked = True
        if self._quick is None:
            return self.forward(batch)
        return np.asarray(self._quick(np.asarray(batch, np.float32)))

    def warm_up(self, quick: bool = False) -> None:
        """Trace the forward pass now (once, on a tiny picture), so that the first real
        picture costs one pass: a window counts this as loading the model. ``quick``:
        also choose and trace the preview's pass."""
        tiny = np.zeros((1, 2 * MULTIPLE, 2 * MULTIPLE, 3), np.float32)
        if quick:
            self.quick_forward(tiny)
        elif self._forward is None:
            self.forward(tiny)


_MODELS: OrderedDict[tuple, StyleModel] = OrderedDict()


def load_style_model(spec: str | os.PathLike[str] | library.ModelEntry) -> StyleModel:
    """The style network ``spec`` names (a library entry, a library model's name or a
    ``.keras`` file), loaded safely and kept for the next call. InputError for a model
    that is not a style network (a classifier) or a name that is not in the library."""
    entry = library.resolve_model(spec)
    if entry is None:
        names = [e.name for e in library.list_models()]
        listed = ", ".join(names) if names else "the library is empty"
        raise InputError(f"no style model named '{spec}' ({listed})", param="model")
    check_style_entry(entry)
    path = Path(entry.path)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = 0
    key = (str(path.resolve()), stamp)
    cached = _MODELS.get(key)
    if cached is not None:
        _MODELS.move_to_end(key)
        return cached
    model = library.load_model_file(path)
    _check_shapes(model, entry.name)
    loaded = StyleModel(model, entry.name, dict(entry.meta))
    _MODELS[key] = loaded
    while len(_MODELS) > _CACHE_SIZE:
        _MODELS.popitem(last=False)
    return loaded


def _check_shapes(model: Any, name: str) -> None:
    inputs = getattr(model, "inputs", None) or []
    outputs = getattr(model, "outputs", None) or []
    fits = (
        len(inputs) == 1
        and len(outputs) == 1
        and len(inputs[0].shape) == 4
        and len(outputs[0].shape) == 4
        and inputs[0].shape[-1] == 3
        and outputs[0].shape[-1] == 3
    )
    if not fits:
        raise InputError(
            f"model '{name}' does not turn a picture into a picture; it is not a style model",
            param="model",
        )


def stylize(
    style_model: StyleModel,
    picture: np.ndarray,
    *,
    preserve_colors: bool = False,
    on_tile: Callable[[int, int], None] | None = None,
    quick: bool = False,
) -> np.ndarray:
    """``picture`` (uint8 RGB, any size) styled by the network, uint8 RGB of the same size.
    ``preserve_colors``: keep the picture's colours (the result's luminance on the
    picture's chroma); always so for a network trained on luminance. ``on_tile(done,
    total)`` after each tile of a large picture. ``quick``: a preview, with the quicker
    pass where this computer has one (:meth:`StyleModel.quick_forward`)."""
    picture = np.asarray(picture)
    if picture.ndim != 3 or picture.shape[2] != 3 or picture.dtype != np.uint8:
        raise InputError(f"the picture must be uint8 RGB (H, W, 3), not {picture.shape}")
    source = picture
    if style_model.trained_on_luminance:
        y = picture.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        picture = np.repeat(np.clip(np.rint(y), 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    height, width = picture.shape[:2]
    if height * width <= TILE_PIXELS:
        styled = _forward_padded(style_model, picture, quick)
        if on_tile is not None:
            on_tile(1, 1)
    else:
        styled = _tiled(style_model, picture, on_tile)
    result = np.clip(np.rint(styled), 0, 255).astype(np.uint8)
    if preserve_colors or style_model.trained_on_luminance:
        result = transfer_luminance(result, source)
    return result


def _forward_padded(
    style_model: StyleModel, picture: np.ndarray, quick: bool = False
) -> np.ndarray:
    """One pass on a picture mirrored out to sides that are multiples of 4 (at least 8
    px of margin, so the network's zero padding stays off the picture), cropped back."""
    height, width = picture.shape[:2]
    margin = 8
    padded_h = math.ceil((height + 2 * margin) / MULTIPLE) * MULTIPLE
    padded_w = math.ceil((width + 2 * margin) / MULTIPLE) * MULTIPLE
    top, left = (padded_h - height) // 2, (padded_w - width) // 2
    pad = ((top, padded_h - height - top), (left, padded_w - width - left), (0, 0))
    mode = (
        "reflect"
        if min(height, width) > max(pad[0][0], pad[0][1], pad[1][0], pad[1][1])
        else "edge"
    )
    padded = np.pad(picture, pad, mode=mode)
    forward = style_model.quick_forward if quick else style_model.forward
    styled = forward(padded[None].astype(np.float32))[0]
    return styled[top : top + height, left : left + width]


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    step = (length - tile) / (count - 1)
    return [round(i * step) for i in range(count)]


def _ramp(length: int, overlap: int, first: bool, last: bool) -> np.ndarray:
    """Blend weights along one side of a tile: rising over the overlap, except at the
    picture's own edges."""
    weights = np.ones(length, np.float32)
    ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
    if not first:
        weights[:overlap] = ramp
    if not last:
        weights[-overlap:] = np.minimum(weights[-overlap:], ramp[::-1])
    return weights


def _tiled(style_model, picture, on_tile) -> np.ndarray:
    height, width = picture.shape[:2]
    side = TILE_SIDE + OVERLAP
    rows, cols = _starts(height, side, OVERLAP), _starts(width, side, OVERLAP)
    total = np.zeros((height, width, 3), np.float32)
    weight = np.zeros((height, width, 1), np.float32)
    done, count = 0, len(rows) * len(cols)
    for i, top in enumerate(rows):
        for j, left in enumerate(cols):
            tile = picture[top : top + side, left : left + side]
            styled = _forward_padded(style_model, tile)
            h, w = tile.shape[:2]
            blend = np.outer(
                _ramp(h, OVERLAP, i == 0, i == len(rows) - 1),
                _ramp(w, OVERLAP, j == 0, j == len(cols) - 1),
            )[..., None]
            total[top : top + h, left : left + w] += styled * blend
            weight[top : top + h, left : left + w] += blend
            done += 1
            if on_tile is not None:
                on_tile(done, count)
    return total / np.maximum(weight, 1e-6)
