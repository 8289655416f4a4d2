"""DeepDream as the reference examples write it: keras-io's ``deep_dream.py`` and the
TensorFlow DeepDream tutorial, in their words.

- :func:`compute_loss`: the objective, one weighted term per layer: the mean activation
  (the tutorial's ``calc_loss``) or the sum of squares without a border over the
  activation's size (keras-io's ``compute_loss``), of whole layers or of one channel;
- :func:`gradient_ascent_step`: one step up the gradient, normalised by its standard
  deviation and clipped to the valid inputs (the tutorial's ``DeepDream.__call__``);
- :func:`deep_dream`: the octave loop: smallest octave first, upscale, add back the detail
  lost by shrinking, a few steps per octave, an early stop above ``max_loss``.

These are the plain, untiled versions. The app's job (:func:`cnnstudio.core.dream.job.dream`)
runs the same octave loop with :func:`resize` and :func:`add_lost_detail`, but its step is
compiled and tiled (:mod:`cnnstudio.core.dream.tiled_step`), which calls
:func:`compute_loss` and :func:`normalised_gradient` on each tile; the tests hold the job to
the numbers of :func:`deep_dream`.

Images here are float32 tensors (height, width, 3) in the network's input units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

#: pixels cropped from each side of an activation by the "l2" objective (Deep Learning
#: with Python: avoids border artifacts)
L2_BORDER = 2


def compute_loss(
    features_model: Any,
    image: Any,
    layer_weights: Any,
    *,
    objective: str = "mean",
    channel: Any = None,
    input_size: tuple[int, int] | None = None,
    grayscale: bool = False,
    guides: Sequence[Any] | None = None,
) -> Any:
    """The weighted objective term of each layer for one image: a float32 tensor with one
    value per output of ``features_model``; their sum is the loss the dream climbs.

    ``objective``: "mean" (TF tutorial), "l2" (keras-io: squares without an
    :data:`L2_BORDER`-pixel border, over the activation's size) or "guide" (each
    position's best match among the guide's features, ``guides``: one
    :func:`guide_features` per output, see :func:`guide_match`). ``channel`` (an int
    tensor, or None for whole layers): the one channel to amplify (the TF1 recipe).
    ``input_size``: a model with a fixed input size sees the image resized to it;
    ``grayscale``: a grey model sees the mean of the three channels.
    """
    activations = layer_activations(features_model, image, input_size, grayscale)
    terms = []
    for index, activation in enumerate(activations):
        if objective == "guide":
            terms.append(guide_match(activation, guides[index]))
            continue
        if channel is not None:
            activation = tf.gather(activation, channel, axis=-1)
        if objective == "l2":
            h, w = tf.shape(activation)[1], tf.shape(activation)[2]
            # tiny activations (small tiles, deep layers) keep their border
            border = tf.where(tf.minimum(h, w) > 2 * L2_BORDER, L2_BORDER, 0)
            inner = activation[:, border : h - border, border : w - border]
            size = tf.cast(tf.size(activation), tf.float32)
            terms.append(tf.reduce_sum(tf.square(inner)) / size)
        else:
            terms.append(tf.reduce_mean(activation))
    return tf.stack(terms) * layer_weights


def layer_activations(
    features_model: Any,
    image: Any,
    input_size: tuple[int, int] | None = None,
    grayscale: bool = False,
) -> list[Any]:
    """The outputs of ``features_model`` for one image (height, width, 3; network units),
    as float32 (mixed precision: losses in float32): resized first for a model with a
    fixed ``input_size``, made grey for a ``grayscale`` model."""
    # expand_dims, not image[None]: the gradient of an indexing op is a full-size
    # StridedSliceGrad (about 1% of a step), of expand_dims a free reshape
    batch = tf.expand_dims(image, 0)
    if input_size is not None:
        batch = tf.image.resize(batch, input_size)
    if grayscale:
        batch = tf.reduce_mean(batch, axis=-1, keepdims=True)
    activations = features_model(batch, training=False)
    if not isinstance(activations, (list, tuple)):
        activations = [activations]
    return [tf.cast(activation, tf.float32) for activation in activations]


#: the most guide positions kept per layer: the match is a (positions x guide
#: positions) product per tile, so a large guide is thinned to this many positions
GUIDE_POSITIONS = 2048


def guide_features(activation: Any, max_positions: int = GUIDE_POSITIONS, seed: int = 0) -> Any:
    """A guide picture's features at one layer, as the guide objective uses them: one row
    per position (positions, channels), at most ``max_positions`` of them (an even random
    choice), divided by their mean squared length, so a position whose features equal
    the guide's scores about 1 on any layer."""
    channels = int(activation.shape[-1])
    rows = np.asarray(activation, np.float32).reshape(-1, channels)
    if len(rows) > max_positions:
        keep = np.random.default_rng(seed).choice(len(rows), max_positions, replace=False)
        rows = rows[np.sort(keep)]
    scale = float(np.mean(np.sum(np.square(rows, dtype=np.float64), axis=1))) + 1e-12
    return tf.constant(rows / scale, tf.float32)


