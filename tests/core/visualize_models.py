"""Small models with known channels for the feature-visualisation tests.

``designed()`` has one 3x3 convolution whose seven filters are set by hand, so what each
channel looks for is known and the channels differ: red, green and blue (each against the
other two), horizontal and vertical edges of the luminance, darkness and brightness.
Nothing in it is random, so its images and the checks on them do not depend on a seed
of the network.
"""

from __future__ import annotations

import keras
import numpy as np

CHANNELS = ("red", "green", "blue", "horizontal edges", "vertical edges", "dark", "bright")


def designed_filters() -> tuple[np.ndarray, np.ndarray]:
    """Kernel (3, 3, 3, 7) and bias (7,) of the designed convolution (inputs in 0..1)."""
    kernel = np.zeros((3, 3, 3, len(CHANNELS)), np.float32)
    for colour in range(3):  # one colour against the mean of the other two
        kernel[1, 1, :, colour] = -0.5
        kernel[1, 1, colour, colour] = 1.0
    sobel = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], np.float32) / 4.0
    kernel[:, :, :, 3] = sobel[:, :, None] / 3.0
    kernel[:, :, :, 4] = sobel.T[:, :, None] / 3.0
    kernel[1, 1, :, 5] = -1.0 / 3.0  # 1 - luminance, with the bias
    kernel[1, 1, :, 6] = 1.0 / 3.0
    bias = np.zeros(len(CHANNELS), np.float32)
    bias[5] = 1.0
    return kernel, bias


def designed(name: str = "designed", input_shape=(None, None, 3)) -> keras.Model:
    """Pixels 0..255 -> Rescaling -> the designed convolution ``detect`` (ReLU) ->
    a linear ``mix`` convolution -> global pooling -> ``scores`` (softmax, 3 classes)."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    detect = keras.layers.Conv2D(len(CHANNELS), 3, padding="same", activation="relu", name="detect")
    x = detect(x)
    detect.set_weights(list(designed_filters()))
    mix = keras.layers.Conv2D(4, 1, name="mix")
    x = mix(x)
    mix.set_weights([np.eye(len(CHANNELS), 4, dtype=np.float32)[None, None], np.zeros(4)])
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    scores = keras.layers.Dense(3, activation="softmax", name="scores")
    outputs = scores(x)
    # class c = channel c (red, green, blue), steeply: the softmax saturates
    scores.set_weights([np.eye(4, 3, dtype=np.float32) * 40.0, np.zeros(3, np.float32)])
    return keras.Model(inputs, outputs, name=name)


def transfer(name: str = "transfer") -> keras.Model:
    """A transfer model as Train makes them: the designed model nested as its backbone
    (layer paths ``designed/detect``), then pooling and a softmax head."""
    base = designed("designed")
    inner = keras.Model(base.inputs, base.get_layer("detect").output, name="designed")
    model = keras.Sequential(
        [
            keras.Input((None, None, 3)),
            inner,
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dense(2, activation="softmax", name="head"),
        ],
        name=name,
    )
    return model


def grey_fixed(name: str = "digits") -> keras.Model:
    """A LeNet-like grey model with a fixed 28x28 input (its tiles must be 28x28)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(6, 5, activation="tanh", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(name="p1")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="out")(x)
    return keras.Model(inputs, outputs, name=name)
