"""What decides a feature visualisation: :class:`VisualizeParams`, its validation, the
channel list parser, and the metadata a saved grid carries.

No TensorFlow here: the GUI builds its form from these at start-up.

The defaults are the Distill article's and Lucid's (DESIGN.md, "Next recipes: the
numbers"): a 128 px image per channel parameterised as a Fourier spectrum scaled by
1/frequency with decorrelated colours, Adam at learning rate 0.05 for 256 steps, and at
every step a random jitter of up to 16 px, a scale of 0.9-1.1 and a rotation of up to 5
degrees.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from cnnstudio.core.errors import InputError

#: what each image is optimised for: the mean of a channel's map, the activation at the
#: centre of the map (one neuron), or a class score before the final softmax/sigmoid
OBJECTIVES: tuple[str, ...] = ("channel", "neuron", "class")

# Upper bounds: beyond these a run is a mistake, not a wish (hours, or gigabytes).
MIN_SIZE = 16
MAX_SIZE = 512
MAX_STEPS = 4096
MAX_CHANNELS = 2048
MAX_IMAGES_PER_CHANNEL = 8
MAX_BATCH = 64
MAX_JITTER = 64
MAX_SCALE = 0.5
MAX_ROTATION = 45.0
MAX_DIVERSITY = 1e4
MAX_LEARNING_RATE = 1.0
MAX_TOP = 64
MAX_SEED = 2**32 - 1

#: a Preview at most this often (seconds), plus one whenever a batch of images is done
PREVIEW_INTERVAL_S = 0.15


#: channels shown when none are named: the layer's first ones
DEFAULT_CHANNEL_COUNT = 16


@dataclass(frozen=True)
class VisualizeParams:
    """Everything that decides a visualisation grid.

    ``model`` is a backbone name (``inception_v3``, ``vgg19``, ``mobilenet_v2``, with
    ``weights`` imagenet/random/a file), a library model's name or a ``.keras`` path.
    ``layer`` is a layer path of that model (``"base/Conv_1"`` inside a transfer model);
    for the ``class`` objective, ``channels`` are class indices and ``layer`` (default:
    the last convolution) is only used by the diversity term. No ``channels``: the first
    :data:`DEFAULT_CHANNEL_COUNT` of the layer. ``size`` is the side of each
    image unless the model's input size is fixed. ``jitter`` is in pixels (at most an
    eighth of the image side is used), ``scale`` the largest relative change (0.1: 0.9 to
    1.1), ``rotation`` the largest angle in degrees. ``diversity`` > 0 with
    ``images_per_channel`` > 1 pushes a channel's images apart (Lucid's Gram-matrix
    term). ``batch`` images are optimised at once. ``examples_folder``: also find the
    ``top`` images of that folder that excite each channel most.
    """

    model: str = "inception_v3"
    weights: str = "imagenet"  # backbones only: "imagenet" | "random" | a weights file
    layer: str = "mixed4"
    channels: tuple[int, ...] = ()  # empty: the first DEFAULT_CHANNEL_COUNT (or all)
    objective: str = "channel"
    size: int = 128
    steps: int = 256
    learning_rate: float = 0.05  # Adam, on the parameterisation
    jitter: int = 16
    scale: float = 0.1
    rotation: float = 5.0
    decorrelate: bool = True  # colours through ImageNet's colour Cholesky matrix
    fourier: bool = True  # spectrum scaled by 1/frequency; False: plain pixels
    diversity: float = 0.0
    images_per_channel: int = 1
    batch: int = 8
    seed: int = 0
    examples_folder: str | None = None
    top: int = 9

    def __post_init__(self) -> None:
        # JSON gives lists; keep an immutable copy (frozen means frozen)
        if not isinstance(self.channels, tuple):
            try:
                object.__setattr__(self, "channels", tuple(self.channels))
            except TypeError:
                pass  # validate_params names the bad value

    def replace(self, **changes: Any) -> VisualizeParams:
        """A copy with some fields changed."""
        return replace(self, **changes)

    @property
    def image_count(self) -> int:
        """Images to optimise: one per channel and image per channel."""
        return len(self.channels) * self.images_per_channel

    def with_channels(self, count: int) -> VisualizeParams:
        """These parameters with the default channels filled in for a layer of ``count``
        channels (or classes): the first :data:`DEFAULT_CHANNEL_COUNT`, or all."""
        if self.channels:
            return self
        return self.replace(channels=tuple(range(min(DEFAULT_CHANNEL_COUNT, count))))


# ---------------------------------------------------------------------------- validation


def _is_int(value: Any) -> bool:
    # numpy's integers are Integral too; a bool is not a count
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    try:
        return not isinstance(value, bool) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _whole(params: VisualizeParams, name: str, low: int, high: int, words: str) -> None:
    value = getattr(params, name)
    if not _is_int(value) or not low <= value <= high:
        raise InputError(
            f"{words} {value!r} must be a whole number from {low} to {high}", param=name
        )


def _number(params: VisualizeParams, name: str, low: float, high: float, words: str) -> None:
    value = getattr(params, name)
    if not _is_number(value) or not low <= float(value) <= high:
        raise InputError(f"{words} {value!r} must be a number from {low:g} to {high:g}", param=name)


def validate_params(params: VisualizeParams) -> None:
    """Check what needs no network; InputError naming the first bad value (its ``param``
    is the field). Layer and channel indices are checked against the network by the job."""
    if not isinstance(params.model, str) or not params.model.strip():
        raise InputError(
            "no model chosen: give a backbone, a library model or a .keras file", param="model"
        )
    if not isinstance(params.weights, str) or not params.weights.strip():
        raise InputError(
            f"weights {params.weights!r}: give imagenet, random or a file path", param="weights"
        )
    if params.objective not in OBJECTIVES:
        raise InputError(
            f"objective {params.objective!r}: choose one of {', '.join(OBJECTIVES)}",
            param="objective",
        )
    if not isinstance(params.layer, str) or (
        not params.layer.strip() and params.objective != "class"
    ):
        raise InputError("no layer chosen: give the layer whose channels to show", param="layer")
    channels = params.channels
    if not isinstance(channels, tuple):
        raise InputError("channels must be a list of indices", param="channels")
    if len(channels) > MAX_CHANNELS:
        raise InputError(
            f"{len(channels)} channels are too many for one grid: at most {MAX_CHANNELS}",
            param="channels",
        )
    for channel in channels:
        if not _is_int(channel) or channel < 0:
            raise InputError(
                f"channel {channel!r} must be a whole number of 0 or more", param="channels"
            )
    if len(set(channels)) != len(channels):
        raise InputError("a channel is listed twice: give each channel once", param="channels")
    _whole(params, "size", MIN_SIZE, MAX_SIZE, "image size")
    _whole(params, "steps", 1, MAX_STEPS, "steps")
    _number(params, "learning_rate", 0.0, MAX_LEARNING_RATE, "learning rate")
    if float(params.learning_rate) <= 0:
        raise InputError(
            "learning rate 0 changes nothing: give a number above 0", param="learning_rate"
        )
    _whole(params, "jitter", 0, MAX_JITTER, "jitter")
    _number(params, "scale", 0.0, MAX_SCALE, "scale change")
    _number(params, "rotation", 0.0, MAX_ROTATION, "rotation")
    for name in ("decorrelate", "fourier"):
        if not isinstance(getattr(params, name), bool):
            raise InputError(f"{name} must be true or false", param=name)
    _number(params, "diversity", 0.0, MAX_DIVERSITY, "diversity weight")
    _whole(params, "images_per_channel", 1, MAX_IMAGES_PER_CHANNEL, "images per channel")
    _whole(params, "batch", 1, MAX_BATCH, "batch")
    _whole(params, "seed", 0, MAX_SEED, "seed")
    if params.examples_folder is not None and not isinstance(params.examples_folder, str):
        raise InputError("the examples folder must be a path", param="examples_folder")
    _whole(params, "top", 1, MAX_TOP, "number of examples")


def parse_channels(text: str, limit: int = MAX_CHANNELS) -> tuple[int, ...]:
    """``"0-15"``, ``"3,7,10-12"`` or ``"5"`` -> channel indices in the order given;
    InputError (``param="channels"``) for anything else."""
    indices: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        first, dash, last = part.partition("-")
        try:
            low = int(first)
            high = int(last) if dash else low
        except ValueError:
            raise InputError(
                f"channels {text!r}: {part!r} is not an index or a range such as 0-15",
                param="channels",
            ) from None
        if low < 0 or high < low:
            raise InputError(
                f"channels {text!r}: the range {part!r} is empty or negative", param="channels"
            )
        if len(indices) + high - low + 1 > limit:
            raise InputError(
                f"channels {text!r}: at most {limit} channels in one grid", param="channels"
            )
        indices.extend(range(low, high + 1))
    if not indices:
        raise InputError(
            f"channels {text!r}: give an index or a range such as 0-15", param="channels"
        )
    if len(set(indices)) != len(indices):
        raise InputError(f"channels {text!r}: a channel is listed twice", param="channels")
    return tuple(indices)


def format_channels(channels: Sequence[int]) -> str:
    """The inverse of :func:`parse_channels`: ``(0, 1, 2, 5)`` -> ``"0-2,5"``."""
    parts: list[str] = []
    start = previous = None
    for index in list(channels) + [None]:
        if start is not None and (index is None or index != previous + 1):
            parts.append(str(start) if start == previous else f"{start}-{previous}")
            start = None
        if index is not None and start is None:
            start = index
        previous = index
    return ",".join(parts)


# ------------------------------------------------------------------------------ metadata


def params_to_dict(params: VisualizeParams) -> dict[str, Any]:
    """JSON-ready dict of the parameters (round-trips through :func:`params_from_dict`)."""
    data = asdict(params)
    data["channels"] = [int(c) for c in params.channels]
    return data


def params_from_dict(data: Mapping[str, Any]) -> VisualizeParams:
    """Parameters from :func:`params_to_dict` output (e.g. read back from a saved grid).
    Unknown keys are ignored; InputError for unusable values."""
    if not isinstance(data, Mapping):
        raise InputError("saved visualisation parameters are not a dictionary")
    known = {f.name for f in fields(VisualizeParams)}
    values = {k: v for k, v in data.items() if k in known}
    try:
        params = VisualizeParams(**values)
    except (TypeError, ValueError) as error:
        raise InputError(f"saved visualisation parameters are not usable: {error}") from error
    validate_params(params)
    return params


def visualize_metadata(
    params: VisualizeParams,
    *,
    model_label: str,
    untrained: bool,
    tile_size: tuple[int, int],
    records: Sequence[Mapping[str, Any]] = (),
    skipped: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """What a saved grid carries (``image_saving.save_image(..., params=...)``): the
    parameters, the model's label, whether it was untrained, the tile size (width,
    height), one record per channel (channel, objective, box) and the example files that
    could not be read, so the grid can be redone and its tiles found again."""
    from cnnstudio import __version__

    return {
        "job": "visualize",
        "app": f"cnnstudio {__version__}",
        "params": params_to_dict(params),
        "model_label": model_label,
        "untrained": bool(untrained),
        "tile_size": [int(tile_size[0]), int(tile_size[1])],
        "channels": [dict(record) for record in records],
        "skipped": [[str(path), str(reason)] for path, reason in skipped],
    }


def params_from_metadata(meta: Mapping[str, Any] | None) -> VisualizeParams | None:
    """The parameters embedded by :func:`visualize_metadata`, or None when ``meta`` is
    not a visualisation's."""
    if not meta or meta.get("job") != "visualize" or "params" not in meta:
        return None
    return params_from_dict(meta["params"])
