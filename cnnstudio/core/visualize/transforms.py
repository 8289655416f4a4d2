"""Transformation robustness (Distill 2017, "Regularization: transformation robustness").

An image that excites a channel only in one exact position is mostly adversarial noise.
Before the network sees the images, every step moves each one by a random jitter of up
to 16 px, scales it by 0.9-1.1 and rotates it by up to 5 degrees (each image of a batch
its own draw), so only what still excites the channel after such changes survives.

The random values come from numpy (the job's seeded generator) and enter the compiled
step as a tensor; the warp is one bilinear projective transform per image, filled with
mid grey where the image moved away (Lucid pads with 0.5 too), differentiable with
respect to the image.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

#: columns of a transform row: shift x, shift y (pixels), scale, angle (radians)
TRANSFORM_VALUES = 4
#: what shows where an image moved away: mid grey
FILL_VALUE = 0.5


def effective_jitter(jitter: int, height: int, width: int) -> int:
    """The jitter used on a ``height`` x ``width`` image: at most an eighth of its shorter
    side (16 px at 128 px; a 28 px digit model gets 3)."""
    return max(0, min(int(jitter), min(int(height), int(width)) // 8))


def random_transforms(
    rng: np.random.Generator, count: int, jitter: int, scale: float, rotation: float
) -> np.ndarray:
    """``count`` rows of (shift x, shift y, scale, angle): whole-pixel shifts in
    [-jitter, jitter], scales in [1 - scale, 1 + scale], angles in [-rotation, rotation]
    degrees (as radians)."""
    shifts = rng.integers(-jitter, jitter + 1, size=(count, 2)) if jitter else np.zeros((count, 2))
    scales = rng.uniform(1.0 - scale, 1.0 + scale, size=count) if scale else np.ones(count)
    angles = rng.uniform(-rotation, rotation, size=count) if rotation else np.zeros(count)
    return np.column_stack([shifts, scales, np.radians(angles)]).astype(np.float32)


def identity_transforms(count: int) -> np.ndarray:
    """Rows that leave the images as they are."""
    values = np.zeros((count, TRANSFORM_VALUES), np.float32)
    values[:, 2] = 1.0
    return values


def transform_matrices(values: Any, size: Any) -> Any:
    """(batch, 4) transform rows -> (batch, 8) projective transforms for
    ``ImageProjectiveTransformV3``, which map each *output* pixel to the input point it
    samples: the inverse of "rotate and scale about the centre, then shift"."""
    values = tf.convert_to_tensor(values, tf.float32)
    shift_x, shift_y, scale, angle = tf.unstack(values, axis=1)
    size = tf.cast(size, tf.float32)
    centre_y, centre_x = (size[0] - 1.0) / 2.0, (size[1] - 1.0) / 2.0
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    moved_x, moved_y = centre_x + shift_x, centre_y + shift_y
    zeros = tf.zeros_like(cos)
    return tf.stack(
        [
            cos,
            sin,
            centre_x - cos * moved_x - sin * moved_y,
            -sin,
            cos,
            centre_y + sin * moved_x - cos * moved_y,
            zeros,
            zeros,
        ],
        axis=1,
    )


def apply_transforms(images: Any, values: Any, size: Any) -> Any:
    """Warp each image (batch, height, width, 3) by its row of ``values``; ``size`` =
    [height, width]. Bilinear, grey fill, differentiable in ``images``."""
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transform_matrices(values, size),
        output_shape=tf.cast(size, tf.int32),
        fill_value=tf.constant(FILL_VALUE, tf.float32),
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
