"""What decides a dream: :class:`DreamParams`, the recipes' presets, validation, the
octave sizes and the metadata embedded in a saved dream. Imports no TensorFlow: the Dream
tab uses all of it at start-up.

The recipe (DESIGN.md, "Dream"): take a picture (or noise), and for a few scales of it
("octaves", smallest first) repeatedly nudge its pixels in the direction that makes chosen
activations of a network larger. Defaults follow the TF2 tutorial / cookbook: InceptionV3
without its top, the mean activations of ``mixed3`` and ``mixed5``, inputs in [-1, 1],
``img += 0.01 * g / (std(g) + 1e-8)`` clipped to the input range, 50 steps on each of five
octaves 1.3 apart (exponents -2..2), gradients computed on 512 px tiles after a random roll.
Deep Learning with Python's variant (the ``dlwp`` preset) uses mixed4..mixed7 weighted
0/3/2/1.5, an L2 objective with a 2-pixel border crop, three octaves 1.4 apart ending at the
base size, re-injection of the detail lost by shrinking, and an early stop at loss 10.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from cnnstudio.core import backbones
from cnnstudio.core.dream import bounds
from cnnstudio.core.errors import InputError
from cnnstudio.core.weights import is_untrained, weights_label

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


#: "mean": mean activation (TF2); "l2": sum of squares without a border / size (DLwP);
#: "guide": at each position, the dot product with the best-matching feature of a guide
#: picture (Google's deepdream notebook, neural-dream): dream toward that picture
OBJECTIVES: tuple[str, ...] = ("mean", "l2", "guide")


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
    objective: str = "mean"  # "mean" (TF2), "l2" (DLwP: squares, 2-px border cropped), "guide"
    guide: str | None = None  # the guide picture's file (objective "guide" only)
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
        preprocess = network if network is not None else identity
    low, high = clip_bounds(preprocess)
    return step_for_bounds(low, high)


def step_for_bounds(low: np.ndarray, high: np.ndarray) -> float:
    """The default step for a network whose inputs range over ``low``..``high`` per
    channel: 0.01 per unit of half that width (the TF2 recipe's 0.01 on [-1, 1])."""
    width = float(np.mean(np.asarray(high, np.float64) - np.asarray(low, np.float64)))
    return round(BASE_STEP_SIZE * (width / 2.0 if width > 0 else 1.0), 6)


def identity(x: Any) -> Any:
    """The preprocessing of a model that takes 0..255 pixels (it rescales itself)."""
    return x


def clip_bounds(preprocess: Callable[[Any], Any]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel range of valid network inputs: where 0 and 255 pixels land."""
    black = np.asarray(preprocess(np.zeros((1, 1, 3), np.float32)), np.float32).reshape(3)
    white = np.asarray(preprocess(np.full((1, 1, 3), 255.0, np.float32)), np.float32).reshape(3)
    return np.minimum(black, white), np.maximum(black, white)


# ------------------------------------------------------------------- library models


def library_backbone(preprocessing: str) -> str:
    """``DreamParams.backbone`` for a dream on a library model whose sidecar names
    ``preprocessing``: that backbone when it names one (its input convention, so presets
    scale their step sizes to it), else InceptionV3 (the field must name a backbone; the
    model's own layers are what the dream uses)."""
    return preprocessing if preprocessing in backbones.BACKBONE_NAMES else "inception_v3"


def library_step_size(preprocessing: str) -> float:
    """The default step of a library model: its backbone's when its inputs follow one,
    else the step for 0..255 pixels (a model that rescales itself)."""
    if preprocessing in backbones.BACKBONE_NAMES:
        return default_step_size(preprocessing)
    return default_step_size(None)


def model_default_layers(layer_names: Sequence[str]) -> dict[str, float]:
    """The layer weights a dream on a library model starts from: its deepest dreamable
    layer (``layer_names`` in network order), weight 1; its most complex features."""
    return {layer_names[-1]: 1.0} if layer_names else {}


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
    # a fast look: few steps on three scales of a picture no larger than 500 px (a look
    # at a 12,000 px photo must be as quick as at any other)
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
        "max_size": 500,
    },
    # a frame of a zoom or a video: one octave and a few steps, since every frame starts
    # from the dreamed frame before it (zoomed, or warped by the optical flow) and the
    # dream grows from frame to frame
    "motion": {
        "layers": LAYER_PRESETS["tf2"],
        "channel": None,
        "objective": "mean",
        "steps": 10,
        "step_size": 0.02,
        "octaves": 1,
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
    if values.get("objective") not in (None, "guide"):
        values["guide"] = None  # a preset's own objective: the guide picture is not used
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
    (Layer names and channel indices are checked against the network when it is known:
    :func:`cnnstudio.core.dream.network.check_layers`.) Every number has an upper bound
    (bounds.py), so no value overflows a control, TensorFlow or memory."""
    if not isinstance(params.backbone, str):
        raise InputError(f"backbone {params.backbone!r:.40}: give a network name")
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
    _validate_guide(params)
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
    bounds.check_upper_bounds(params)


def _validate_guide(params: DreamParams) -> None:
    """The guide objective and a guide picture come together, on whole layers."""
    has_guide = isinstance(params.guide, str) and bool(params.guide.strip())
    if params.guide is not None and not has_guide:
        raise InputError(f"guide {params.guide!r}: give the path of a picture", param="guide")
    if params.objective == "guide" and not has_guide:
        raise InputError("the guide objective needs a guide picture to dream toward", param="guide")
    if has_guide and params.objective != "guide":
        raise InputError(
            f"a guide picture ({params.guide}) needs the guide objective, not '{params.objective}'",
            param="objective",
        )
    if has_guide and params.channel is not None:
        raise InputError(
            "a guide picture guides whole layers, not one channel: choose layers instead",
            param="guide",
        )


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
        validate_params(params)
    except InputError:
        raise
    except (TypeError, ValueError, AttributeError, OverflowError, KeyError) as error:
        # a value of a type no check expected (a list for a name, ...): still one line
        raise InputError(f"saved dream parameters are not usable: {error}"[:200]) from None
    return params


def dream_metadata(
    params: DreamParams,
    *,
    source: str | None = None,
    size: tuple[int, int] | None = None,
    model_name: str | None = None,
) -> dict[str, Any]:
    """What to embed in a saved dream (``image_saving.save_image(..., params=...)``) so it can be
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
