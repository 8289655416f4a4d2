"""One optimisation step of a batch of images, plain and compiled.

:class:`Recipe` is the recipe as one would write it down (Lucid's ``render_vis``):
parameters -> images (:mod:`.parameterization`) -> random transformations
(:mod:`.transforms`) -> preprocessing -> the network -> each image's objective
(:mod:`.objectives`), minus the weighted diversity term -> gradient -> one Adam update.
Adam is written out (a few lines) so the step is a pure function of tensors: its moments
go in and come out, and nothing in it depends on the batch's size or channels.

:class:`CompiledStep` wraps the same methods in ``tf.function``\\ s with input
signatures whose batch, height and width are unknown and whose channel indices, random
transformations, learning rate, diversity weight and group size are tensors: a step is
traced once per network, layer, objective and parameterisation, and then serves every
channel (each image of a batch its own), every batch size, every tile size and every
value. Compiled steps are cached per network.
"""

from __future__ import annotations

import threading
from typing import Any

import tensorflow as tf

from cnnstudio.core.visualize import objectives, parameterization, transforms
from cnnstudio.core.visualize.network import Network, features_function

# Adam (Kingma & Ba 2015) with its usual constants, as Lucid's tf.train.AdamOptimizer
BETA_1 = 0.9
BETA_2 = 0.999
EPSILON = 1e-8


def adam_update(params: Any, gradient: Any, moment1: Any, moment2: Any, count: Any, rate: Any):
    """One Adam step *down* the gradient; ``count`` is the step number (1, 2, ...).
    Returns the new parameters and moments."""
    moment1 = BETA_1 * moment1 + (1.0 - BETA_1) * gradient
    moment2 = BETA_2 * moment2 + (1.0 - BETA_2) * tf.square(gradient)
    unbiased1 = moment1 / (1.0 - tf.pow(BETA_1, count))
    unbiased2 = moment2 / (1.0 - tf.pow(BETA_2, count))
    return params - rate * unbiased1 / (tf.sqrt(unbiased2) + EPSILON), moment1, moment2


