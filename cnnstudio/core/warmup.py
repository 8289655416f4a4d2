"""Warm TensorFlow's and Keras's one-time machinery before the user needs it.

The first ``fit`` and the first compiled gradient step of a process do more than trace
their own graph: Keras imports its trainer, optimizer, metric and data-adapter modules,
and AutoGraph and TensorFlow's function runtime fill their caches. That work holds the
GIL for long stretches, and the window, which needs the GIL to paint, stalled 140-170 ms
when the first training run of a session started (bench/bench_stalls.py, issue 15). Done
once on a tiny network while the window opens, it leaves each job only its own tracing.

Imports TensorFlow: the window calls :func:`warm_up` on a worker, after
:func:`cnnstudio.core.device.start_tensorflow`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def _tiny_network(keras):
    # every name given: Keras numbers unnamed layers per process ("conv2d_1"), and the
    # user's first network must get the names it would have had without the warm-up
    return keras.Sequential(
        [
            keras.Input((8, 8, 3), name="warmup_input"),
            keras.layers.Conv2D(2, 3, activation="relu", name="warmup_conv"),
            keras.layers.GlobalAveragePooling2D(name="warmup_pool"),
            keras.layers.Dense(2, activation="softmax", name="warmup_dense"),
        ],
        name="warmup",
    )


def warm_up() -> None:
    """One training step with validation, one prediction and one compiled gradient step
    with respect to the input (as Dream and Style take), on an 8x8 network."""
    import keras

    model = _tiny_network(keras)
    model.compile(
        optimizer=keras.optimizers.Adam(name="warmup_adam"),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    x = np.zeros((4, 8, 8, 3), np.float32)
    y = np.zeros(4, np.int32)
    model.fit(x, y, batch_size=4, epochs=1, validation_data=(x, y), verbose=0)
    model.predict(x, verbose=0)

    @tf.function
    def ascent(picture):
        with tf.GradientTape() as tape:
            tape.watch(picture)
            loss = tf.reduce_mean(model(picture, training=False))
        return picture + tape.gradient(loss, picture)

    ascent(tf.constant(x)).numpy()
