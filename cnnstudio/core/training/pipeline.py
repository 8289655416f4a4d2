"""The tf.data pipeline that feeds arrays to Keras: cache, shuffle, the CIFAR-10
augmentation of the TF2 cookbook, batch, resize, preprocess, prefetch.

Imports TensorFlow at its top: imported lazily, by the trainer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from cnnstudio.core.training.params import Augment


def make_pipeline(
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    image_size: tuple[int, int] | None = None,
    training: bool = False,
    augment: Augment | None = None,
    seed: int = 0,
    preprocess: Callable[[Any], Any] | None = None,
) -> Any:
    """A ``tf.data.Dataset`` of (float32 images 0..255 or preprocessed, int labels).

    cache -> shuffle (training) -> augment per image (training) -> batch -> resize to
    ``image_size`` and preprocess per batch -> prefetch(AUTOTUNE). Resizing after the
    cache keeps the cache at the source size (CIFAR at 75x75 would take 0.8 GB).
    """
    height, width = int(x.shape[1]), int(x.shape[2])
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32))).cache()
    if training:
        ds = ds.shuffle(min(len(x), 20_000), seed=seed, reshuffle_each_iteration=True)
    if training and augment is not None and augment.active:
        ds = ds.map(
            _augment_fn(augment, height, width, int(x.shape[3])),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    ds = ds.batch(batch_size)
    resize = image_size is not None and tuple(image_size) != (height, width)

    def finish(images, labels):
        images = tf.cast(images, tf.float32)
        if resize:
            images = tf.image.resize(images, image_size)
        if preprocess is not None:
            images = preprocess(images)
        return images, labels

    ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _augment_fn(options: Augment, height: int, width: int, channels: int) -> Callable:
    def augment(image, label):
        image = tf.cast(image, tf.float32)
        if options.crop and options.pad > 0:
            image = tf.image.resize_with_crop_or_pad(
                image, height + 2 * options.pad, width + 2 * options.pad
            )
            image = tf.image.random_crop(image, [height, width, channels])
        if options.flip:
            image = tf.image.random_flip_left_right(image)
        if options.brightness > 0:
            image = tf.image.random_brightness(image, options.brightness * 255.0)
        if options.contrast is not None:
            low, high = options.contrast
            image = tf.image.random_contrast(image, low, high)
        return tf.clip_by_value(image, 0.0, 255.0), label

    return augment
