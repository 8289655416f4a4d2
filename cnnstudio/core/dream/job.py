"""The Dream job: :func:`dream`, the generator the Dream tab and ``cnnstudio dream`` drive.

It is the octave loop of :func:`cnnstudio.core.dream.recipe.deep_dream` with the compiled,
tiled step (:mod:`cnnstudio.core.dream.tiled_step`) and what a front end needs around it:
a start image (a picture or noise), the network (:mod:`cnnstudio.core.dream.network`: a
backbone, whose missing ImageNet weights are downloaded first as events, or a library
model), events after every step, throttled previews, early stops, and the share of the
work done (later octaves have more pixels, so their steps cost more).

Imports TensorFlow: front ends import this module where the job runs (the tab in its
worker), never at start-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import tensorflow as tf

from cnnstudio.core import backbones, images
from cnnstudio.core.dream import memory, network, recipe, tiled_step
from cnnstudio.core.dream.params import (
    DreamParams,
    clip_bounds,
    octave_sizes,
    step_for_bounds,
    validate_params,
)
from cnnstudio.core.errors import InputError
from cnnstudio.core.eta import staged_fraction
from cnnstudio.core.events import Notice, Preview, Progress
from cnnstudio.core.weights import ensure_weights_events

#: a Preview at most this often (seconds), plus one at the end of every octave
PREVIEW_INTERVAL_S = 0.15


def start_image(
    image: np.ndarray | None, params: DreamParams, noise_size: tuple[int, int] | None
) -> np.ndarray:
    """The picture the dream starts from: ``image`` (uint8 RGB), or noise of
    ``noise_size`` = (width, height) (default: a ``max_size`` square), no larger than
    ``params.max_size``."""
    if image is None:
        if noise_size is None:
            side = params.max_size or 500
            noise_size = (side, side)
        width, height = (int(v) for v in noise_size)
        image = images.noise_image(width, height, seed=params.seed)
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3 or 0 in array.shape:
        raise InputError(
            f"the dream needs a uint8 RGB image of shape (height, width, 3), not "
            f"{array.dtype} {array.shape}: load it with cnnstudio.core.images.load_image"
        )
    if params.max_size is not None:
        array = images.resize_max_side(array, params.max_size)
    return array


def dream(
    image: np.ndarray | None,
    params: DreamParams,
    *,
    noise_size: tuple[int, int] | None = None,
    model: Any = None,
    preprocess: Callable[[Any], Any] | None = None,
    deprocess: Callable[[Any], Any] | None = None,
    preview_interval: float = PREVIEW_INTERVAL_S,
    guide: np.ndarray | None = None,
) -> Generator[Any, None, np.ndarray]:
    """Dream on ``image`` (uint8 RGB, e.g. from :func:`images.load_image`), or on noise of
    ``noise_size`` = (width, height) when ``image`` is None (default: max_size square).

    Yields a :class:`Progress` after every step (``step`` counts over all octaves,
    ``stage`` is the octave, ``terms`` the weighted loss of each layer, ``fraction`` the
    share of the work done, each octave's steps weighted by its pixels), a
    :class:`Preview` at most every ``preview_interval`` seconds and at the end of every
    octave (at the output size), and a :class:`Notice` when an octave starts or stops
    early; before them, a backbone's missing ImageNet weights download as
    ``DownloadProgress`` events. Returns the result as uint8 RGB with the size of the
    input after ``max_size``. Closing the generator stops it at the next step.

    ``model``: what to dream with instead of the backbone of ``params``: the name of a
    library model or the path of a ``.keras`` file (loaded safely, its preprocessing from
    its sidecar), or a Keras model with ``preprocess``/``deprocess`` mapping 0..255 RGB
    floats to its inputs and back (default: it takes pixels). Layer names then are the
    model's own (``layers.dream_layer_paths``), nested ones as "outer/inner".
    ``guide``: the guide picture of the "guide" objective (uint8 RGB; default: the file
    ``params.guide`` names).
    """
    validate_params(params)
    base = start_image(image, params, noise_size)
    # the largest octave must fit in memory: checked before any network or download
    # (its size does not depend on the network's minimum, which only enlarges small ones)
    memory.check_memory(
        octave_sizes(*base.shape[:2], params, 1), params.tile_size, max(base.shape[:2])
    )
    session = yield from prepare(
        params, model=model, preprocess=preprocess, deprocess=deprocess, guide=guide
    )
    return (yield from session.run(base, preview_interval=preview_interval))


def prepare(
    params: DreamParams,
    *,
    model: Any = None,
    preprocess: Callable[[Any], Any] | None = None,
    deprocess: Callable[[Any], Any] | None = None,
    guide: np.ndarray | None = None,
) -> Generator[Any, None, DreamSession]:
    """The network, the compiled step and the guide's features of a dream, ready to dream
    on many pictures (the frames of a zoom or a video) without building or tracing
    anything again: ``session = yield from prepare(params)``, then ``yield from
    session.run(frame)`` per frame. Missing ImageNet weights download first, as events."""
    validate_params(params)
    if model is None:
        # fetch missing ImageNet weights first, as events: the window and the terminal
        # show the download, and Stop abandons it between chunks
        yield from ensure_weights_events(backbones.get_backbone(params.backbone), params.weights)
    net = network.network_for(params, model, preprocess, deprocess)
    if params.objective == "guide" and guide is None:
        guide = images.load_image(params.guide, max_side=GUIDE_MAX_SIDE)
    return DreamSession(params, net, guide)


#: the guide picture's longest side when its features are taken (Google's notebook
#: used a 224 px guide): its patterns at about the scale the network sees them
GUIDE_MAX_SIDE = 224


class DreamSession:
    """A dream's network, compiled step and constants, for any number of pictures."""

    def __init__(self, params: DreamParams, net: network.Network, guide: np.ndarray | None):
        self.params = params
        self.net = net
        self.layer_names, channel_index = network.check_layers(net, params)
        tile_size = params.tile_size
        if net.fixed_size is not None:
            tile_size = max(net.fixed_size)  # tiles the model's own size, each resized to fit
        elif tile_size < net.min_size:
            raise InputError(
                f"tile size {tile_size} is below {net.label}'s minimum input of "
                f"{net.min_size} pixels: use {net.min_size} or more (512 is typical)"
            )
        self.stepper = tiled_step.get_tiled_step(
            net.model,
            self.layer_names,
            params.objective,
            channel_index is not None,
            net.fixed_size,
            net.grayscale,
            max(1, net.min_size if net.fixed_size is None else 1),
        )
        low_np, high_np = clip_bounds(net.preprocess)
        self.low, self.high = tf.constant(low_np), tf.constant(high_np)
        weights = params.objective_layers()
        self.layer_weights = tf.constant([float(weights[n]) for n in self.layer_names], tf.float32)
        if params.step_size is not None:
            step_value = float(params.step_size)
        else:
            step_value = step_for_bounds(low_np, high_np)  # the network's default
        self.step_size = tf.constant(step_value, tf.float32)
        self.tile = tf.constant(int(tile_size), tf.int32)
        self.tv_weight = tf.constant(float(params.tv_weight), tf.float32)
        self.channel = tf.constant(channel_index or 0, tf.int32)
        self.guides = self._guide_features(guide) if params.objective == "guide" else ()

    def _guide_features(self, guide: np.ndarray) -> tuple[Any, ...]:
        """Each layer's features of the guide picture (recipe.guide_features)."""
        picture = tf.convert_to_tensor(
            self.net.preprocess(tf.cast(tf.convert_to_tensor(guide), tf.float32)), tf.float32
        )
        if self.net.fixed_size is None:
            picture = recipe.resize(picture, _at_least(picture.shape[:2], self.net.min_size))
        activations = recipe.layer_activations(
            self.stepper.features, picture, self.net.fixed_size, self.net.grayscale
        )
        return tuple(recipe.guide_features(activation) for activation in activations)

    def run(
        self,
        base: np.ndarray,
        *,
        preview_interval: float = PREVIEW_INTERVAL_S,
        seed: Any = None,
    ) -> Generator[Any, None, np.ndarray]:
        """Dream on ``base`` (uint8 RGB, already at its working size): the events of
        :func:`dream` and the result at the size of ``base``. ``seed``: the random rolls'
        seed (default: the params'; a video gives each frame its own)."""
        params, net, stepper = self.params, self.net, self.stepper
        base_hw = base.shape[:2]
        sizes = octave_sizes(base_hw[0], base_hw[1], params, net.min_size)
        stages = len(sizes)
        total = params.steps * stages
        pixels = [height * width for height, width in sizes]  # what a step costs per octave
        no_shift = tf.zeros([2], tf.int32)
        rng = np.random.default_rng(params.seed if seed is None else seed)

        # Whole-image work happens in TensorFlow, one temporary at a time: at 3000 px every
        # float copy of the picture is 72 MB, and numpy chains would hold several at once.
        original = tf.convert_to_tensor(
            net.preprocess(tf.cast(tf.convert_to_tensor(base), tf.float32)), tf.float32
        )

        def to_uint8(x: Any) -> np.ndarray:
            pixels = tf.convert_to_tensor(net.deprocess(recipe.resize(x, base_hw)), tf.float32)
            return tf.cast(tf.clip_by_value(tf.round(pixels), 0, 255), tf.uint8).numpy()

        dreamed = recipe.resize(original, sizes[0])
        if stages == 1 or not params.reinject_detail:
            del original  # only detail re-injection needs it again
        last_preview = time.monotonic()
        for octave, size in enumerate(sizes):
            if octave > 0:
                dreamed = recipe.resize(dreamed, size)
                if params.reinject_detail:
                    dreamed = recipe.add_lost_detail(
                        dreamed, original, size, sizes[octave - 1], self.low, self.high
                    )
            yield Notice(f"octave {octave + 1}/{stages}: {size[1]}x{size[0]} px")
            for index in range(params.steps):
                if params.jitter:
                    shift = tf.constant(
                        rng.integers(-params.jitter, params.jitter + 1, 2), tf.int32
                    )
                else:
                    shift = no_shift
                dreamed, terms = stepper.step(
                    dreamed,
                    self.step_size,
                    self.tile,
                    shift,
                    self.tv_weight,
                    self.layer_weights,
                    self.low,
                    self.high,
                    self.channel,
                    self.guides,
                )
                values = terms.numpy()  # a few floats: the only sync per step
                loss = float(values.sum())
                step = octave * params.steps + index + 1
                yield Progress(
                    step=step,
                    total=total,
                    loss=loss,
                    terms={n: float(v) for n, v in zip(self.layer_names, values, strict=True)},
                    stage=octave + 1,
                    stages=stages,
                    message=f"octave {octave + 1}/{stages}, step {index + 1}/{params.steps}",
                    fraction=staged_fraction(step, params.steps, pixels),
                )
                early = params.max_loss is not None and loss > params.max_loss
                now = time.monotonic()
                if early or index == params.steps - 1 or now - last_preview >= preview_interval:
                    yield Preview(to_uint8(dreamed), step, total)
                    last_preview = time.monotonic()
                if early:
                    yield Notice(
                        f"octave {octave + 1}/{stages} stopped early at step {index + 1}: "
                        f"loss {loss:.4g} exceeds the maximum {params.max_loss:g}"
                    )
                    break
        return to_uint8(dreamed)


def _at_least(size: Any, side: int) -> tuple[int, int]:
    """(height, width) grown (aspect kept) so the short side is at least ``side``."""
    height, width = int(size[0]), int(size[1])
    if min(height, width) >= side:
        return height, width
    grow = side / min(height, width)
    return max(side, round(height * grow)), max(side, round(width * grow))
