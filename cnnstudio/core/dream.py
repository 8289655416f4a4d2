"""DeepDream: gradient ascent on a network's activations, as a generator of events.

The recipe (DESIGN.md, "Dream"): take a picture (or noise), and for a few scales of it
("octaves", smallest first) repeatedly nudge its pixels in the direction that makes chosen
activations of a network larger. Defaults follow the TF2 tutorial / cookbook: InceptionV3
without its top, the mean activations of ``mixed3`` and ``mixed5``, inputs in [-1, 1],
``img += 0.01 * g / (std(g) + 1e-8)`` clipped to the input range, 50 steps on each of five
octaves 1.3 apart (exponents -2..2), gradients computed on 512 px tiles after a random roll.
Deep Learning with Python's variant (the ``dlwp`` preset) uses mixed4..mixed7 weighted
0/3/2/1.5, an L2 objective with a 2-pixel border crop, three octaves 1.4 apart ending at the
base size, re-injection of the detail lost by shrinking, and an early stop at loss 10.

Speed: a step is two compiled functions driven by a thin Python loop over the tiles: the
tile gradient (network forward and backward on one tile of the rolled image) and the finish
(roll back, normalisation, smoothing, update, clip). Their input signatures have unknown
height and width, and the step size, tile bounds, roll shift, smoothing weight and layer
weights are tensors, so new octaves, tiles, image sizes and slider values never retrace them;
compiled steps are cached per network and layer set, so a second dream with other numbers
reuses the first one's graphs. The tiles are looped over in Python, not in a ``tf.range``
loop inside the graph: in a lowered graph loop, oneDNN's graph rewrite visits the nodes of
the loop's cycle in an order that changes from process to process, and in about half of
them it then leaves InceptionV3's stem max-pool gradients on the slow single-threaded Eigen
kernel (measured: ~15% of a step's CPU time and more of its wall time); a loop-free tile
function always gets the oneDNN kernels. XLA (``jit_compile``) was measured slower on CPU
here (it recompiles per shape), so it is not used.

TensorFlow is imported inside functions only: :class:`DreamParams`, the presets and
:func:`octave_sizes` are usable by the GUI without loading it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from cnnstudio.core import backbones, images
from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Notice, Preview, Progress
from cnnstudio.core.weights import ensure_weights_events, is_untrained, weights_label

#: layer weights of the two reference recipes
LAYER_PRESETS: dict[str, dict[str, float]] = {
    "tf2": {"mixed3": 1.0, "mixed5": 1.0},  # TF2 tutorial / cookbook
    "dlwp": {"mixed4": 0.0, "mixed5": 3.0, "mixed6": 2.0, "mixed7": 1.5},  # Deep Learning w. Python
}

#: layers to start from on each backbone (InceptionV3: the TF2 recipe's; the others: two
#: deep, textured blocks)
BACKBONE_DEFAULT_LAYERS: dict[str, dict[str, float]] = {
    "inception_v3": LAYER_PRESETS["tf2"],
    "vgg19": {"block4_conv3": 1.0, "block5_conv3": 1.0},
    "mobilenet_v2": {"block_9_add": 1.0, "block_12_add": 1.0},
}


def default_layers(backbone: str) -> dict[str, float]:
    """The layer weights a dream on ``backbone`` starts from."""
    return dict(BACKBONE_DEFAULT_LAYERS[backbones.get_backbone(backbone).name])


#: "mean": mean activation (TF2); "l2": sum of squares without a border / size (DLwP)
OBJECTIVES: tuple[str, ...] = ("mean", "l2")

#: pixels cropped from each side of an activation by the "l2" objective (DLwP: avoids
#: border artifacts)
L2_BORDER = 2

#: a Preview at most this often (seconds), plus one at the end of every octave
PREVIEW_INTERVAL_S = 0.15

#: smallest side for a custom model whose input size is free (a few poolings deep)
CUSTOM_MODEL_MIN_SIZE = 32


def _tf2_layers() -> dict[str, float]:
    return dict(LAYER_PRESETS["tf2"])


@dataclass(frozen=True)
class DreamParams:
    """Everything that decides a dream. Defaults are the TF2 recipe's.

    ``steps`` counts per octave. ``octaves`` = N scales ``octave_scale`` apart: with
    ``top_octave=None`` they are centred on the base size, exponents
    ``-(N//2) .. (N-1)//2`` (5 -> -2..2 as in the TF2 recipe, 3 -> -1..1, 1 -> just the base
    size); ``top_octave=k`` makes the exponents ``k-N+1 .. k`` (0: the last octave is the base
    size, as in DLwP and TF1). No octave is smaller than the network's minimum input.
    ``step_size`` is in the network's own input units ([-1, 1] for InceptionV3, about
    -124..152 for VGG19, 0..255 for a custom model taking pixels) and multiplies the
    gradient divided by its standard deviation, as in the TF2 recipe; None (the default)
    means the network's own default, :func:`default_step_size`: 0.01 for [-1, 1] inputs,
    scaled by the input range for the others.
    """

    backbone: str = "inception_v3"  # network to dream with (backbones.BACKBONE_NAMES)
    weights: str = "imagenet"  # "imagenet" | "random" (untrained) | path of a weights file
    layers: dict[str, float] = field(default_factory=_tf2_layers)  # layer -> weight
    channel: tuple[str, int] | None = None  # (layer, index): maximise one channel instead
    objective: str = "mean"  # "mean" (TF2) or "l2" (DLwP: squares, 2-px border cropped)
    steps: int = 50  # gradient steps per octave (TF2 recipe: 50)
    step_size: float | None = None  # input units x gradient / std; None: the network's default
    octaves: int = 5  # number of scales (TF2 recipe: 5, exponents -2..2)
    octave_scale: float = 1.3  # size ratio between neighbouring octaves (1.3-1.4)
    top_octave: int | None = None  # exponent of the largest octave; None: centred
    reinject_detail: bool = True  # after each upscale, add back detail lost by shrinking
    max_loss: float | None = None  # end an octave once its loss exceeds this; None: never
    tv_weight: float = 0.0  # total-variation smoothing vs. high-frequency noise; 0 = off
    tile_size: int = 512  # gradients tile by tile, so memory stays flat as images grow
    jitter: int = 512  # largest random roll in pixels before tiling (hides seams); 0 = off
    max_size: int | None = 500  # longest side of the working image; None: keep the size
    seed: int | None = None  # seeds the rolls and the noise start; None: new every run

    def __post_init__(self) -> None:
        # accept any mapping / JSON lists, but keep our own copies (frozen means frozen)
        if isinstance(self.layers, Mapping):
            object.__setattr__(self, "layers", {str(k): v for k, v in self.layers.items()})
        if self.channel is not None and not isinstance(self.channel, tuple):
            object.__setattr__(self, "channel", tuple(self.channel))

    def objective_layers(self) -> dict[str, float]:
        """The layers the objective uses with their weights (channel mode: one layer)."""
        if self.channel is not None:
            return {str(self.channel[0]): 1.0}
        return dict(self.layers)

    def replace(self, **changes: Any) -> DreamParams:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def effective_step_size(self) -> float:
        """``step_size``, or the backbone's default when it is None (a custom model's
        default depends on its preprocessing: see :func:`default_step_size`)."""
        if self.step_size is not None:
            return float(self.step_size)
        return default_step_size(self.backbone)


#: the TF2 recipe's step for inputs in [-1, 1]; other input ranges scale it
BASE_STEP_SIZE = 0.01


def default_step_size(network: str | Callable[[Any], Any] | None = "inception_v3") -> float:
    """The step size that moves pixels as far as the TF2 recipe's 0.01 does on [-1, 1]
    inputs: 0.01 for InceptionV3 and MobileNetV2, 0.01 x 255/2 for VGG19 (caffe units)
    and for models that take 0..255 pixels. ``network``: a backbone name, a preprocess
    function (0..255 RGB -> network input), or None for raw pixels. Needs no TensorFlow."""
    if isinstance(network, str):
        name = backbones.get_backbone(network).name

        def preprocess(x: Any) -> Any:
            return backbones.preprocess(name, x)

    else:
        preprocess = network if network is not None else _identity
    low, high = _clip_bounds(preprocess)
    return _step_for_bounds(low, high)


def _step_for_bounds(low: np.ndarray, high: np.ndarray) -> float:
    width = float(np.mean(np.asarray(high, np.float64) - np.asarray(low, np.float64)))
    return round(BASE_STEP_SIZE * (width / 2.0 if width > 0 else 1.0), 6)


#: whole-recipe presets: field values on top of the defaults (weights are left alone)
DREAM_PRESETS: dict[str, dict[str, Any]] = {
    "tf2": {
        "layers": LAYER_PRESETS["tf2"],
        "channel": None,
        "objective": "mean",
        "steps": 50,
        "step_size": 0.01,
        "octaves": 5,
        "octave_scale": 1.3,
        "top_octave": None,
        "max_loss": None,
    },
    "dlwp": {
        "layers": LAYER_PRESETS["dlwp"],
        "channel": None,
        "objective": "l2",
        "steps": 20,
        "step_size": 0.01,
        "octaves": 3,
        "octave_scale": 1.4,
        "top_octave": 0,
        "max_loss": 10.0,
    },
    # TF1 edition: one channel of one layer, 4 octaves 1.4 apart ending at the base size;
    # its step 1.5 on 0..255 pixels with g / mean|g| is about 0.015 here.
    "tf1-channel": {
        "channel": ("mixed4", 139),
        "objective": "mean",
        "steps": 10,
        "step_size": 0.015,
        "octaves": 4,
        "octave_scale": 1.4,
        "top_octave": 0,
        "max_loss": None,
    },
    # a fast look: few steps on three scales
    "quick": {
        "layers": LAYER_PRESETS["tf2"],
        "channel": None,
        "objective": "mean",
        "steps": 10,
        "step_size": 0.02,
        "octaves": 3,
        "octave_scale": 1.3,
        "top_octave": None,
        "max_loss": None,
    },
}


def preset_params(name: str, base: DreamParams | None = None, **changes: Any) -> DreamParams:
    """``base`` (default: :class:`DreamParams()`) with preset ``name`` applied, then
    ``changes``. InputError naming the presets for an unknown name."""
    if name not in DREAM_PRESETS:
        raise InputError(f"unknown dream preset {name!r}: choose one of {', '.join(DREAM_PRESETS)}")
    values = dict(DREAM_PRESETS[name])
    if values.get("layers") is not None:
        values["layers"] = dict(values["layers"])
    base = base or DreamParams()
    # preset step sizes are in [-1, 1] units (InceptionV3): scale them to the backbone's
    backbone = changes.get("backbone", base.backbone)
    if values.get("step_size") is not None:
        values["step_size"] = round(
            values["step_size"] * default_step_size(backbone) / BASE_STEP_SIZE, 6
        )
    values.update(changes)
    return replace(base, **values)


# ------------------------------------------------------------------------------ validation


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def validate_params(params: DreamParams) -> None:
    """Check the values that need no network; InputError naming the first bad one.
    (Layer names and channel indices are checked against the network by :func:`dream`.)"""
    backbones.get_backbone(params.backbone)
    if not isinstance(params.weights, str) or not params.weights.strip():
        raise InputError(f"weights {params.weights!r}: give imagenet, random or a file path")
    if params.channel is not None:
        if (
            len(params.channel) != 2
            or not isinstance(params.channel[0], str)
            or not _is_int(params.channel[1])
        ):
            raise InputError(f"channel {params.channel!r}: give it as (layer name, index)")
        if params.channel[1] < 0:
            raise InputError(f"channel index {params.channel[1]} must be 0 or more")
    else:
        if not isinstance(params.layers, Mapping) or not params.layers:
            raise InputError("no dream layers chosen: pick at least one layer (e.g. mixed3)")
        for name, weight in params.layers.items():
            if not _is_number(weight):
                raise InputError(f"weight {weight!r} of layer {name!r} must be a finite number")
        if all(float(w) == 0 for w in params.layers.values()):
            raise InputError("every layer weight is 0: give at least one layer a weight")
    if params.objective not in OBJECTIVES:
        raise InputError(f"objective {params.objective!r}: choose one of {', '.join(OBJECTIVES)}")
    if not _is_int(params.steps) or params.steps < 1:
        raise InputError(f"steps {params.steps!r} must be a whole number of at least 1")
    if params.step_size is not None and (not _is_number(params.step_size) or params.step_size <= 0):
        raise InputError(f"step size {params.step_size!r} must be a number above 0")
    if not _is_int(params.octaves) or params.octaves < 1:
        raise InputError(f"octaves {params.octaves!r} must be a whole number of at least 1")
    if not _is_number(params.octave_scale) or params.octave_scale < 1:
        raise InputError(f"octave scale {params.octave_scale!r} must be 1 or more (e.g. 1.3)")
    if params.octaves > 1 and params.octave_scale == 1:
        raise InputError("octave scale 1 makes every octave the same size: use 1.3-1.4")
    if params.top_octave is not None and (not _is_int(params.top_octave) or params.top_octave < 0):
        raise InputError(
            f"top octave {params.top_octave!r} must be 0 (base size) or more, or unset"
        )
    if params.max_loss is not None and not _is_number(params.max_loss):
        raise InputError(f"max loss {params.max_loss!r} must be a number or unset")
    if not _is_number(params.tv_weight) or params.tv_weight < 0:
        raise InputError(f"total-variation weight {params.tv_weight!r} must be 0 or more")
    if not _is_int(params.tile_size) or params.tile_size < 1:
        raise InputError(f"tile size {params.tile_size!r} must be a whole number of pixels")
    if not _is_int(params.jitter) or params.jitter < 0:
        raise InputError(f"jitter {params.jitter!r} must be 0 (off) or a number of pixels")
    if params.max_size is not None and (not _is_int(params.max_size) or params.max_size < 1):
        raise InputError(f"max size {params.max_size!r} must be a number of pixels or unset")
    if params.seed is not None and (not _is_int(params.seed) or params.seed < 0):
        raise InputError(f"seed {params.seed!r} must be a whole number of 0 or more")


# -------------------------------------------------------------------------------- octaves


def octave_exponents(params: DreamParams) -> list[int]:
    """Scale exponents of the octaves, smallest first (5 centred -> [-2, -1, 0, 1, 2])."""
    count = params.octaves
    top = (count - 1) // 2 if params.top_octave is None else params.top_octave
    return list(range(top - count + 1, top + 1))


def octave_sizes(
    height: int, width: int, params: DreamParams, min_size: int = 75
) -> list[tuple[int, int]]:
    """(height, width) of every octave for a base image of ``height`` x ``width``, smallest
    first. An octave that would be smaller than ``min_size`` on its short side is enlarged
    (keeping the aspect ratio) to ``min_size``."""
    sizes = []
    for exponent in octave_exponents(params):
        factor = params.octave_scale**exponent
        h, w = max(1, round(height * factor)), max(1, round(width * factor))
        if min(h, w) < min_size:
            grow = min_size / min(h, w)
            h, w = max(min_size, math.ceil(h * grow)), max(min_size, math.ceil(w * grow))
        sizes.append((h, w))
    return sizes


# ------------------------------------------------------------------------------- networks


def dreamable_layers(model: Any) -> list[str]:
    """The layers of ``model`` a dream can amplify, in network order: convolutions,
    activations, block outputs and poolings with a spatial (batch, H, W, C) output, nested
    models entered (``"base/block_6_expand_relu"``); no input, rescaling or dropout layers."""
    from cnnstudio.core import layers

    return layers.dream_layer_paths(model)


def layer_channels(model: Any, layer_name: str) -> int:
    """Number of channels of a layer's output (the valid channel indices are 0..n-1);
    ``layer_name`` may be a nested path such as ``"base/Conv_1"``."""
    from cnnstudio.core import layers

    return layers.layer_channels(model, layer_name)


_trace_lock = threading.Lock()
_traces = 0


def step_traces() -> int:
    """How many times a dream step's network part (the tile gradient) has been traced in
    this process (tests count retraces)."""
    return _traces


class _Stepper:
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
        import tensorflow as tf

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
        self._tile_gradient = tf.function(
            self._tile_gradient_graph,
            input_signature=(
                tf.TensorSpec([None, None, 3], tf.float32),  # rolled image, network units
                tf.TensorSpec([4], tf.int32),  # tile bounds y0, y1, x0, x1
                tf.TensorSpec([layer_count], tf.float32),  # layer weights
                tf.TensorSpec([], tf.int32),  # channel index (channel mode only)
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

    def _terms(self, tile: Any, layer_weights: Any, channel: Any) -> Any:
        """Weighted objective term of each layer for one tile."""
        import tensorflow as tf

        # expand_dims, not tile[None]: the gradient of an indexing op is a full-tile
        # StridedSliceGrad (about 1% of a step), of expand_dims a free reshape
        x = tf.expand_dims(tile, 0)
        if self.fixed_size is not None:  # a model with a fixed input size sees the tile resized
            x = tf.image.resize(x, self.fixed_size)
        if self.grayscale:
            x = tf.reduce_mean(x, axis=-1, keepdims=True)
        activations = self.features(x, training=False)
        if not isinstance(activations, (list, tuple)):
            activations = [activations]
        terms = []
        for activation in activations:
            activation = tf.cast(activation, tf.float32)  # mixed precision: losses in float32
            if self.channel_mode:
                activation = tf.gather(activation, channel, axis=-1)
            if self.objective == "l2":
                h, w = tf.shape(activation)[1], tf.shape(activation)[2]
                # tiny activations (small tiles, deep layers) keep their border
                border = tf.where(tf.minimum(h, w) > 2 * L2_BORDER, L2_BORDER, 0)
                inner = activation[:, border : h - border, border : w - border]
                size = tf.cast(tf.size(activation), tf.float32)
                terms.append(tf.reduce_sum(tf.square(inner)) / size)
            else:
                terms.append(tf.reduce_mean(activation))
        return tf.stack(terms) * layer_weights

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
    ) -> tuple[Any, Any]:
        """One gradient-ascent step on ``image`` (height, width, 3; network units): the
        updated image and the weighted objective term of each layer (tensors)."""
        import tensorflow as tf

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
                gradient, tile_terms = self._tile_gradient(rolled, bounds, layer_weights, channel)
                cols.append(gradient)
                terms = tile_terms if terms is None else terms + tile_terms
            rows.append(cols[0] if cols_n == 1 else tf.concat(cols, axis=1))
        gradients = rows[0] if rows_n == 1 else tf.concat(rows, axis=0)
        updated = self._finish(image, gradients, shift, step_size, tv_weight, low, high)
        return updated, terms

    def _tile_gradient_graph(self, rolled, bounds, layer_weights, channel):
        import tensorflow as tf

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
            tile_terms = self._terms(tile, layer_weights, channel) * share
            tile_loss = tf.reduce_sum(tile_terms)
        gradient = tape.gradient(
            tile_loss, tile, unconnected_gradients=tf.UnconnectedGradients.ZERO
        )
        return gradient, tile_terms

    def _finish_graph(self, image, gradients, shift, step_size, tv_weight, low, high):
        import tensorflow as tf

        self.finish_traces += 1
        gradients = tf.roll(gradients, -shift, axis=[0, 1])
        # g / (std + 1e-8) * step_size, with the scalars combined first: one pass fewer
        # over a full-size tensor
        scale = step_size / (tf.math.reduce_std(gradients) + 1e-8)
        gradients = tf.cond(
            tv_weight > 0,
            lambda: gradients * scale - (tv_weight * step_size) * self._tv_gradient(image),
            lambda: gradients * scale,
        )
        return tf.clip_by_value(image + gradients, low, high)

    @staticmethod
    def _tv_gradient(image: Any) -> Any:
        """Gradient of 0.5 * sum of squared neighbour differences (a Laplacian): about as
        large per pixel as the normalised dream gradient where the image is noisy."""
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(image)
            dy = image[1:, :, :] - image[:-1, :, :]
            dx = image[:, 1:, :] - image[:, :-1, :]
            tv = 0.5 * (tf.reduce_sum(tf.square(dy)) + tf.reduce_sum(tf.square(dx)))
        return tape.gradient(tv, image)


_steppers: dict[tuple, tuple[Any, _Stepper]] = {}
_steppers_lock = threading.Lock()
_MAX_STEPPERS = 8


def _get_stepper(
    model: Any,
    layer_names: Sequence[str],
    objective: str,
    channel_mode: bool,
    fixed_size: tuple[int, int] | None,
    grayscale: bool,
    min_tile: int,
) -> _Stepper:
    """The cached compiled step for this network and layer set (built on first use)."""
    key = (id(model), tuple(layer_names), objective, channel_mode, fixed_size, grayscale, min_tile)
    with _steppers_lock:
        cached = _steppers.get(key)
        # the entry holds the model itself, so its id cannot be reused while cached
        if cached is not None and cached[0] is model:
            return cached[1]
    from cnnstudio.core import layers

    # nested paths ("base/Conv_1") work too: the graph is rebuilt through the nested model
    features = layers.layer_outputs_model(model, layer_names)
    stepper = _Stepper(
        features, len(layer_names), objective, channel_mode, fixed_size, grayscale, min_tile
    )
    with _steppers_lock:
        while len(_steppers) >= _MAX_STEPPERS:
            _steppers.pop(next(iter(_steppers)))
        _steppers[key] = (model, stepper)
    return stepper


def clear_step_cache() -> None:
    """Forget the compiled steps (and the networks they hold), e.g. after new weights
    replaced a cached backbone."""
    with _steppers_lock:
        _steppers.clear()


def _identity(x: Any) -> Any:
    return x


@dataclass
class _Network:
    model: Any
    label: str
    preprocess: Callable[[Any], Any]
    deprocess: Callable[[Any], Any]
    min_size: int
    fixed_size: tuple[int, int] | None
    grayscale: bool
    suggested_layers: list[str]


def _network(
    params: DreamParams,
    model: Any,
    preprocess: Callable[[Any], Any] | None,
    deprocess: Callable[[Any], Any] | None,
) -> _Network:
    if model is None:
        info = backbones.get_backbone(params.backbone)
        full = backbones.build_backbone(info.name, params.weights, include_top=False)
        name = info.name
        return _Network(
            full,
            info.label,
            preprocess or (lambda x: backbones.preprocess(name, x)),
            deprocess or (lambda x: backbones.deprocess(name, x)),
            info.min_size,
            None,
            False,
            list(info.dream_layers),
        )
    try:
        shape = tuple(model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        raise InputError(
            f"model {getattr(model, 'name', model)!r} has no defined input: build it first"
        ) from None
    if len(shape) != 4 or shape[-1] not in (1, 3):
        raise InputError(
            f"model {model.name} takes inputs of shape {shape[1:]}: dreaming needs images "
            "(height, width, 1 or 3)"
        )
    fixed = (
        (int(shape[1]), int(shape[2])) if shape[1] is not None and shape[2] is not None else None
    )
    return _Network(
        model,
        f"model {model.name}",
        preprocess or _identity,
        deprocess or _identity,
        min(fixed) if fixed else CUSTOM_MODEL_MIN_SIZE,
        fixed,
        shape[-1] == 1,
        dreamable_layers(model),
    )


def _check_layers(net: _Network, params: DreamParams) -> tuple[list[str], int | None]:
    from cnnstudio.core import layers

    names = list(params.objective_layers())
    for name in names:
        try:
            layer = layers.layer_at(net.model, name)  # nested paths "outer/inner" too
        except InputError:
            raise InputError(
                f"layer {name!r} is not in {net.label}: choose from "
                f"{', '.join(net.suggested_layers)}"
            ) from None
        if len(layer.output.shape) != 4:
            raise InputError(
                f"layer {name!r} of {net.label} has no spatial output to dream on: choose from "
                f"{', '.join(net.suggested_layers)}"
            )
    if params.channel is None:
        return names, None
    layer, index = params.channel[0], int(params.channel[1])
    count = layer_channels(net.model, layer)
    if index >= count:
        raise InputError(
            f"channel {index} is out of range for layer {layer!r}: it has {count} channels "
            f"(0..{count - 1})"
        )
    return names, index


def _start_image(
    image: np.ndarray | None, params: DreamParams, noise_size: tuple[int, int] | None
) -> np.ndarray:
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


def _clip_bounds(preprocess: Callable[[Any], Any]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel range of valid network inputs: where 0 and 255 pixels land."""
    black = np.asarray(preprocess(np.zeros((1, 1, 3), np.float32)), np.float32).reshape(3)
    white = np.asarray(preprocess(np.full((1, 1, 3), 255.0, np.float32)), np.float32).reshape(3)
    return np.minimum(black, white), np.maximum(black, white)