class Recipe:
    """The visualisation of one network's layer, as plain (eager-capable) functions."""

    def __init__(
        self, net: Network, layer: str, objective: str, fourier: bool, decorrelate: bool
    ) -> None:
        self.net = net
        self.layer = layer
        self.objective = objective
        self.fourier = fourier
        self.decorrelate = decorrelate
        self.features = features_function(net, layer, objective)
        self.objective_of = objectives.OBJECTIVE_FUNCTIONS[objective]

    def images(self, params: Any, size: Any, scale: Any) -> Any:
        """The images (batch, height, width, 3) in (0, 1) the parameters stand for."""
        return parameterization.to_rgb(params, size, scale, self.fourier, self.decorrelate)

    def network(self, images: Any) -> tuple[Any, Any]:
        """(activations of the layer, what the objective reads) for images in [0, 1]."""
        x = self.net.preprocess(images * 255.0)
        if self.net.fixed_size is not None:  # the model's own size: give Keras the shape
            height, width = self.net.fixed_size
            x = tf.ensure_shape(x, [None, height, width, 1 if self.net.grayscale else 3])
        return self.features(x)

    def loss(self, params, channels, shifts, size, scale, diversity_weight, group_size):
        """(loss to minimise, each image's objective, diversity of each channel's images)."""
        seen = transforms.apply_transforms(self.images(params, size, scale), shifts, size)
        activations, read = self.network(seen)
        values = self.objective_of(read, channels)
        diverse = tf.cond(
            tf.logical_and(diversity_weight > 0, group_size > 1),
            lambda: objectives.diversity(activations, group_size),
            lambda: tf.zeros([tf.shape(values)[0] // group_size]),
        )
        loss = -tf.reduce_sum(values) + diversity_weight * tf.reduce_sum(diverse)
        return loss, values, diverse

    def step(
        self,
        params: Any,
        moment1: Any,
        moment2: Any,
        count: Any,
        channels: Any,
        shifts: Any,
        size: Any,
        scale: Any,
        rate: Any,
        diversity_weight: Any,
        group_size: Any,
    ) -> tuple[Any, Any, Any, Any, Any]:
        """One step for a batch: (parameters, moment1, moment2, objectives, diversity)."""
        with tf.GradientTape() as tape:
            tape.watch(params)
            loss, values, diverse = self.loss(
                params, channels, shifts, size, scale, diversity_weight, group_size
            )
        gradient = tape.gradient(loss, params)
        params, moment1, moment2 = adam_update(params, gradient, moment1, moment2, count, rate)
        return params, moment1, moment2, values, diverse

    def evaluate(self, params: Any, channels: Any, size: Any, scale: Any) -> tuple[Any, Any]:
        """(each image's objective without transformations, the images as uint8)."""
        images = self.images(params, size, scale)
        _, read = self.network(images)
        pixels = tf.cast(tf.clip_by_value(tf.round(images * 255.0), 0, 255), tf.uint8)
        return self.objective_of(read, channels), pixels


class CompiledStep:
    """:meth:`Recipe.step` and :meth:`Recipe.evaluate` compiled once for any batch."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.traces = 0  # traces of the step (tests count them)
        self.evaluate_traces = 0
        if recipe.fourier:
            param_spec = tf.TensorSpec([None, 2, 3, None, None], tf.float32)
        else:
            param_spec = tf.TensorSpec([None, None, None, 3], tf.float32)
        scalar = tf.TensorSpec([], tf.float32)
        channels = tf.TensorSpec([None], tf.int32)  # one channel per image of the batch
        size = tf.TensorSpec([2], tf.int32)  # height, width
        scale = tf.TensorSpec([None, None], tf.float32)  # the spectrum's 1/f scale
        self._step = tf.function(
            self._traced_step,
            input_signature=(
                param_spec,
                param_spec,
                param_spec,
                scalar,  # step number (Adam's bias correction)
                channels,
                tf.TensorSpec([None, transforms.TRANSFORM_VALUES], tf.float32),
                size,
                scale,
                scalar,  # learning rate
                scalar,  # diversity weight
                tf.TensorSpec([], tf.int32),  # images per channel
            ),
        )
        self._evaluate = tf.function(
            self._traced_evaluate, input_signature=(param_spec, channels, size, scale)
        )

    def _traced_step(self, *args: Any) -> Any:
        global _traces
        self.traces += 1  # runs while tracing only
        with _trace_lock:
            _traces += 1
        return self.recipe.step(*args)

    def _traced_evaluate(self, *args: Any) -> Any:
        self.evaluate_traces += 1  # runs while tracing only
        return self.recipe.evaluate(*args)

    def step(
        self,
        params,
        moment1,
        moment2,
        count,
        channels,
        shifts,
        size,
        scale,
        rate,
        diversity_weight,
        group_size,
    ):
        """:meth:`Recipe.step`, compiled; numbers may be Python values."""
        return self._step(
            params,
            moment1,
            moment2,
            tf.constant(float(count), tf.float32),
            tf.convert_to_tensor(channels, tf.int32),
            tf.convert_to_tensor(shifts, tf.float32),
            tf.convert_to_tensor(size, tf.int32),
            tf.convert_to_tensor(scale, tf.float32),
            tf.constant(float(rate), tf.float32),
            tf.constant(float(diversity_weight), tf.float32),
            tf.constant(int(group_size), tf.int32),
        )

    def evaluate(self, params: Any, channels: Any, size: Any, scale: Any) -> tuple[Any, Any]:
        """:meth:`Recipe.evaluate`, compiled."""
        return self._evaluate(
            params,
            tf.convert_to_tensor(channels, tf.int32),
            tf.convert_to_tensor(size, tf.int32),
            tf.convert_to_tensor(scale, tf.float32),
        )


_trace_lock = threading.Lock()
_traces = 0
_cache_lock = threading.Lock()
_cache: dict[tuple, tuple[Any, CompiledStep]] = {}
_MAX_CACHED = 8


def step_traces() -> int:
    """How many times any visualisation step has been traced in this process."""
    return _traces


def compiled_step(
    net: Network, layer: str, objective: str, fourier: bool, decorrelate: bool
) -> CompiledStep:
    """The cached compiled step for this network and layer (built on first use)."""
    key = (
        id(net.model),
        layer,
        objective,
        fourier,
        decorrelate,
        net.preprocessing,
        net.grayscale,
        net.fixed_size,
    )
    with _cache_lock:
        cached = _cache.get(key)
        # the entry holds the model itself, so its id cannot be reused while cached
        if cached is not None and cached[0] is net.model:
            return cached[1]
    step = CompiledStep(Recipe(net, layer, objective, fourier, decorrelate))
    with _cache_lock:
        while len(_cache) >= _MAX_CACHED:
            _cache.pop(next(iter(_cache)))
        _cache[key] = (net.model, step)
    return step


def clear_step_cache() -> None:
    """Forget the compiled steps (and the networks they hold)."""
    with _cache_lock:
        _cache.clear()
