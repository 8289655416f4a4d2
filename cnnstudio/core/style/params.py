"""What shapes a style run: StyleParams, layer presets, validation, sizes, metadata.

No TensorFlow here: the GUI imports this module at start (forms, presets, restoring a
saved picture's parameters), and the memory estimate works from :data:`VGG19_LAYERS`
without building the network.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cnnstudio.core import checks
from cnnstudio.core.errors import InputError
from cnnstudio.core.weights import is_untrained, weights_label

BACKBONE = "vgg19"
VGG19_MIN_SIZE = 32


@dataclass(frozen=True)
class LayerPreset:
    """Which VGG19 layers carry the content and the style (weight 1 each)."""

    label: str
    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]


_BLOCK_CONV1 = tuple(f"block{i}_conv1" for i in range(1, 6))

LAYER_PRESETS: dict[str, LayerPreset] = {
    # Gatys et al. 2015 as Practical ML with Python runs it.
    "gatys": LayerPreset("Gatys et al.", ("block5_conv2",), _BLOCK_CONV1),
    # Johnson et al. 2016's choice (Practical ML with Python's alternative).
    "johnson": LayerPreset(
        "Johnson et al.",
        ("block2_conv2",),
        ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"),
    ),
    # The TF2 cookbook: two content layers, the first conv of each block for style.
    "cookbook": LayerPreset("TF2 cookbook", ("block4_conv2", "block5_conv2"), _BLOCK_CONV1),
}

#: upper bounds (the Style tab's controls reach them; beyond them a value is refused)
MAX_STEPS = 100_000
MAX_EVALUATIONS = 1000
MAX_SIZE = 8192  # longest side of the output (the memory check refuses what does not fit)
MAX_LOSS_WEIGHT = 1e9
MAX_LAYER_WEIGHT = 100.0
MAX_LEARNING_RATE = 100.0
OPTIMIZERS = ("adam", "lbfgs")
INITS = ("content", "noise", "style")
COLOR_MODES = ("none", "luminance", "match")

#: the loss terms are normalised (core/perceptual.py); version 1 had raw sums
LOSS_VERSION = 2
DEFAULT_CONTENT_WEIGHT = 1.0
DEFAULT_STYLE_WEIGHT = 10.0
DEFAULT_TV_WEIGHT = 1.0
#: the temporal term is a mean squared pixel difference (0..1 pixels, ~0.01 for a frame
#: that drifted 25 levels): at this weight a drift of 8 levels counts about as much as
#: the style term does
DEFAULT_TEMPORAL_WEIGHT = 1000.0
#: what was saved with version-1 weights and means something else now
_VERSION_1_FIELDS = ("content_weight", "style_weight", "tv_weight", "beta_1", "epsilon")

ADAM_DEFAULT_STEPS = 300  # the TF tutorial runs 1000; 300 already looks styled
LBFGS_DEFAULT_STEPS = 20  # outer iterations, as Practical ML with Python

#: whole recipes (size, optimiser, iterations...): the window's Presets list. "cpu" is
#: where the window starts on a computer without a GPU: the tutorial's 512 px and 300
#: iterations take over ten minutes on a 2-core CPU, 384 px and 150 about three (a step
#: costs in proportion to the pixels); "quick" is a first look in well under a minute.
STYLE_PRESETS: dict[str, dict[str, object]] = {
    "tutorial": {
        "optimizer": "adam", "steps": ADAM_DEFAULT_STEPS, "size": 512, "learning_rate": 0.02,
        "multi_scale": False,
    },
    "cpu": {
        "optimizer": "adam", "steps": 150, "size": 384, "learning_rate": 0.02,
        "multi_scale": False,
    },
    # few steps need bigger ones: the cookbook's learning rate
    "quick": {
        "optimizer": "adam", "steps": 50, "size": 256, "learning_rate": 0.05,
        "multi_scale": False,
    },
    "gatys": {
        "optimizer": "lbfgs", "steps": LBFGS_DEFAULT_STEPS, "lbfgs_evaluations": 20,
        "size": 512, "layers": "gatys", "content_layers": None, "style_layers": None,
        "multi_scale": False,
    },
}  # fmt: skip
STYLE_PRESET_LABELS: dict[str, str] = {
    "tutorial": "TF tutorial: Adam, 512 px, 300 iterations",
    "cpu": "CPU-friendly: Adam, 384 px, 150 iterations",
    "quick": "Quick look: Adam, 256 px, 50 iterations",
    "gatys": "Gatys: L-BFGS, 512 px, 20 iterations",
}

#: VGG19 feature layers in order: (name, downsampling factor, channels). Used for the
#: memory estimate, without building the network.
VGG19_LAYERS: tuple[tuple[str, int, int], ...] = (
    ("block1_conv1", 1, 64),
    ("block1_conv2", 1, 64),
    ("block1_pool", 2, 64),
    ("block2_conv1", 2, 128),
    ("block2_conv2", 2, 128),
    ("block2_pool", 4, 128),
    ("block3_conv1", 4, 256),
    ("block3_conv2", 4, 256),
    ("block3_conv3", 4, 256),
    ("block3_conv4", 4, 256),
    ("block3_pool", 8, 256),
    ("block4_conv1", 8, 512),
    ("block4_conv2", 8, 512),
    ("block4_conv3", 8, 512),
    ("block4_conv4", 8, 512),
    ("block4_pool", 16, 512),
    ("block5_conv1", 16, 512),
    ("block5_conv2", 16, 512),
    ("block5_conv3", 16, 512),
    ("block5_conv4", 16, 512),
    ("block5_pool", 32, 512),
)
VGG19_LAYER_NAMES = tuple(name for name, _, _ in VGG19_LAYERS)


@dataclass
class StyleParams:
    """Everything that shapes a style run. Defaults: Adam on 0..1 pixels with the TF2
    cookbook's layers and the normalised loss terms of :mod:`cnnstudio.core.perceptual`."""

    weights: str = "imagenet"  # "imagenet" | "random" | path to a VGG19 weights file
    layers: str = "cookbook"  # a LAYER_PRESETS key
    # Any layers with a weight each; when set they replace the preset's layers.
    content_layers: dict[str, float] | None = None
    style_layers: dict[str, float] | None = None
    # Relative importances of the normalised loss terms (core/perceptual.py): the same
    # for any network and size. Style 10 asks for the style ten times as much as for
    # the content; TV 1 smooths mildly (0: off).
    content_weight: float = DEFAULT_CONTENT_WEIGHT
    style_weight: float = DEFAULT_STYLE_WEIGHT
    tv_weight: float = DEFAULT_TV_WEIGHT
    # videos only: how strongly a frame keeps to the previous output warped by the optical
    # flow where the flow is reliable (Ruder et al. 2016; core/perceptual.temporal_loss)
    temporal_weight: float = DEFAULT_TEMPORAL_WEIGHT
    optimizer: str = "adam"  # "adam" | "lbfgs"
    steps: int | None = None  # optimiser iterations (per scale); None: the optimiser's default
    learning_rate: float = 0.02  # Adam, on 0..1 pixels (TF tutorial, crowsonkb)
    beta_1: float = 0.9  # Adam's defaults (as crowsonkb's style-transfer-pytorch) ...
    beta_2: float = 0.999
    epsilon: float = 1e-8  # ... so each pixel moves about the learning rate per step
    lbfgs_evaluations: int = 20  # loss evaluations per L-BFGS iteration (Practical ML)
    size: int = 512  # longest side of the output in pixels
    style_scale: float = 1.0  # style image's longest side relative to the output's
    init: str = "content"  # start from "content", "noise" or "style"
    preserve_colors: str = "none"  # "none" | "luminance" (keep content chroma) | "match"
    multi_scale: bool = False  # optimise at 1/4, 1/2, then full size
    seed: int | None = None  # for the noise start
    preview_interval: float = 0.1  # seconds between previews (throttled at the source)
    # which loss the weights above are for: pictures and settings saved before the terms
    # were normalised (version 1) carry weights that mean something else
    loss_version: int = LOSS_VERSION

    def total_steps(self) -> int:
        """Optimiser iterations per scale."""
        if self.steps is not None:
            return self.steps
        return ADAM_DEFAULT_STEPS if self.optimizer == "adam" else LBFGS_DEFAULT_STEPS

    def layer_weights(self) -> tuple[dict[str, float], dict[str, float]]:
        """(content layer -> weight, style layer -> weight) after the preset and overrides."""
        preset = LAYER_PRESETS.get(self.layers)
        if preset is None and (self.content_layers is None or self.style_layers is None):
            raise InputError(
                f"unknown layer preset {self.layers!r}: choose one of {', '.join(LAYER_PRESETS)}",
                param="layers",
            )
        content = (
            dict(self.content_layers)
            if self.content_layers is not None
            else dict.fromkeys(preset.content_layers, 1.0)
        )
        style = (
            dict(self.style_layers)
            if self.style_layers is not None
            else dict.fromkeys(preset.style_layers, 1.0)
        )
        return content, style

    def validate(self) -> None:
        """Raise InputError naming the first value that cannot work (``param``: its field).
        Types first, with an upper bound for every number (the MAX_* constants)."""
        self._check_types_and_bounds()
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("init", self.init, INITS)
        _choice("preserve_colors", self.preserve_colors, COLOR_MODES)
        content, style = self.layer_weights()
        for param, kind, weights in (
            ("content_layers", "content", content),
            ("style_layers", "style", style),
        ):
            if not weights:
                raise InputError(
                    "style transfer needs at least one content and one style layer",
                    param=param,
                )
            for name, weight in weights.items():
                if name not in VGG19_LAYER_NAMES:
                    raise InputError(
                        f"unknown VGG19 layer {name!r}: use names like block4_conv2 or "
                        "block1_conv1",
                        param=param,
                    )
                if not math.isfinite(weight) or weight < 0:
                    raise InputError(
                        f"layer weight {weight} for {name} must be 0 or more", param=param
                    )
            # All-zero weights would silently drop a whole loss term.
            if sum(weights.values()) <= 0:
                raise InputError(
                    f"every {kind} layer weight is 0 ({', '.join(weights)}): give at least "
                    "one layer a weight above 0",
                    param=param,
                )
        for param, label, value in (
            ("content_weight", "content weight", self.content_weight),
            ("style_weight", "style weight", self.style_weight),
            ("tv_weight", "total-variation weight", self.tv_weight),
            ("temporal_weight", "temporal weight", self.temporal_weight),
        ):
            if not math.isfinite(value) or value < 0:
                raise InputError(f"{label} {value} must be 0 or more", param=param)
        if self.total_steps() < 1:
            raise InputError(f"steps {self.total_steps()} must be at least 1", param="steps")
        if self.size < VGG19_MIN_SIZE:
            raise InputError(
                f"size {self.size} is too small: VGG19 needs {VGG19_MIN_SIZE} px", param="size"
            )
        if not self.learning_rate > 0:
            raise InputError(
                f"learning rate {self.learning_rate} must be more than 0", param="learning_rate"
            )
        if not 0 < self.style_scale <= 4:
            raise InputError(
                f"style scale {self.style_scale} must be in (0, 4]", param="style_scale"
            )
        if self.lbfgs_evaluations < 1:
            raise InputError(
                "L-BFGS needs at least 1 loss evaluation per iteration",
                param="lbfgs_evaluations",
            )

    def _check_types_and_bounds(self) -> None:
        checks.text(self.weights, "weights", param="weights")
        checks.text(self.layers, "layer preset", 100, param="layers")
        for param in ("content_layers", "style_layers"):
            layers = getattr(self, param)
            if layers is None:
                continue
            if not isinstance(layers, dict) or len(layers) > len(VGG19_LAYERS):
                raise InputError(f"{param.replace('_', ' ')} must map layer names to weights",
                                 param=param)  # fmt: skip
            for name, weight in layers.items():
                checks.text(name, "layer name", 100, param=param)
                checks.number(weight, f"weight of {name}", 0, MAX_LAYER_WEIGHT, param=param)
        for param, label in (
            ("content_weight", "content weight"),
            ("style_weight", "style weight"),
            ("tv_weight", "total-variation weight"),
        ):
            checks.number(getattr(self, param), label, 0, MAX_LOSS_WEIGHT, param=param)
        if self.steps is not None:
            checks.whole(self.steps, "steps", 1, MAX_STEPS, param="steps")
        checks.number(self.learning_rate, "learning rate", 0, MAX_LEARNING_RATE,
                      param="learning_rate", above_low=True)  # fmt: skip
        checks.number(self.beta_1, "beta_1", 0, 1, param="beta_1")
        checks.number(self.beta_2, "beta_2", 0, 1, param="beta_2")
        checks.number(self.epsilon, "epsilon", 0, 1e3, param="epsilon", above_low=True)
        checks.whole(self.lbfgs_evaluations, "L-BFGS evaluations", 1, MAX_EVALUATIONS,
                     param="lbfgs_evaluations")  # fmt: skip
        checks.whole(self.size, "size", 1, MAX_SIZE, param="size")
        checks.number(self.style_scale, "style scale", 0, 4, param="style_scale", above_low=True)
        checks.flag(self.multi_scale, "multi-scale", param="multi_scale")
        if self.seed is not None:
            checks.whole(self.seed, "seed", 0, checks.INT32_MAX, param="seed")
        checks.number(self.preview_interval, "preview interval", 0, 1e9, param="preview_interval")


