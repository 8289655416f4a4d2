"""The tf.data pipelines that feed arrays to Keras: the training stream (an order and an
augmentation per epoch, both functions of the seed and the epoch alone), and the plain
pipeline of the validation and test sets. The augmentation is the CIFAR-10 one of the
TF2 cookbook.

Why the training stream is built as it is: a run resumed after epoch k must see exactly
the batches the uninterrupted run saw from epoch k on. A reshuffling ``shuffle()`` and
stateful random ops continue from a state that a new process does not have, so instead
every epoch draws its own permutation (``stateless_shuffle`` seeded by (seed, epoch)) and
every image its own augmentation (stateless ops seeded by (seed, epoch, position)); the
stream starts at the epoch the run resumes from. One stream covers all the epochs of a
run, so ``model.fit`` reads it with ``steps_per_epoch`` and keeps one iterator.

Imports TensorFlow at its top: imported lazily, by the trainer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from cnnstudio.core.training.params import Augment


def _options() -> tf.data.Options:
    # Several workers (MultiWorkerMirroredStrategy) split every batch by position: the
    # arrays come from memory, not from files a worker could own (TF's AUTO policy would
    # fall back to the same, with a warning).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def _finish_fn(
    image_size: tuple[int, int] | None,
    source_size: tuple[int, int],
    preprocess: Callable[[Any], Any] | None,
) -> Callable:
    resize = image_size is not None and tuple(image_size) != tuple(source_size)

    def finish(images, labels):
        images = tf.cast(images, tf.float32)
        if resize:
            images = tf.image.resize(images, image_size)
        if preprocess is not None:
            images = preprocess(images)
        return images, labels

    return finish


def make_pipeline(
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    image_size: tuple[int, int] | None = None,
    preprocess: Callable[[Any], Any] | None = None,
) -> Any:
    """A ``tf.data.Dataset`` of the validation or test set, in order: (float32 images
    0..255 or preprocessed, int labels), resized to ``image_size``, prefetched."""
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32))).cache()
    ds = ds.batch(batch_size)
    finish = _finish_fn(image_size, (int(x.shape[1]), int(x.shape[2])), preprocess)
    ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options())


def training_stream(
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    epochs: int,
    first_epoch: int = 0,
    image_size: tuple[int, int] | None = None,
    augment: Augment | None = None,
    seed: int = 0,
    preprocess: Callable[[Any], Any] | None = None,
) -> Any:
    """The training batches of epochs ``first_epoch`` .. ``epochs - 1`` (0-based), one
    epoch after the other: each epoch in its own order, each image augmented by its own
    seed, batched (the last batch of an epoch may be short), resized to ``image_size``
    (after batching: the source arrays stay small), preprocessed, prefetched. Read it
    with ``steps_per_epoch=``:func:`steps_per_epoch`."""
    count = len(x)
    height, width, channels = (int(v) for v in x.shape[1:4])
    images = tf.constant(x)
    labels = tf.constant(y.astype(np.int32))
    run_seed = tf.constant(seed, tf.int64)
    active = augment is not None and augment.active
    augment_image = _augment_fn(augment, height, width, channels) if active else None

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([run_seed, epoch])
        )
        ds = tf.data.Dataset.from_tensor_slices(order)
        if augment_image is None:  # whole batches at once
            return ds.batch(batch_size).map(
                lambda indices: (tf.gather(images, indices), tf.gather(labels, indices)),
                num_parallel_calls=tf.data.AUTOTUNE,
            )

        def take(position, index):
            # a seed per image from (seed, epoch, position): the same on every run
            image_seed = tf.stack([run_seed + 1, epoch * count + position])
            return augment_image(tf.gather(images, index), image_seed), tf.gather(labels, index)

        return ds.enumerate().map(take, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)

    ds = tf.data.Dataset.range(first_epoch, max(epochs, first_epoch)).flat_map(epoch_batches)
    finish = _finish_fn(image_size, (height, width), preprocess)
    ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options())


def steps_per_epoch(images: int, batch_size: int) -> int:
    return max(math.ceil(images / batch_size), 1)


def _augment_fn(options: Augment, height: int, width: int, channels: int) -> Callable:
    def augment(image, seed):
        crop_seed, flip_seed, brightness_seed, contrast_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, num=4)
        )
        image = tf.cast(image, tf.float32)
        if options.crop and options.pad > 0:
            image = tf.image.resize_with_crop_or_pad(
                image, height + 2 * options.pad, width + 2 * options.pad
            )
            image = tf.image.stateless_random_crop(image, [height, width, channels], crop_seed)
        if options.flip:
            image = tf.image.stateless_random_flip_left_right(image, flip_seed)
        if options.brightness > 0:
            image = tf.image.stateless_random_brightness(
                image, options.brightness * 255.0, brightness_seed
            )
        if options.contrast is not None:
            low, high = options.contrast
            image = tf.image.stateless_random_contrast(image, low, high, contrast_seed)
        return tf.clip_by_value(image, 0.0, 255.0)

    return augment
