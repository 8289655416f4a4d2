"""The training recipes: LeNet-5, the VGG-style CIFAR-10 CNN, transfer learning.

Every model takes float pixels 0..255. ``lenet5`` and ``cifar-cnn`` rescale inside the
model (a ``Rescaling`` layer), so their library sidecar says ``preprocessing: "none"``;
``transfer`` models expect the backbone's own preprocessing, applied by the caller with
:func:`cnnstudio.core.backbones.preprocess` (sidecar: the backbone name). No ``Lambda``
layers anywhere: the safe loader refuses them.

The recipes' defaults (batch size, epochs, ...) are in :mod:`.params`; this module builds
the models and imports Keras at its top: imported lazily, by the trainer.
"""

from __future__ import annotations

import io
from typing import Any

import keras
import numpy as np
from keras import layers

from cnnstudio.core import backbones
from cnnstudio.core.errors import InputError
from cnnstudio.core.training.params import get_recipe


def preprocessing_for(recipe: str, backbone: str | None = None) -> str:
    """What the library sidecar records: "none" or the backbone whose preprocess applies."""
    return backbone if recipe == "transfer" and backbone else "none"


def build_model(
    recipe: str,
    *,
    num_classes: int,
    input_size: tuple[int, int] | None = None,
    channels: int | None = None,
    backbone: str = "inception_v3",
    weights: str = "imagenet",
    fine_tune: int = 0,
    seed: int | None = None,
) -> Any:
    """Build (not compile) the model of ``recipe`` for ``num_classes`` classes and inputs
    of ``input_size`` (h, w) x ``channels``; defaults from the recipe. ``seed``: the
    untrained backbone of a transfer recipe with ``weights="random"``."""
    spec = get_recipe(recipe)
    if num_classes < 2:
        raise InputError(f"a classifier needs at least 2 classes, the data has {num_classes}")
    size = tuple(input_size) if input_size else (spec.image_size, spec.image_size)
    channels = channels or spec.channels
    if recipe == "lenet5":
        return _lenet5(size, channels, num_classes)
    if recipe == "cifar-cnn":
        return _cifar_cnn(size, channels, num_classes)
    return _transfer(size, num_classes, backbone, weights, fine_tune, seed)


def _lenet5(size: tuple[int, int], channels: int, num_classes: int) -> Any:
    if min(size) < 12:
        raise InputError(f"LeNet-5 needs images of at least 12x12, not {size[1]}x{size[0]}")
    inputs = keras.Input((*size, channels), name="image")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    # the cookbook pads 28x28 MNIST by 2 to the 32x32 LeNet-5 was designed for
    x = layers.ZeroPadding2D(2, name="pad")(x)
    x = layers.Conv2D(6, 5, activation="relu", name="c1")(x)
    x = layers.MaxPooling2D(2, strides=2, padding="same", name="s2")(x)
    x = layers.Conv2D(16, 5, activation="relu", name="c3")(x)
    x = layers.MaxPooling2D(2, strides=2, padding="same", name="s4")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(120, activation="relu", name="f5")(x)
    x = layers.Dense(84, activation="relu", name="f6")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="lenet5")


def _cifar_cnn(size: tuple[int, int], channels: int, num_classes: int) -> Any:
    if min(size) < 8:
        raise InputError(f"the CIFAR CNN needs images of at least 8x8, not {size[1]}x{size[0]}")
    inputs = keras.Input((*size, channels), name="image")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for block, filters in enumerate((32, 64, 128), start=1):
        for conv in (1, 2):
            x = layers.Conv2D(
                filters,
                3,
                padding="same",
                activation="relu",
                kernel_initializer="he_uniform",
                name=f"block{block}_conv{conv}",
            )(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
        x = layers.Dropout(0.2, name=f"block{block}_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", kernel_initializer="he_uniform", name="fc")(x)
    x = layers.Dropout(0.2, name="fc_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="cifar_cnn")


def _transfer(
    size: tuple[int, int],
    num_classes: int,
    backbone: str,
    weights: str,
    fine_tune: int,
    seed: int | None = None,
) -> Any:
    info = backbones.get_backbone(backbone)
    if min(size) < info.min_size:
        raise InputError(
            f"{info.label} needs images of at least {info.min_size}x{info.min_size}, "
            f"not {size[1]}x{size[0]}; raise the image size"
        )
    # a private copy: the cached backbones are shared with other tabs and must not train
    base = backbones.build_backbone_uncached(
        info.name, weights, include_top=False, input_shape=(*size, 3), seed=seed
    )
    base.trainable = False
    if fine_tune > 0:
        base.trainable = True
        for layer in base.layers[: max(len(base.layers) - fine_tune, 0)]:
            layer.trainable = False
        for layer in base.layers:
            # BatchNorm statistics stay frozen (the usual fine-tuning advice)
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
    inputs = keras.Input((*size, 3), name="image")
    # training=False keeps BatchNorm layers in inference mode even when unfrozen
    x = base(inputs, training=False)
    if info.name == "vgg19":
        # Practical ML with Python: VGG19 bottleneck features, flatten, 512 and 256
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(512, activation="relu", name="fc1")(x)
        x = layers.Dropout(0.5, name="fc1_dropout")(x)
        x = layers.Dense(256, activation="relu", name="fc2")(x)
        x = layers.Dropout(0.5, name="fc2_dropout")(x)
    else:
        # TF2 cookbook: global average pooling, dense 1024 and 128
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        x = layers.Dense(1024, activation="relu", name="fc1")(x)
        x = layers.Dense(128, activation="relu", name="fc2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=f"transfer_{info.name}")


def trainable_params(model: Any) -> int:
    """Number of trainable parameters."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def model_summary(model: Any) -> str:
    """The Keras summary (layers, output shapes, parameters) as plain text."""
    buffer = io.StringIO()
    model.summary(print_fn=lambda line, *args, **kwargs: buffer.write(line + "\n"))
    return _strip_rich_markup(buffer.getvalue())


def _strip_rich_markup(text: str) -> str:
    # Keras 3 renders the summary with rich; print_fn receives markup-free text, but be
    # defensive about box-drawing widths by normalising trailing spaces only
    return "\n".join(line.rstrip() for line in text.splitlines()).strip() + "\n"