def preset_params(name: str, base: StyleParams | None = None) -> StyleParams:
    """``base`` (default: StyleParams()) with the recipe ``name`` of STYLE_PRESETS."""
    if name not in STYLE_PRESETS:
        raise InputError(
            f"unknown style preset {name!r}: choose one of {', '.join(STYLE_PRESETS)}",
            param="preset",
        )
    return dataclasses.replace(base or StyleParams(), **STYLE_PRESETS[name])


def matches_preset(name: str, params: StyleParams) -> bool:
    """Whether ``params`` are what preset ``name`` makes of them (nothing it sets differs)."""
    ours = dataclasses.replace(params, steps=params.total_steps())
    return preset_params(name, ours) == ours


def _choice(param: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        label = param.replace("_", " ")
        raise InputError(
            f"unknown {label} {value!r}: choose one of {', '.join(choices)}", param=param
        )


# ----------------------------------------------------------------------------------- sizes


def output_size(content_shape: Sequence[int], size: int) -> tuple[int, int]:
    """(height, width) of the output: the content's aspect with the longest side = size."""
    height, width = int(content_shape[0]), int(content_shape[1])
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def stage_sizes(height: int, width: int, multi_scale: bool) -> list[tuple[int, int]]:
    """The sizes optimised in turn: 1/4, 1/2, full in multi-scale mode (never below the
    network's minimum side), else only the full size."""
    if not multi_scale:
        return [(height, width)]
    sizes = []
    for factor in (0.25, 0.5):
        h, w = round(height * factor), round(width * factor)
        if min(h, w) >= VGG19_MIN_SIZE:
            sizes.append((h, w))
    sizes.append((height, width))
    return sizes


# -------------------------------------------------------------------------------- metadata


def style_metadata(params: StyleParams, **extra: object) -> dict:
    """Parameters to embed in a saved picture so it can be redone, with the weights source
    said plainly (and whether the network was untrained)."""
    meta: dict[str, object] = {"job": "style", "backbone": BACKBONE}
    meta.update(dataclasses.asdict(params))
    meta["steps"] = params.total_steps()
    if meta["weights"] not in ("imagenet", "random"):
        # the full path, so that restoring the picture's parameters finds the file again
        meta["weights"] = str(Path(str(meta["weights"])).expanduser().resolve())
    meta["weights_label"] = weights_label(params.weights)
    meta["untrained"] = is_untrained(params.weights)
    meta.update(extra)
    return meta


def params_from_metadata(meta: dict) -> StyleParams:
    """StyleParams from a saved picture's parameters (unknown keys ignored), validated:
    InputError for anything unusable, whatever its type. Loss weights saved before the
    terms were normalised (no ``loss_version`` 2) mean something else now: they, and that
    Adam's beta_1 and epsilon, are left at today's defaults."""
    if not isinstance(meta, dict):
        raise InputError("saved style parameters are not a dictionary")
    names = {f.name for f in dataclasses.fields(StyleParams)}
    values = {k: v for k, v in meta.items() if k in names}
    if values.get("loss_version") != LOSS_VERSION:
        for name in _VERSION_1_FIELDS:
            values.pop(name, None)
        values["loss_version"] = LOSS_VERSION
    try:
        params = StyleParams(**values)
        params.validate()
    except InputError:
        raise
    except (TypeError, ValueError, AttributeError, OverflowError, KeyError) as error:
        raise InputError(f"saved style parameters are not usable: {error}"[:200]) from None
    return params
