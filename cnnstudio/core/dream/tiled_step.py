"""The dream step as the app runs it: compiled once, on tiles, after a random roll.

A step is two compiled functions driven by a thin Python loop over the tiles: the tile
gradient (network forward and backward on one tile of the rolled image, through
:func:`cnnstudio.core.dream.recipe.compute_loss`) and the finish (roll back,
:func:`~cnnstudio.core.dream.recipe.normalised_gradient`, smoothing, update, clip). Their
input signatures have unknown height and width, and the step size, tile bounds, roll shift,
smoothing weight and layer weights are tensors, so new octaves, tiles, image sizes and
slider values never retrace them; compiled steps are cached per network and layer set, so a
second dream with other numbers reuses the first one's graphs.

The tiles are looped over in Python, not in a ``tf.range`` loop inside the graph: in a
lowered graph loop, oneDNN's graph rewrite visits the nodes of the loop's cycle in an order
that changes from process to process, and in about half of them it then leaves
InceptionV3's stem max-pool gradients on the slow single-threaded Eigen kernel (measured:
~15% of a step's CPU time and more of its wall time); a loop-free tile function always gets
the oneDNN kernels. XLA (``jit_compile``) was measured slower on CPU here (it recompiles per
shape), so it is not used.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from cnnstudio.core import layers
from cnnstudio.core.dream import recipe

_trace_lock = threading.Lock()
_traces = 0


def step_traces() -> int:
    """How many times a dream step's network part (the tile gradient) has been traced in
    this process (tests count retraces)."""
    return _traces


class TiledStep:
    """One compiled dream step for one network, layer set and objective."""

    def __init__(
        self,
        features: Any,
        layer_count: int,
        objective: str,
        channel_mode: bool,
        fixed_size: tuple[int, int] | None,
        grayscale: bool,
        min_tile: int,
    ) -> None:
        self.features = features
        self.layer_count = layer_count
        self.objective = objective
        # the channel index itself is a tensor argument: picking another channel reuses
        # the compiled step
        self.channel_mode = channel_mode
        self.fixed_size = fixed_size
        self.grayscale = grayscale
        self.min_tile = min_tile
        self.traces = 0  # traces of the tile gradient (the network); tests count them
        self.finish_traces = 0
        # the guide objective: each layer's guide features (positions, channels), any
        # number of positions, so a new guide picture reuses the compiled step
        guide_specs = tuple(
            tf.TensorSpec([None, int(output.shape[-1])], tf.float32)
            for output in (features.outputs if objective == "guide" else ())
        )
        self._tile_gradient = tf.function(
            self._tile_gradient_graph,
            input_signature=(
                tf.TensorSpec([None, None, 3], tf.float32),  # rolled image, network units
                tf.TensorSpec([4], tf.int32),  # tile bounds y0, y1, x0, x1
                tf.TensorSpec([layer_count], tf.float32),  # layer weights
                tf.TensorSpec([], tf.int32),  # channel index (channel mode only)
                guide_specs,  # guide features per layer (guide objective only)
            ),
        )
        self._finish = tf.function(
            self._finish_graph,
            input_signature=(
                tf.TensorSpec([None, None, 3], tf.float32),  # image, network units
                tf.TensorSpec([None, None, 3], tf.float32),  # gradient of the rolled image
                tf.TensorSpec([2], tf.int32),  # roll shift (y, x)
                tf.TensorSpec([], tf.float32),  # step size
                tf.TensorSpec([], tf.float32),  # total-variation weight
                tf.TensorSpec([3], tf.float32),  # lowest valid input per channel
                tf.TensorSpec([3], tf.float32),  # highest valid input per channel
            ),
        )

    def _tile_count(self, length: int, tile_size: int) -> int:
        """Tiles along one side: enough to keep each within tile_size, but never so many
        that a tile is shorter than the network's minimum input."""
        wanted = -(-length // tile_size)
        most = max(length // self.min_tile, 1)
        return max(min(wanted, most), 1)

    def step(
        self,
        image: Any,
        step_size: Any,
        tile_size: Any,
        shift: Any,
        tv_weight: Any,
        layer_weights: Any,
        low: Any,
        high: Any,
        channel: Any,
        guides: tuple[Any, ...] = (),
    ) -> tuple[Any, Any]:
        """One gradient-ascent step on ``image`` (height, width, 3; network units): the
        updated image and the weighted objective term of each layer (tensors).
        ``guides``: the guide objective's features, one per layer
        (:func:`~cnnstudio.core.dream.recipe.guide_features`)."""
        height, width = int(image.shape[0]), int(image.shape[1])
        tile = int(tile_size)
        rows_n = self._tile_count(height, tile)
        cols_n = self._tile_count(width, tile)
        rolled = tf.roll(image, shift, axis=[0, 1])
        terms = None
        rows = []
        # Tiles split the image evenly and cover all of it; each tile's gradient is taken
        # with respect to the tile alone, so memory depends on the tile size, not the image.
        for row in range(rows_n):
            y0, y1 = row * height // rows_n, (row + 1) * height // rows_n
            cols = []
            for col in range(cols_n):
                x0, x1 = col * width // cols_n, (col + 1) * width // cols_n
                bounds = tf.constant([y0, y1, x0, x1], tf.int32)
                gradient, tile_terms = self._tile_gradient(
                    rolled, bounds, layer_weights, channel, tuple(guides)
                )
                cols.append(gradient)
                terms = tile_terms if terms is None else terms + tile_terms
            rows.append(cols[0] if cols_n == 1 else tf.concat(cols, axis=1))
        gradients = rows[0] if rows_n == 1 else tf.concat(rows, axis=0)
        updated = self._finish(image, gradients, shift, step_size, tv_weight, low, high)
        return updated, terms

    def _tile_gradient_graph(self, rolled, bounds, layer_weights, channel, guides):
        global _traces
        with _trace_lock:  # Python side effect: runs only while tracing
            _traces += 1
        self.traces += 1

        y0, y1, x0, x1 = bounds[0], bounds[1], bounds[2], bounds[3]
        tile = rolled[y0:y1, x0:x1]
        area = tf.cast(tf.shape(rolled)[0] * tf.shape(rolled)[1], tf.float32)
        # weighted by area, the tiles' losses add up to about the whole image's
        share = tf.cast((y1 - y0) * (x1 - x0), tf.float32) / area
        with tf.GradientTape() as tape:
            tape.watch(tile)
            tile_terms = (
                recipe.compute_loss(
                    self.features,
                    tile,
                    layer_weights,
                    objective=self.objective,
                    channel=channel if self.channel_mode else None,
                    input_size=self.fixed_size,
                    grayscale=self.grayscale,
                    guides=guides,
                )
                * share
            )
            tile_loss = tf.reduce_sum(tile_terms)
        gradient = tape.gradient(
            tile_loss, tile, unconnected_gradients=tf.UnconnectedGradients.ZERO
        )
        return gradient, tile_terms

    def _finish_graph(self, image, gradients, shift, step_size, tv_weight, low, high):
        self.finish_traces += 1
        gradients = tf.roll(gradients, -shift, axis=[0, 1])
        update = recipe.normalised_gradient(gradients, step_size)
        update = tf.cond(
            tv_weight > 0,
            lambda: update - (tv_weight * step_size) * self._tv_gradient(image),
            lambda: update,
        )
        return tf.clip_by_value(image + update, low, high)

    @staticmethod
    def _tv_gradient(image: Any) -> Any:
        """Gradient of 0.5 * sum of squared neighbour differences (a Laplacian): about as
        large per pixel as the normalised dream gradient where the image is noisy."""
        with tf.GradientTape() as tape:
            tape.watch(image)
            dy = image[1:, :, :] - image[:-1, :, :]
            dx = image[:, 1:, :] - image[:, :-1, :]
            tv = 0.5 * (tf.reduce_sum(tf.square(dy)) + tf.reduce_sum(tf.square(dx)))
        return tape.gradient(tv, image)


_steps: dict[tuple, tuple[Any, TiledStep]] = {}
_steps_lock = threading.Lock()
_MAX_STEPS = 8


def get_tiled_step(
    model: Any,
    layer_names: Sequence[str],
    objective: str,
    channel_mode: bool,
    fixed_size: tuple[int, int] | None,
    grayscale: bool,
    min_tile: int,
) -> TiledStep:
    """The cached compiled step for this network and layer set (built on first use)."""
    key = (id(model), tuple(layer_names), objective, channel_mode, fixed_size, grayscale, min_tile)
    with _steps_lock:
        cached = _steps.get(key)
        # the entry holds the model itself, so its id cannot be reused while cached
        if cached is not None and cached[0] is model:
            return cached[1]
    # nested paths ("base/Conv_1") work too: the graph is rebuilt through the nested model
    features = layers.layer_outputs_model(model, layer_names)
    stepper = TiledStep(
        features, len(layer_names), objective, channel_mode, fixed_size, grayscale, min_tile
    )
    with _steps_lock:
        while len(_steps) >= _MAX_STEPS:
            _steps.pop(next(iter(_steps)))
        _steps[key] = (model, stepper)
    return stepper


def clear_step_cache() -> None:
    """Forget the compiled steps (and the networks they hold), e.g. after new weights
    replaced a cached backbone."""
    with _steps_lock:
        _steps.clear()
