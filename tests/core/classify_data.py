"""Generated pictures and tiny trained CNNs for the Classify tests: a coloured square
whose colour is the class, a white square whose quadrant is the class.

Imported by test modules next to it (pytest puts their folder on ``sys.path``)."""

from __future__ import annotations

import numpy as np

from cnnstudio.core import image_saving

SIZE = 32
PATCH = 8
COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.float32)
COLOUR_NAMES = ["red", "green", "blue"]


def colour_patches(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Grey noise with one bright square whose colour is the class, anywhere."""
    rng = np.random.default_rng(seed)
    x = rng.integers(60, 100, size=(n, SIZE, SIZE, 3)).astype(np.float32)
    y = rng.integers(0, 3, size=n)
    corners = []
    for i in range(n):
        top, left = (int(v) for v in rng.integers(0, SIZE - PATCH + 1, size=2))
        x[i, top : top + PATCH, left : left + PATCH] = COLOURS[y[i]]
        corners.append((top, left))
    return x, y, corners


def quadrant_patches(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Dark noise with a white square; the class is the quadrant it lies in."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 30, size=(n, SIZE, SIZE, 3)).astype(np.float32)
    y = rng.integers(0, 4, size=n)
    half = SIZE // 2
    for i in range(n):
        row, col = divmod(int(y[i]), 2)
        top = row * half + int(rng.integers(0, half - PATCH + 1))
        left = col * half + int(rng.integers(0, half - PATCH + 1))
        x[i, top : top + PATCH, left : left + PATCH] = 255
    return x, y


def conv_base(keras, name: str = "base"):
    inputs = keras.Input((SIZE, SIZE, 3))
    z = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    z = keras.layers.MaxPooling2D()(z)
    z = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="top_conv")(z)
    return keras.Model(inputs, z, name=name)


def train(model, x, y, epochs: int = 5):
    import keras

    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    return model


def colour_model(nested: bool):
    """A colour-patch classifier with a global-average-pooling head (as transfer models
    have); ``nested``: its convolutions live in a sub-model, as a transfer backbone does."""
    import keras

    keras.utils.set_random_seed(1)
    if nested:
        inputs = keras.Input((SIZE, SIZE, 3))
        z = keras.layers.Rescaling(1 / 255.0)(inputs)
        z = conv_base(keras)(z)
        z = keras.layers.GlobalAveragePooling2D()(z)
        model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(z))
    else:
        model = keras.Sequential(
            [
                keras.Input((SIZE, SIZE, 3)),
                keras.layers.Rescaling(1 / 255.0),
                keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                keras.layers.MaxPooling2D(),
                keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="top_conv"),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
    x, y, _ = colour_patches(300, seed=0)
    return train(model, x, y)


def save_png(path, array) -> str:
    image_saving.save_image(path, np.clip(array, 0, 255).astype(np.uint8))
    return str(path)
