"""The style network of Johnson, Alahi & Fei-Fei (2016), "Perceptual Losses for Real-Time
Style Transfer and Super-Resolution", with the two changes everyone adopted since:

- instance normalisation instead of batch normalisation (Ulyanov, Vedaldi & Lempitsky
  2016): Keras' ``GroupNormalization(groups=-1)``, one group per channel, *is* instance
  normalisation (each picture's channel normalised over its own positions);
- upsampling by a nearest-neighbour resize followed by a 3x3 convolution instead of a
  transposed convolution, which leaves no checkerboard (Odena, Dumoulin & Olah 2016).

Layout: 9x9 conv (32, stride 1), 3x3 conv (64, stride 2), 3x3 conv (128, stride 2),
five residual blocks of two 3x3 convs (128), two upsamplings (x2 resize, 3x3 conv: 64,
then 32), a 9x9 conv to RGB. Every conv but the last is followed by instance norm and a
ReLU. Fully convolutional: any size whose sides are multiples of 4 (the apply path pads
others). Input and output are RGB floats 0..255, so the model needs nothing around it.

Only Keras' own layers: a saved model loads with ``safe_mode=True`` and passes the
library's check for code (``core/library.py``) with no custom objects to register.
"""

from __future__ import annotations

import keras
from keras import layers

#: the sides of a picture the network takes must be multiples of this (two stride-2 convs)
MULTIPLE = 4


class _Seeds:
    """Initial weights fixed by one seed: a run started again from scratch is the same."""

    def __init__(self, seed: int | None) -> None:
        self.seed = seed
        self.count = 0

    def kernel(self) -> keras.initializers.Initializer:
        self.count += 1
        seed = None if self.seed is None else self.seed * 1000 + self.count
        return keras.initializers.GlorotUniform(seed=seed)


def _conv(x, filters: int, kernel: int, stride: int, name: str, seeds: _Seeds, relu=True):
    # no bias: the instance norm's offset does its job
    x = layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        padding="same",
        use_bias=False,
        kernel_initializer=seeds.kernel(),
        name=f"{name}_conv",
    )(x)
    x = layers.GroupNormalization(groups=-1, epsilon=1e-3, name=f"{name}_norm")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _residual(x, index: int, seeds: _Seeds):
    name = f"res{index}"
    y = _conv(x, 128, 3, 1, f"{name}a", seeds)
    y = _conv(y, 128, 3, 1, f"{name}b", seeds, relu=False)
    return layers.Add(name=f"{name}_add")([x, y])


def _upsample(x, filters: int, name: str, seeds: _Seeds):
    x = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_resize")(x)
    return _conv(x, filters, 3, 1, name, seeds)


def build_style_network(seed: int | None = None, name: str = "style_network") -> keras.Model:
    """A new style network, (B, H, W, 3) RGB 0..255 in, same out; its initial weights
    are fixed by ``seed`` (None: random)."""
    seeds = _Seeds(seed)
    inputs = keras.Input((None, None, 3), name="picture")
    x = layers.Rescaling(1.0 / 255.0, name="to_unit")(inputs)
    x = _conv(x, 32, 9, 1, "down0", seeds)
    x = _conv(x, 64, 3, 2, "down1", seeds)
    x = _conv(x, 128, 3, 2, "down2", seeds)
    for index in range(1, 6):
        x = _residual(x, index, seeds)
    x = _upsample(x, 64, "up1", seeds)
    x = _upsample(x, 32, "up2", seeds)
    x = layers.Conv2D(3, 9, padding="same", kernel_initializer=seeds.kernel(), name="to_rgb")(x)
    x = layers.Activation("sigmoid", name="unit_rgb")(x)
    outputs = layers.Rescaling(255.0, name="to_pixels")(x)
    return keras.Model(inputs, outputs, name=name)
