"""Perceptual losses: content, style (Gram), total variation and temporal terms, shared by
neural style transfer (:mod:`cnnstudio.core.style`), the fast style network
(:mod:`cnnstudio.core.faststyle`) and video.

Each term is *normalised*, so that the same weights mean the same for any feature network
(ImageNet-trained, untrained, the user's own) and any picture size:

- content: per layer, mean((F - P)^2) / mean(P^2): the squared error relative to the
  target features' own magnitude (0: the content's features exactly; about 1: features
  as far from the content's as the content's are from zero);
- style: per layer, mean((G(F) - A)^2) / mean(A^2), with G the Gram matrix and A the
  style's: the error relative to the target Gram's magnitude (crowsonkb's
  style-transfer-pytorch scales its losses the same way);
- each of these two is the weighted *mean* over its layers (the layer weights are
  relative, their sum does not matter);
- total variation: mean squared difference between neighbouring pixels over the picture's
  own pixel variance (L2 TV as Mahendran & Vedaldi; about 1 for white noise, a few
  hundredths for a photo, whatever the size or the pixel range);
- temporal (videos, Ruder et al. 2016): mean(mask * (x - warped)^2) on 0..1 pixels.

So the weights are relative importances: content 1 with style 10 asks for the style ten
times as much as for the content. Before this the terms were raw sums whose scales
differed by orders of magnitude between networks and sizes (an untrained VGG19's
total-variation term was 10,000x its style term at the tutorial's weights).

These are plain functions on tensors, batched over the first axis; the callers compile
them (:mod:`cnnstudio.core.style.program`, :mod:`cnnstudio.core.faststyle.training`).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

#: keeps the ratios finite when a target is all zeros (a flat picture, a dead layer);
#: tiny, as features (and so Grams) of a network of its own can be very small
EPSILON = 1e-30
#: floor of the pixel variance that total variation is divided by (0..1 pixels): a flat
#: picture's TV counts as if it had a standard deviation of ~0.01 (2.5 levels of 255)
TV_VARIANCE_FLOOR = 1e-4


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Gram matrices of (B, H, W, C) features: F^T F / (H * W) per picture, shape
    (B, C, C). Which channels fire together, wherever they do: the style, without the
    layout."""
    features = tf.cast(tf.convert_to_tensor(features), tf.float32)
    gram = tf.einsum("bijc,bijd->bcd", features, features)
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], tf.float32)
    return gram / positions


def relative_error(values: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """mean((values - targets)^2) / mean(targets^2): a squared error in units of the
    target's own magnitude, so it is the same for features 10x or 1000x larger."""
    targets = tf.cast(targets, tf.float32)
    error = tf.reduce_mean(tf.square(tf.cast(values, tf.float32) - targets))
    return error / (tf.reduce_mean(tf.square(targets)) + EPSILON)


def _weighted_mean(terms: Sequence[tf.Tensor], layer_weights) -> tf.Tensor:
    weights = tf.cast(tf.convert_to_tensor(layer_weights), tf.float32)
    total = tf.add_n([weights[i] * term for i, term in enumerate(terms)])
    return total / (tf.reduce_sum(weights) + EPSILON)


def content_loss(
    features: Sequence[tf.Tensor], targets: Sequence[tf.Tensor], layer_weights
) -> tf.Tensor:
    """The layers' weighted mean of mean((F_l - P_l)^2) / mean(P_l^2): the picture's
    features against the content's, relative to the content's magnitude
    (``layer_weights``: one per layer, a list or a tensor; relative)."""
    return _weighted_mean(
        [relative_error(f, t) for f, t in zip(features, targets, strict=True)], layer_weights
    )


def style_loss(
    features: Sequence[tf.Tensor], gram_targets: Sequence[tf.Tensor], layer_weights
) -> tf.Tensor:
    """The layers' weighted mean of mean((G(F_l) - A_l)^2) / mean(A_l^2): the Gram
    matrices of the picture's features against the style's (``gram_targets``: (C, C) or
    (B, C, C), computed once), relative to the style Gram's magnitude."""
    return _weighted_mean(
        [relative_error(gram_matrix(f), t) for f, t in zip(features, gram_targets, strict=True)],
        layer_weights,
    )


def total_variation_loss(image: tf.Tensor) -> tf.Tensor:
    """Mean squared difference of neighbouring pixels (across and down) over twice the
    picture's pixel variance, averaged over a batch: ~1 for white noise, near 0 for smooth
    pictures, whatever their size and pixel range. The variance only scales the term (no
    gradient flows through it, so it never pays to lower the contrast)."""
    image = tf.cast(tf.convert_to_tensor(image), tf.float32)
    across = tf.reduce_mean(tf.square(image[:, :, 1:, :] - image[:, :, :-1, :]), axis=[1, 2, 3])
    down = tf.reduce_mean(tf.square(image[:, 1:, :, :] - image[:, :-1, :, :]), axis=[1, 2, 3])
    _, variance = tf.nn.moments(image, axes=[1, 2, 3])
    # white noise: each mean squared difference is twice the variance
    noise_level = 2.0 * tf.maximum(tf.stop_gradient(variance), TV_VARIANCE_FLOOR)
    return tf.reduce_mean((across + down) / 2.0 / noise_level)


def temporal_loss(
    image: tf.Tensor, warped: tf.Tensor, mask: tf.Tensor, weight: float | tf.Tensor = 1.0
) -> tf.Tensor:
    """weight * mean(mask * (image - warped)^2) on 0..1 pixels (Ruder et al. 2016): the
    picture against the previous frame's result warped by the optical flow, ``mask`` 0
    where the flow is not trusted (occlusions, motion boundaries), (B, H, W, 1) or
    (B, H, W, 3)."""
    image = tf.cast(tf.convert_to_tensor(image), tf.float32)
    difference = tf.square(image - tf.cast(warped, tf.float32))
    return tf.cast(weight, tf.float32) * tf.reduce_mean(tf.cast(mask, tf.float32) * difference)


def perceptual_loss(
    image: tf.Tensor,
    content_features: Sequence[tf.Tensor],
    style_features: Sequence[tf.Tensor],
    content_targets: Sequence[tf.Tensor],
    gram_targets: Sequence[tf.Tensor],
    content_layer_weights,
    style_layer_weights,
    loss_weights,
) -> tf.Tensor:
    """[total, content, style, total variation], each term already weighted, for
    ``image`` (RGB 0..1, (B, H, W, 3)) whose features are given; ``loss_weights`` =
    (content, style, total variation)."""
    content = loss_weights[0] * content_loss(
        content_features, content_targets, content_layer_weights
    )
    style = loss_weights[1] * style_loss(style_features, gram_targets, style_layer_weights)
    tv = loss_weights[2] * total_variation_loss(image)
    return tf.stack([content + style + tv, content, style, tv])
