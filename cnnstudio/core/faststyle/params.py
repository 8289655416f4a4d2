"""What shapes a fast style training run: :class:`FastStyleParams` (stored as
``config.json`` in the run folder), its defaults (Johnson et al. 2016), validation, and
the facts a style model's sidecar carries.

No TensorFlow here: the window imports this module at start.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from cnnstudio.core import checks
from cnnstudio.core.errors import InputError
from cnnstudio.core.style.params import (
    DEFAULT_CONTENT_WEIGHT,
    DEFAULT_STYLE_WEIGHT,
    DEFAULT_TV_WEIGHT,
    LOSS_VERSION,
    VGG19_LAYER_NAMES,
    VGG19_MIN_SIZE,
)

#: the sidecar ``kind`` of a style network in the model library (classifiers have none)
STYLE_KIND = "style"
RECIPE = "fast style"
#: the job (frames folders, a video's metadata) of a video styled by a fast style model
VIDEO_JOB = "style-video-fast"
RECIPE_LABEL = "Fast style network (Johnson et al. 2016)"
LOSS_NETWORK = "vgg19"
#: a photo folder needs at least this many readable pictures
MIN_PHOTOS = 8
#: at most this many photos are read (a random choice of them, always the same for a
#: folder and seed): 2000 at 256 px take ~400 MB; a few thousand steps of batch 4 see
#: each of them a few times
MAX_PHOTOS = 2000
#: sides of a training picture: the network takes multiples of 4
SIZE_MULTIPLE = 4

#: Johnson et al. 2016 on VGG19: content at relu2_2, style at relu1_2 ... relu4_3
CONTENT_LAYERS = {"block2_conv2": 1.0}
STYLE_LAYERS = {
    "block1_conv2": 1.0,
    "block2_conv2": 1.0,
    "block3_conv3": 1.0,
    "block4_conv3": 1.0,
}
DEFAULT_STEPS = 2000  # Johnson et al.: 40k on a GPU; usable after a few thousand

# Upper bounds (the window's controls take the same): a flag, the settings file or a run
# folder's config.json can hold anything, and 2^31 overflowed Qt and int32, a size of
# 65536 was killed for memory before a photo was read.
MAX_SIZE = 1024  # training squares (Johnson et al.: 256)
MAX_STEPS = 1_000_000
MAX_BATCH = 64
MAX_EVERY = 100_000  # steps between previews and between checkpoints
MAX_LEARNING_RATE = 1.0
MAX_LOSS_WEIGHT = 1e4
MAX_LAYER_WEIGHT = 100.0
MAX_STYLES = 100  # style pictures of one run


@dataclass
class FastStyleParams:
    """Everything a training run needs; stored as ``config.json`` in its run folder."""

    styles: list[str] = field(default_factory=list)  # style image files
    data: str = ""  # a folder of photos (flat, or one subfolder per class)
    size: int = 256  # training pictures are size x size (Johnson et al.: 256)
    steps: int = DEFAULT_STEPS  # training steps in all (a resumed run goes on to this)
    batch_size: int = 4
    learning_rate: float = 1e-3  # Adam (Johnson et al.)
    # relative importances of the normalised loss terms (core/perceptual.py), as in the
    # Style tab: the same numbers mean the same there and here
    content_weight: float = DEFAULT_CONTENT_WEIGHT
    style_weight: float = DEFAULT_STYLE_WEIGHT
    tv_weight: float = DEFAULT_TV_WEIGHT
    content_layers: dict[str, float] = field(default_factory=lambda: dict(CONTENT_LAYERS))
    style_layers: dict[str, float] = field(default_factory=lambda: dict(STYLE_LAYERS))
    weights: str = "imagenet"  # the loss network's (VGG19): imagenet | random | a file
    style_scale: float = 1.0  # the style's longest side relative to the training size
    # train on luminance only (Gatys et al. 2016): the model learns strokes and tones, not
    # the style's colours; styling puts each picture's own colours back
    preserve_colors: bool = False
    preview_every: int = 50  # steps between held-out previews (and the best-model check)
    checkpoint_every: int = 100  # steps between checkpoints (a killed run resumes there)
    seed: int = 0
    run_dir: str = ""  # "" = a new folder under paths.runs_dir()
    loss_version: int = LOSS_VERSION

    def validate(self) -> None:
        """Raise InputError naming the first value that cannot work (``param``: its field).
        Types first, with an upper bound for every number (the MAX_* constants)."""
        self._check_types_and_bounds()
        if not self.styles:
            raise InputError("give at least one style image", param="styles")
        if not str(self.data).strip():
            raise InputError("give a folder of photos to train on", param="data")
        if self.size < VGG19_MIN_SIZE or self.size % SIZE_MULTIPLE:
            raise InputError(
                f"training size {self.size} must be a multiple of {SIZE_MULTIPLE} and at "
                f"least {VGG19_MIN_SIZE} px",
                param="size",
            )
        if self.style_weight <= 0:
            raise InputError(
                "style weight must be more than 0 to learn a style", param="style_weight"
            )
        for param, kind, layers in (
            ("content_layers", "content", self.content_layers),
            ("style_layers", "style", self.style_layers),
        ):
            _check_layers(param, kind, layers)

    def _check_types_and_bounds(self) -> None:
        if not isinstance(self.styles, list) or len(self.styles) > MAX_STYLES:
            raise InputError(
                f"styles must be a list of at most {MAX_STYLES} style pictures", param="styles"
            )
        for style in self.styles:
            checks.text(style, "style picture", param="styles")
        checks.text(self.data, "photo folder", param="data")
        checks.text(self.weights, "weights", param="weights")
        checks.text(self.run_dir, "run folder", param="run_dir")
        checks.at_most(self.size, "training size", MAX_SIZE, param="size")
        for param, high in (
            ("steps", MAX_STEPS),
            ("batch_size", MAX_BATCH),
            ("preview_every", MAX_EVERY),
            ("checkpoint_every", MAX_EVERY),
        ):
            checks.whole(getattr(self, param), param.replace("_", " "), 1, high, param=param)
        checks.number(self.learning_rate, "learning rate", 0, MAX_LEARNING_RATE,
                      param="learning_rate", above_low=True)  # fmt: skip
        for param, label in (
            ("content_weight", "content weight"),
            ("style_weight", "style weight"),
            ("tv_weight", "total-variation weight"),
        ):
            checks.number(getattr(self, param), label, 0, MAX_LOSS_WEIGHT, param=param)
        for param in ("content_layers", "style_layers"):
            layers = getattr(self, param)
            if not isinstance(layers, dict) or len(layers) > len(VGG19_LAYER_NAMES):
                raise InputError(
                    f"{param.replace('_', ' ')} must map layer names to weights", param=param
                )
            for name, weight in layers.items():
                checks.text(name, "layer name", 100, param=param)
                checks.number(weight, f"weight of {name}", 0, MAX_LAYER_WEIGHT, param=param)
        checks.number(self.style_scale, "style scale", 0, 4, param="style_scale", above_low=True)
        checks.flag(self.preserve_colors, "preserve colours", param="preserve_colors")
        checks.whole(self.seed, "seed", 0, checks.INT32_MAX, param="seed")
        checks.whole(self.loss_version, "loss version", 0, checks.INT32_MAX, param="loss_version")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FastStyleParams:
        """Params from a run folder's ``config.json`` (unknown keys ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _check_layers(param: str, kind: str, layers: dict[str, float]) -> None:
    if not layers:
        raise InputError(f"give at least one {kind} layer", param=param)
    for name, weight in layers.items():
        if name not in VGG19_LAYER_NAMES:
            raise InputError(
                f"unknown VGG19 layer {name!r}: use names like block2_conv2", param=param
            )
        if not math.isfinite(weight) or weight < 0:
            raise InputError(f"layer weight {weight} for {name} must be 0 or more", param=param)
    if sum(layers.values()) <= 0:
        raise InputError(
            f"every {kind} layer weight is 0: give at least one layer a weight above 0",
            param=param,
        )


def use_params_from_metadata(meta: dict[str, Any], max_size: int) -> tuple[str, int, bool]:
    """(model name, size, preserve colours) of a picture styled by a style model, from the
    parameters embedded in it, checked before the window shows any of them: the picture
    may come from anyone. ``size`` 0 (or absent, as the CLI writes it without ``--size``):
    the picture's own; at most ``max_size``. InputError naming the first bad value."""
    model = checks.text(meta.get("model"), "style model", 1000, param="model")
    size = meta.get("size")
    size = 0 if size is None else checks.whole(size, "size", 0, max_size, param="size")
    preserve = meta.get("preserve_colors", False)
    return model, size, checks.flag(preserve, "preserve colours", param="preserve_colors")


def is_style_model(meta: dict[str, Any] | None) -> bool:
    """Whether a library sidecar describes a style network (not a classifier)."""
    return bool(meta) and meta.get("kind") == STYLE_KIND
