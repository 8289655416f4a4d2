"""What each image is optimised for (Lucid's ``optvis.objectives``), batched: image ``b``
of a batch has its own channel ``channels[b]``, so one compiled step serves any channels.

- channel: the mean of the channel's activation map;
- neuron: the channel's activation at the centre of the map;
- class: a class score before the final softmax/sigmoid, which is the channel objective
  applied to the scores (the network part, :mod:`.network`, supplies them);
- diversity: how alike the images of one channel are, as the cosine similarity of their
  Gram matrices (Lucid's ``diversity``), to be subtracted with a weight.

Activations are (batch, height, width, channels) maps or (batch, units) vectors; a
vector's "map" is its single value.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf


def channel_maps(activations: Any, channels: Any) -> Any:
    """Each image's own channel: (batch, height, width) maps, or (batch,) values."""
    activations = tf.cast(activations, tf.float32)  # mixed precision: objectives in float32
    axis = len(activations.shape) - 1
    return tf.gather(activations, tf.cast(channels, tf.int32), axis=axis, batch_dims=1)


def channel_objective(activations: Any, channels: Any) -> Any:
    """(batch,): the mean of each image's channel map (Lucid's ``channel``)."""
    maps = channel_maps(activations, channels)
    if len(maps.shape) == 1:
        return maps
    return tf.reduce_mean(maps, axis=list(range(1, len(maps.shape))))


def neuron_objective(activations: Any, channels: Any) -> Any:
    """(batch,): each image's channel at the centre of the map (Lucid's ``neuron``)."""
    maps = channel_maps(activations, channels)
    if len(maps.shape) == 1:
        return maps
    shape = tf.shape(maps)
    return maps[:, shape[1] // 2, shape[2] // 2]


def class_objective(scores: Any, classes: Any) -> Any:
    """(batch,): each image's class score (before softmax), from (batch, classes)."""
    return channel_objective(scores, classes)


OBJECTIVE_FUNCTIONS = {
    "channel": channel_objective,
    "neuron": neuron_objective,
    "class": class_objective,
}


def gram_matrices(activations: Any) -> Any:
    """(batch, channels * channels): each image's Gram matrix of channel correlations
    over positions, flattened and scaled to unit length."""
    activations = tf.cast(activations, tf.float32)
    channels = activations.shape[-1]
    flat = tf.reshape(activations, [tf.shape(activations)[0], -1, channels])
    grams = tf.matmul(flat, flat, transpose_a=True)
    grams = tf.reshape(grams, [tf.shape(grams)[0], -1])
    return tf.math.l2_normalize(grams, axis=1, epsilon=1e-10)


def diversity(activations: Any, group_size: Any) -> Any:
    """(groups,): for each run of ``group_size`` consecutive images (one channel's
    images), the summed cosine similarity of their Gram matrices over all pairs of
    different images, divided by ``group_size`` (Lucid's ``diversity``). Lower is more
    diverse; the loss adds it with a weight."""
    grams = gram_matrices(activations)
    groups = tf.reshape(grams, [-1, group_size, tf.shape(grams)[1]])
    similarity = tf.matmul(groups, groups, transpose_b=True)  # (groups, size, size)
    others = tf.reduce_sum(similarity, axis=[1, 2]) - tf.linalg.trace(similarity)
    return others / tf.cast(group_size, tf.float32)
