"""Training a style network (TensorFlow): the compiled step, the held-out check and the
checkpoints. :mod:`.job` drives it and imports this module when a run starts.

One step (Johnson et al. 2016): the batch of photos goes through the style network; the
loss network (VGG19, cut at the deepest layer in use) compares the results' features
with the photos' own (content) and their Gram matrices with the style's (computed once),
plus total variation, with the normalised terms of :mod:`cnnstudio.core.perceptual`;
Adam updates the style network. The step is one ``tf.function`` with a fixed input
signature, traced once per run.

Checkpoints are plain files, written so that a kill at any moment leaves the last good
one usable: ``step-N.weights.h5`` (the network) and ``step-N.adam.npz`` (Adam's
variables: its step count and moments) are written first, then ``latest.json`` naming
them is replaced atomically; older ones are removed after that.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from cnnstudio.core import backbones, files, images, layers
from cnnstudio.core.faststyle.network import build_style_network
from cnnstudio.core.faststyle.params import LOSS_NETWORK, FastStyleParams
from cnnstudio.core.perceptual import gram_matrix, perceptual_loss
from cnnstudio.core.style.params import VGG19_MIN_SIZE, output_size

LATEST = "latest.json"
_KEEP = 2  # checkpoints kept
_LUMA = (0.299, 0.587, 0.114)


def luminance(pixels: tf.Tensor) -> tf.Tensor:
    """RGB -> its luminance (BT.601 Y) in all three channels, same range."""
    y = tf.reduce_sum(pixels * tf.constant(_LUMA, pixels.dtype), axis=-1, keepdims=True)
    return tf.repeat(y, 3, axis=-1)


def style_at(style: np.ndarray, size: int, scale: float) -> np.ndarray:
    """The style picture with its longest side ``size * scale`` (at least the network's
    minimum on its shorter side)."""
    side = max(VGG19_MIN_SIZE, round(size * scale))
    height, width = output_size(style.shape, side)
    if min(height, width) < VGG19_MIN_SIZE:
        grow = VGG19_MIN_SIZE / min(height, width)
        height, width = math.ceil(height * grow), math.ceil(width * grow)
    return images.resize_to(style, width, height)


class Trainer:
    """A style network being trained, with its loss network, optimiser and step."""

    def __init__(
        self,
        params: FastStyleParams,
        loss_model: Any,
        styles: Sequence[np.ndarray],
        network: keras.Model | None = None,
    ) -> None:
        self.params = params
        self.loss_model = loss_model
        self.luminance = bool(params.preserve_colors)
        self.network = network or build_style_network(seed=params.seed)
        self.optimizer = keras.optimizers.Adam(learning_rate=params.learning_rate)
        self.optimizer.build(self.network.trainable_variables)
        content_names = list(params.content_layers)
        style_names = list(params.style_layers)
        unique = list(dict.fromkeys(style_names + content_names))
        extractor = layers.layer_outputs_model(loss_model, unique)
        extractor.trainable = False
        content_index = [unique.index(n) for n in content_names]
        style_index = [unique.index(n) for n in style_names]
        content_w = tf.constant(list(params.content_layers.values()), tf.float32)
        style_w = tf.constant(list(params.style_layers.values()), tf.float32)
        loss_w = tf.constant(
            [params.content_weight, params.style_weight, params.tv_weight], tf.float32
        )
        luminance_only = self.luminance

        def features(pixels):
            """Loss-network features of RGB 0..255 pictures: (content list, style list)."""
            if luminance_only:
                pixels = luminance(pixels)
            outputs = extractor(backbones.preprocess(LOSS_NETWORK, pixels), training=False)
            if not isinstance(outputs, (list, tuple)):
                outputs = [outputs]
            outputs = [tf.cast(o, tf.float32) for o in outputs]
            return [outputs[i] for i in content_index], [outputs[i] for i in style_index]

        # the style's Gram targets, once: several styles are averaged
        grams = None
        for style in styles:
            picture = style_at(style, params.size, params.style_scale)
            _, feats = features(tf.constant(picture[None], tf.float32))
            these = [gram_matrix(f)[0] / len(styles) for f in feats]
            grams = these if grams is None else [a + b for a, b in zip(grams, these, strict=True)]
        self.gram_targets = [tf.constant(g) for g in grams]
        gram_targets = self.gram_targets
        network_ = self.network
        optimizer = self.optimizer

        def loss_terms(photos, styled):
            content_targets, _ = features(photos)
            content_feats, style_feats = features(styled)
            return perceptual_loss(
                styled / 255.0,
                content_feats,
                style_feats,
                [tf.stop_gradient(t) for t in content_targets],
                gram_targets,
                content_w,
                style_w,
                loss_w,
            )

        spec = tf.TensorSpec([None, params.size, params.size, 3], tf.uint8)

        @tf.function(input_signature=[spec])
        def train_step(batch):
            photos = tf.cast(batch, tf.float32)
            with tf.GradientTape() as tape:
                styled = network_(photos, training=True)
                terms = loss_terms(photos, styled)
                total = terms[0]
            variables = network_.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(total, variables), variables, strict=True))
            return terms

        @tf.function(input_signature=[spec])
        def evaluate(batch):
            photos = tf.cast(batch, tf.float32)
            styled = network_(photos, training=False)
            return loss_terms(photos, styled), styled

        self._train_step = train_step
        self._evaluate = evaluate

    def step(self, batch: np.ndarray) -> np.ndarray:
        """One training step on uint8 photos (B, S, S, 3): [total, content, style, tv]."""
        return self._train_step(batch).numpy()

    def evaluate(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The loss terms of uint8 photos without training, and the styled photos (uint8)."""
        terms, styled = self._evaluate(batch)
        pictures = np.clip(np.rint(styled.numpy()), 0, 255).astype(np.uint8)
        return terms.numpy(), pictures

    # ------------------------------------------------------------------ weights

    def weights(self) -> list[np.ndarray]:
        return [np.array(w) for w in self.network.get_weights()]

    def network_with(self, weights: list[np.ndarray]) -> keras.Model:
        """A new style network holding ``weights`` (the model handed to the library)."""
        network = build_style_network()
        network.set_weights(weights)
        return network

    def save_best(self, path: Path, weights: list[np.ndarray]) -> None:
        """``weights`` as the run's best network, replacing the file in one move."""
        save_weights(self.network_with(weights), path)

    # ------------------------------------------------------------------ checkpoints

    def save_checkpoint(self, folder: Path, step: int, extra: dict[str, Any]) -> Path:
        """Network, Adam's state and ``extra`` facts at ``step``; returns latest.json."""
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"step-{step:07d}"
        save_weights(self.network, folder / f"{stem}.weights.h5")
        adam = {f"v{i}": np.asarray(v) for i, v in enumerate(self.optimizer.variables)}
        with files.atomic_write(folder / f"{stem}.adam.npz", overwrite=True) as handle:
            np.savez(handle, **adam)
        record = {"step": step, "stem": stem, **extra}
        latest = files.write_bytes(
            folder / LATEST, json.dumps(record, indent=2).encode(), overwrite=True
        )
        stems = sorted({p.name.split(".")[0] for p in folder.glob("step-*.weights.h5")})
        for old in stems[:-_KEEP]:
            for path in folder.glob(f"{old}.*"):
                path.unlink(missing_ok=True)
        return latest

    def restore_checkpoint(self, folder: Path) -> dict[str, Any] | None:
        """Load the latest checkpoint of ``folder``; its record, or None without one."""
        record = read_latest(folder)
        if record is None:
            return None
        stem = str(record["stem"])
        self.network.load_weights(folder / f"{stem}.weights.h5")
        with np.load(folder / f"{stem}.adam.npz") as saved:
            values = [saved[f"v{i}"] for i in range(len(saved.files))]
        if len(values) != len(self.optimizer.variables):
            raise ValueError("the checkpoint's optimiser state does not fit this network")
        for variable, value in zip(self.optimizer.variables, values, strict=True):
            variable.assign(value)
        return record


def save_weights(network: keras.Model, path: Path) -> None:
    """Keras' weights file written under a temporary name, then moved into place: a kill
    never leaves half a file under ``path``."""
    temp = path.with_name(f".{path.name.removesuffix('.weights.h5')}.part.weights.h5")
    network.save_weights(temp)
    os.replace(temp, path)


def read_latest(folder: Path) -> dict[str, Any] | None:
    """The record of the latest checkpoint in ``folder`` (None when there is none)."""
    path = folder / LATEST
    if not path.exists():
        return None
    record = json.loads(files.read_bytes(path, 100_000))
    if not isinstance(record, dict) or "stem" not in record:
        raise ValueError(f"{path} names no checkpoint")
    return record
