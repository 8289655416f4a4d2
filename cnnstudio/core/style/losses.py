"""The style transfer loss, as the TensorFlow tutorial and keras-io write it.

The picture is compared with the content picture through VGG19's features at the content
layers, and with the style picture through the Gram matrices of its features at the style
layers (Gatys et al. 2015); a total-variation term keeps neighbouring pixels close:

    loss = content_weight / n_content * content_loss
         + style_weight   / n_style   * style_loss
         + tv_weight * total_variation_loss

These are plain functions on tensors: :mod:`.program` compiles them once (with every
weight a tensor, so new values never retrace), the tests and the benchmark call them too.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Gram matrix of (1, H, W, C) features: F^T F / (H * W), shape (C, C). Which channels
    fire together, wherever they do: the style, without the layout."""
    features = tf.cast(tf.convert_to_tensor(features), tf.float32)
    gram = tf.einsum("bijc,bijd->cd", features, features)
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], tf.float32)
    return gram / positions


def content_loss(
    features: Sequence[tf.Tensor], targets: Sequence[tf.Tensor], layer_weights
) -> tf.Tensor:
    """sum_l w_l * mean((F_l - P_l)^2): the picture's features against the content's,
    layer by layer (``layer_weights``: one per layer, a list or a tensor)."""
    return tf.add_n(
        [
            layer_weights[i] * tf.reduce_mean(tf.square(f - t))
            for i, (f, t) in enumerate(zip(features, targets, strict=True))
        ]
    )


def style_loss(
    features: Sequence[tf.Tensor], gram_targets: Sequence[tf.Tensor], layer_weights
) -> tf.Tensor:
    """sum_l w_l * mean((G(F_l) - A_l)^2): the Gram matrices of the picture's features
    against the style's (``gram_targets``, computed once per run)."""
    return tf.add_n(
        [
            layer_weights[i] * tf.reduce_mean(tf.square(gram_matrix(f) - t))
            for i, (f, t) in enumerate(zip(features, gram_targets, strict=True))
        ]
    )


def total_variation_loss(image: tf.Tensor) -> tf.Tensor:
    """Sum of the absolute differences between neighbouring pixels (anisotropic TV, as
    ``tf.image.total_variation``): high-frequency noise costs, smooth regions do not."""
    return tf.reduce_sum(tf.image.total_variation(tf.convert_to_tensor(image)))


def style_transfer_loss(
    image: tf.Tensor,
    content_features: Sequence[tf.Tensor],
    style_features: Sequence[tf.Tensor],
    content_targets: Sequence[tf.Tensor],
    gram_targets: Sequence[tf.Tensor],
    content_layer_weights,
    style_layer_weights,
    loss_weights,
) -> tf.Tensor:
    """[total, content, style, total variation] for ``image`` (RGB 0..1) whose features
    are given; ``loss_weights`` = (content, style, total variation). The content and
    style terms are averaged over their layers, as the TensorFlow tutorial does."""
    content = content_loss(content_features, content_targets, content_layer_weights)
    style = style_loss(style_features, gram_targets, style_layer_weights)
    content = content * loss_weights[0] / len(content_features)
    style = style * loss_weights[1] / len(style_features)
    tv = loss_weights[2] * total_variation_loss(image)
    return tf.stack([content + style + tv, content, style, tv])