def dream(
    image: np.ndarray | None,
    params: DreamParams,
    *,
    noise_size: tuple[int, int] | None = None,
    model: Any = None,
    preprocess: Callable[[Any], Any] | None = None,
    deprocess: Callable[[Any], Any] | None = None,
    preview_interval: float = PREVIEW_INTERVAL_S,
) -> Generator[Progress | Preview | Notice, None, np.ndarray]:
    """Dream on ``image`` (uint8 RGB, e.g. from :func:`images.load_image`), or on noise of
    ``noise_size`` = (width, height) when ``image`` is None (default: max_size square).

    Yields a :class:`Progress` after every step (``step`` counts over all octaves,
    ``stage`` is the octave, ``terms`` the weighted loss of each layer), a :class:`Preview`
    at most every ``preview_interval`` seconds and at the end of every octave (at the
    output size), and a :class:`Notice` when an octave starts or stops early. Returns the
    result as uint8 RGB with the size of the input after ``max_size``. Closing the
    generator stops it at the next step.

    ``model``: a keras model to dream with instead of the backbone (e.g. a library model),
    with ``preprocess``/``deprocess`` mapping 0..255 RGB floats to its inputs and back
    (default: identity). Layer names then refer to that model (:func:`dreamable_layers`).
    """
    validate_params(params)
    base = _start_image(image, params, noise_size)
    if model is None:
        # fetch missing ImageNet weights first, as events: the window and the terminal
        # show the download, and Stop abandons it between chunks
        yield from ensure_weights_events(backbones.get_backbone(params.backbone), params.weights)
    net = _network(params, model, preprocess, deprocess)
    layer_names, channel_index = _check_layers(net, params)
    tile_size = params.tile_size
    if net.fixed_size is not None:
        tile_size = max(net.fixed_size)  # tiles the model's own size, each resized to fit it
    elif tile_size < net.min_size:
        raise InputError(
            f"tile size {tile_size} is below {net.label}'s minimum input of {net.min_size} "
            f"pixels: use {net.min_size} or more (512 is typical)"
        )

    import tensorflow as tf

    stepper = _get_stepper(
        net.model,
        layer_names,
        params.objective,
        channel_index is not None,
        net.fixed_size,
        net.grayscale,
        max(1, net.min_size if net.fixed_size is None else 1),
    )
    base_hw = base.shape[:2]
    sizes = octave_sizes(base_hw[0], base_hw[1], params, net.min_size)
    stages = len(sizes)
    total = params.steps * stages
    low_np, high_np = _clip_bounds(net.preprocess)
    low, high = tf.constant(low_np), tf.constant(high_np)
    weights = params.objective_layers()
    layer_weights = tf.constant([float(weights[n]) for n in layer_names], tf.float32)
    if params.step_size is not None:
        step_value = float(params.step_size)
    else:
        step_value = _step_for_bounds(low_np, high_np)  # the network's default
    step_size = tf.constant(step_value, tf.float32)
    tile = tf.constant(int(tile_size), tf.int32)
    tv_weight = tf.constant(float(params.tv_weight), tf.float32)
    no_shift = tf.zeros([2], tf.int32)
    channel = tf.constant(channel_index or 0, tf.int32)
    rng = np.random.default_rng(params.seed)

    # Whole-image work happens in TensorFlow, one temporary at a time: at 3000 px every
    # float copy of the picture is 72 MB, and numpy chains would hold several at once.
    original = tf.convert_to_tensor(
        net.preprocess(tf.cast(tf.convert_to_tensor(base), tf.float32)), tf.float32
    )

    def resized(x: Any, size: tuple[int, int]) -> Any:
        if tuple(x.shape[:2]) == tuple(size):
            return x
        return tf.image.resize(x, size)  # bilinear, as both recipes

    def to_uint8(x: Any) -> np.ndarray:
        pixels = tf.convert_to_tensor(net.deprocess(resized(x, base_hw)), tf.float32)
        return tf.cast(tf.clip_by_value(tf.round(pixels), 0, 255), tf.uint8).numpy()

    dreamed = resized(original, sizes[0])
    if stages == 1 or not params.reinject_detail:
        del original  # only detail re-injection needs it again
    last_preview = time.monotonic()
    for octave, size in enumerate(sizes):
        if octave > 0:
            dreamed = resized(dreamed, size)
            if params.reinject_detail:
                # what the previous, smaller octave could not hold of the original
                lost = resized(original, size) - resized(resized(original, sizes[octave - 1]), size)
                dreamed = tf.clip_by_value(dreamed + lost, low, high)
        yield Notice(f"octave {octave + 1}/{stages}: {size[1]}x{size[0]} px")
        for index in range(params.steps):
            if params.jitter:
                shift = tf.constant(rng.integers(-params.jitter, params.jitter + 1, 2), tf.int32)
            else:
                shift = no_shift
            dreamed, terms = stepper.step(
                dreamed, step_size, tile, shift, tv_weight, layer_weights, low, high, channel
            )
            values = terms.numpy()  # a few floats: the only sync per step
            loss = float(values.sum())
            step = octave * params.steps + index + 1
            yield Progress(
                step=step,
                total=total,
                loss=loss,
                terms={n: float(v) for n, v in zip(layer_names, values, strict=True)},
                stage=octave + 1,
                stages=stages,
                message=f"octave {octave + 1}/{stages}, step {index + 1}/{params.steps}",
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


# ------------------------------------------------------------------------------- metadata


def params_to_dict(params: DreamParams) -> dict[str, Any]:
    """JSON-ready dict of the parameters (round-trips through :func:`params_from_dict`)."""
    data = asdict(params)
    data["channel"] = list(params.channel) if params.channel is not None else None
    return data


def params_from_dict(data: Mapping[str, Any]) -> DreamParams:
    """Parameters from :func:`params_to_dict` output (e.g. read back from a saved PNG).
    Unknown keys are ignored; InputError for unusable values."""
    if not isinstance(data, Mapping):
        raise InputError("saved dream parameters are not a dictionary")
    known = {f.name for f in fields(DreamParams)}
    values = {k: v for k, v in data.items() if k in known}
    try:
        params = DreamParams(**values)
    except (TypeError, ValueError) as error:
        raise InputError(f"saved dream parameters are not usable: {error}") from error
    validate_params(params)
    return params


def dream_metadata(
    params: DreamParams,
    *,
    source: str | None = None,
    size: tuple[int, int] | None = None,
    model_name: str | None = None,
) -> dict[str, Any]:
    """What to embed in a saved dream (``images.save_image(..., params=...)``) so it can be
    redone: the parameters, the weights' label, whether the network was untrained, the
    source (file name or "noise"), the output (width, height) and the app version."""
    from cnnstudio import __version__

    if model_name is not None:
        label, untrained = f"model {model_name}", False
    else:
        label, untrained = (
            weights_label(params.weights),
            is_untrained(params.weights),
        )
    meta: dict[str, Any] = {
        "job": "dream",
        "app": f"cnnstudio {__version__}",
        "params": params_to_dict(params),
        "weights_label": label,
        "untrained": untrained,
    }
    if model_name is not None:
        meta["model"] = model_name
    if source is not None:
        meta["source"] = source
    if size is not None:
        meta["size"] = [int(size[0]), int(size[1])]
    return meta


def params_from_metadata(meta: Mapping[str, Any] | None) -> DreamParams | None:
    """The parameters embedded by :func:`dream_metadata`, or None if ``meta`` is not a
    dream's (e.g. ``images.read_params`` of a style result)."""
    if not meta or meta.get("job") != "dream" or "params" not in meta:
        return None
    return params_from_dict(meta["params"])
