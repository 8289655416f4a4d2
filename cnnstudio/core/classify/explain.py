"""Where a model looked and what it saw: Grad-CAM and HiResCAM heat maps, their colour
overlay on the picture, and feature maps tiled into one image.

Both work on nested models too (a transfer model whose backbone is a sub-model): layers are
addressed by a path ``"outer/inner"`` and :func:`cnnstudio.core.layers.layer_outputs_model`
rebuilds the graph from the model's own inputs through the nested model, so activations and
gradients stay connected (the case that breaks the usual
``model.get_layer(base).get_layer(conv).output`` recipe).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
from PIL import Image

from cnnstudio.core import layers
from cnnstudio.core.classify.params import CAM_METHODS
from cnnstudio.core.errors import InputError


@dataclass(frozen=True, eq=False)
class GradCam:
    """A Grad-CAM heat map: float32 (h, w) in 0..1 at the layer's resolution."""

    heatmap: np.ndarray
    class_index: int
    layer: str
    score: float

    def overlay(self, image: np.ndarray, alpha: float = 0.45) -> np.ndarray:
        return heatmap_overlay(image, self.heatmap, alpha)


def _as_batch(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x[None] if x.ndim == 3 else x


def gradcam(
    model: Any,
    x: np.ndarray,
    class_index: int | None = None,
    layer: str | None = None,
    method: str = "gradcam",
) -> GradCam:
    """Grad-CAM (Selvaraju et al. 2017) of one prepared input (h, w, c) or (1, h, w, c):
    the layer's maps weighted by the mean gradient of the class score (before softmax),
    rectified, scaled to 0..1. ``layer`` defaults to the last convolution (nested models
    included). ``method="hirescam"`` multiplies maps and gradients position by position
    instead of averaging the gradient first (Draelos & Carin 2020): faithful for heads
    that flatten the maps into a dense layer, where averaging can cancel out."""
    if method not in CAM_METHODS:
        raise InputError(f"unknown heat-map method '{method}'; use {' or '.join(CAM_METHODS)}")

    layer = layer or layers.find_last_conv_layer(model)
    # class scores before the final softmax/sigmoid: a saturated softmax (p = 1.0 in
    # float32) has a zero gradient, and a confident model is the one users explain
    grad_model = layers.scores_model(model, [layer])
    batch = tf.convert_to_tensor(_as_batch(x)[:1])
    with tf.GradientTape() as tape:
        activations, outputs = grad_model(batch, training=False)
        outputs = tf.reshape(outputs, (1, -1))
        if class_index is None:
            class_index = int(tf.argmax(outputs[0]))
        if outputs.shape[-1] == 1:
            # one sigmoid unit: class 1 is the unit, class 0 its opposite
            score = outputs[0, 0] if class_index == 1 else -outputs[0, 0]
        else:
            score = outputs[0, class_index]
    if len(activations.shape) != 4:
        choices = ", ".join(layers.conv_layer_paths(model)[-8:])
        raise InputError(
            f"layer '{layer}' is not a convolutional feature map (its output has shape "
            f"{tuple(activations.shape)}); choose one of: {choices}"
        )
    grads = tape.gradient(score, activations)
    if grads is None:
        raise InputError(f"layer '{layer}' does not feed the model's output; pick another")
    if method == "hirescam":
        cam = tf.nn.relu(tf.reduce_sum(activations[0] * grads[0], axis=-1)).numpy()
    else:
        weights = tf.reduce_mean(grads, axis=(1, 2))  # one weight per channel
        cam = tf.nn.relu(tf.reduce_sum(activations[0] * weights[0], axis=-1)).numpy()
    peak = float(cam.max())
    heatmap = (cam / peak if peak > 0 else np.zeros_like(cam)).astype(np.float32)
    return GradCam(heatmap, int(class_index), layer, float(score))


def _colormap(values: np.ndarray) -> np.ndarray:
    """0..1 -> uint8 RGB on a 'jet'-like ramp (blue, cyan, yellow, red)."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    red = np.clip(1.5 - np.abs(4.0 * v - 3.0), 0.0, 1.0)
    green = np.clip(1.5 - np.abs(4.0 * v - 2.0), 0.0, 1.0)
    blue = np.clip(1.5 - np.abs(4.0 * v - 1.0), 0.0, 1.0)
    return (np.concatenate([red, green, blue], axis=-1) * 255.0).astype(np.uint8)


def resize_heatmap(heatmap: np.ndarray, width: int, height: int) -> np.ndarray:
    """A 0..1 heat map resized smoothly (bilinear) to ``width`` x ``height``."""
    pil = Image.fromarray(np.asarray(heatmap, np.float32), mode="F")
    resized = pil.resize((int(width), int(height)), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized, np.float32), 0.0, 1.0)


def heatmap_overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The heat map in colour over a uint8 RGB image (same size as the image); cold
    regions stay mostly the picture, hot ones turn red."""
    image = np.asarray(image, np.uint8)
    height, width = image.shape[:2]
    heat = resize_heatmap(heatmap, width, height)
    colour = _colormap(heat).astype(np.float32)
    weight = alpha * (0.35 + 0.65 * heat[..., None])  # hotter: more colour
    blended = image.astype(np.float32) * (1.0 - weight) + colour * weight
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------ feature maps


def feature_maps(model: Any, x: np.ndarray, layer: str) -> np.ndarray:
    """Activations of ``layer`` for one prepared input: float32 (h, w, channels)."""
    features = layers.layer_outputs_model(model, [layer])
    output = features(_as_batch(x)[:1], training=False)
    if isinstance(output, (list, tuple)):
        output = output[0]
    maps = np.asarray(output)[0]
    if maps.ndim != 3:
        raise InputError(f"layer '{layer}' has no feature-map output (shape {maps.shape})")
    return maps.astype(np.float32)


def tile_channels(
    maps: np.ndarray,
    max_channels: int = 64,
    columns: int | None = None,
    pad: int = 1,
    cell: int | None = None,
) -> np.ndarray:
    """Channels (h, w, c) tiled into one grid image (uint8 RGB, grey per channel, each
    channel scaled to its own range; dead channels are black). ``cell`` enlarges small
    maps to that many pixels per side (nearest neighbour, so pixels stay visible)."""
    maps = np.asarray(maps, np.float32)
    if maps.ndim == 2:
        maps = maps[..., None]
    count = max(1, min(int(max_channels), maps.shape[-1]))
    maps = maps[..., :count]
    if cell and cell > maps.shape[0]:
        factor = max(1, int(cell) // max(maps.shape[0], maps.shape[1]))
        maps = maps.repeat(factor, axis=0).repeat(factor, axis=1)
    height, width = maps.shape[:2]
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    grid = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad), 48, dtype=np.uint8)
    low = maps.min(axis=(0, 1))
    span = maps.max(axis=(0, 1)) - low
    for channel in range(count):
        row, col = divmod(channel, columns)
        values = maps[..., channel] - low[channel]
        tile = values / span[channel] if span[channel] > 1e-12 else np.zeros_like(values)
        top = pad + row * (height + pad)
        left = pad + col * (width + pad)
        grid[top : top + height, left : left + width] = np.rint(tile * 255.0).astype(np.uint8)
    return np.repeat(grid[..., None], 3, axis=2)