def guide_match(activation: Any, guide: Any) -> Any:
    """The guide objective of one layer (Google's deepdream notebook, ``objective_guide``;
    neural-dream's guide mode): for each position of ``activation``, the dot product with
    the guide feature it matches best, averaged over the positions. Its gradient at a
    position is that best guide feature, so every position is pulled toward the guide
    feature it already resembles most."""
    channels = tf.shape(activation)[-1]
    positions = tf.reshape(activation, [-1, channels])
    dots = tf.matmul(positions, guide, transpose_b=True)
    return tf.reduce_mean(tf.reduce_max(dots, axis=1))


def normalised_gradient(gradients: Any, step_size: Any) -> Any:
    """How far the image moves: ``step_size * g / (std(g) + 1e-8)`` (TF tutorial), so the
    step size, not the gradient's scale, decides how fast the picture changes."""
    # the scalars combined first: one pass fewer over a full-size tensor
    return gradients * (step_size / (tf.math.reduce_std(gradients) + 1e-8))


def gradient_ascent_step(
    features_model: Any,
    image: Any,
    step_size: Any,
    layer_weights: Any,
    low: Any,
    high: Any,
    **loss_options: Any,
) -> tuple[Any, Any]:
    """One step of gradient ascent on the whole image: the updated image, clipped to the
    valid inputs ``low``..``high`` (per channel), and the loss terms before the step.
    ``loss_options`` go to :func:`compute_loss`."""
    with tf.GradientTape() as tape:
        tape.watch(image)
        terms = compute_loss(features_model, image, layer_weights, **loss_options)
        loss = tf.reduce_sum(terms)
    gradients = tape.gradient(loss, image)
    image = tf.clip_by_value(image + normalised_gradient(gradients, step_size), low, high)
    return image, terms


def resize(image: Any, size: Sequence[int]) -> Any:
    """``image`` resized to ``size`` = (height, width), bilinearly as both recipes do (the
    image itself when it has that size already)."""
    if tuple(image.shape[:2]) == tuple(size):
        return image
    return tf.image.resize(image, size)


def add_lost_detail(
    dreamed: Any,
    original: Any,
    size: Sequence[int],
    smaller_size: Sequence[int],
    low: Any,
    high: Any,
) -> Any:
    """After upscaling ``dreamed`` to ``size``: add back what the previous octave, at
    ``smaller_size``, could not hold of the original (keras-io's ``lost_detail``)."""
    lost = resize(original, size) - resize(resize(original, smaller_size), size)
    return tf.clip_by_value(dreamed + lost, low, high)


def deep_dream(
    features_model: Any,
    original: Any,
    sizes: Sequence[tuple[int, int]],
    steps: int,
    step_size: float,
    layer_weights: Any,
    low: Any,
    high: Any,
    *,
    reinject_detail: bool = True,
    max_loss: float | None = None,
    **loss_options: Any,
) -> Any:
    """The whole recipe on ``original`` (network units): ``steps`` gradient-ascent steps
    on each octave of ``sizes`` (smallest first, e.g. ``params.octave_sizes``), detail
    re-injected after each upscale, an octave ended once its loss exceeds ``max_loss``.
    Returns the dreamed image at the last octave's size."""
    image = resize(original, sizes[0])
    for octave, size in enumerate(sizes):
        if octave > 0:
            image = resize(image, size)
            if reinject_detail:
                image = add_lost_detail(image, original, size, sizes[octave - 1], low, high)
        for _ in range(steps):
            image, terms = gradient_ascent_step(
                features_model, image, step_size, layer_weights, low, high, **loss_options
            )
            if max_loss is not None and float(tf.reduce_sum(terms)) > max_loss:
                break
    return image
