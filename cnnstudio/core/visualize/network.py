"""The network a visualisation looks into, and what it needs around it.

Any image model works: an ImageNet backbone (``inception_v3``, ``vgg19``,
``mobilenet_v2`` with imagenet/random/file weights), a library model by name, or a
``.keras`` file (both loaded with the library's safe loader). A :class:`Network` holds
the model with its input conventions: the preprocessing from 0..255 RGB (a backbone's
own, or a library model's sidecar: ``"none"`` or a backbone name), a fixed input size
where the model has one (tiles then take that size), and grey input (1 channel: the
optimised RGB image is given as its luminance). Layer paths of nested transfer models
(``"mobilenetv2_1.00_96/Conv_1"``) go through :mod:`cnnstudio.core.layers`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from cnnstudio.core import backbones, layers, library
from cnnstudio.core.errors import InputError
from cnnstudio.core.events import DownloadProgress
from cnnstudio.core.faststyle.models import check_not_style_model
from cnnstudio.core.visualize.params import VisualizeParams
from cnnstudio.core.weights import ensure_weights_events, is_untrained, weights_label

#: smallest tile for a model whose input size is free (a few poolings deep)
FREE_SIZE_MINIMUM = 32
#: ITU-R 601 luma, what Pillow's convert("L") gives: the grey of grey datasets
LUMA = (0.299, 0.587, 0.114)
#: layers named in an "unknown layer" message before "..."
LISTED_LAYERS = 40


@dataclass
class Network:
    """A model and its input conventions. ``preprocess`` maps RGB floats in 0..255 to
    the model's input (numpy or tensors); ``preprocessing`` names it (``"none"`` or a
    backbone) for caches; ``fixed_size`` is (height, width) when the model's input size
    is fixed."""

    model: Any
    label: str  # for lists and saved grids: "InceptionV3, ImageNet", "digits"
    name: str = ""  # for messages: "InceptionV3", "digits" (default: the label)
    preprocessing: str = "none"
    fixed_size: tuple[int, int] | None = None
    grayscale: bool = False
    min_size: int = FREE_SIZE_MINIMUM
    untrained: bool = False
    suggested_layers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.name = self.name or self.label

    def preprocess(self, pixels: Any) -> Any:
        """RGB floats in 0..255 (..., 3) -> the model's input (grey models: one channel)."""
        if self.grayscale:
            pixels = tf.tensordot(tf.cast(pixels, tf.float32), tf.constant(LUMA), axes=1)[..., None]
        if self.preprocessing != "none":
            return backbones.preprocess(self.preprocessing, pixels)
        return pixels


def is_backbone(spec: str) -> bool:
    return str(spec).strip().lower() in backbones.BACKBONE_NAMES


def weights_events(params: VisualizeParams) -> Generator[DownloadProgress, None, None]:
    """Download a backbone's missing ImageNet weights first, as events (nothing for other
    models or weights already here)."""
    if is_backbone(params.model):
        yield from ensure_weights_events(
            backbones.get_backbone(params.model),
            params.weights,
            include_top=params.objective == "class",
        )


def load_network(params: VisualizeParams) -> Network:
    """The network ``params.model`` names. The ``class`` objective needs a backbone's
    classifier top (and its fixed input size)."""
    spec = params.model.strip()
    if is_backbone(spec):
        info = backbones.get_backbone(spec)
        model = backbones.build_backbone(
            info.name, params.weights, include_top=params.objective == "class"
        )
        return Network(
            model=model,
            label=f"{info.label}, {weights_label(params.weights)}",
            name=info.label,
            preprocessing=info.name,
            fixed_size=_fixed_size(model),
            min_size=info.min_size,
            untrained=is_untrained(params.weights),
            suggested_layers=list(info.conv_layers),
        )
    path = Path(os.path.expanduser(spec))
    if path.exists():
        check_not_style_model(path.stem, _sidecar(path), "have its features visualised")
        return network_from_model(library.load_model_file(path), path.stem, _sidecar(path))
    for entry in library.list_models():
        if entry.name == spec:
            check_not_style_model(entry.name, entry.meta, "have its features visualised")
            return network_from_model(library.load_entry(entry), entry.name, dict(entry.meta))
    if path.suffix.lower() in (library.MODEL_SUFFIX,) + library.LEGACY_SUFFIXES:
        raise InputError(f"model file not found: {path}", param="model")
    names = list(backbones.BACKBONE_NAMES) + [entry.name for entry in library.list_models()]
    raise InputError(
        f"unknown model '{spec}': give a backbone name, a .keras file or a library model "
        f"({', '.join(names)})",
        param="model",
    )


def _sidecar(path: Path) -> dict[str, Any]:
    return library.read_sidecar(path)


def network_from_model(model: Any, label: str, meta: dict[str, Any] | None = None) -> Network:
    """A :class:`Network` for a Keras model (e.g. one Classify has loaded); ``meta`` is
    its sidecar (its ``preprocessing``: ``"none"`` or a backbone name)."""
    meta = meta or {}
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[-1] not in (1, 3):
        shapes = [tuple(i.shape) for i in inputs]
        raise InputError(
            f"{label} does not take one image (its inputs: {shapes}); choose an image model",
            param="model",
        )
    preprocessing = str(meta.get("preprocessing") or "none")
    if preprocessing != "none" and preprocessing not in backbones.BACKBONE_NAMES:
        raise InputError(
            f"{label}: unknown preprocessing '{preprocessing}' in its sidecar (expected "
            f"'none' or one of {', '.join(backbones.BACKBONE_NAMES)})",
            param="model",
        )
    fixed = _fixed_size(model)
    return Network(
        model=model,
        label=label,
        preprocessing=preprocessing,
        fixed_size=fixed,
        grayscale=int(inputs[0].shape[-1]) == 1,
        min_size=min(fixed) if fixed else FREE_SIZE_MINIMUM,
        suggested_layers=layers.conv_layer_paths(model),
    )


def _fixed_size(model: Any) -> tuple[int, int] | None:
    height, width = tuple(model.inputs[0].shape)[1:3]
    return (int(height), int(width)) if height is not None and width is not None else None


# ---------------------------------------------------------------------------------- checks


def _layer_choices(net: Network) -> str:
    every = layers.conv_layer_paths(net.model)
    shown = net.suggested_layers or every
    text = ", ".join(shown[:LISTED_LAYERS])
    if len(shown) > LISTED_LAYERS:
        text += ", ..."
    if len(every) > len(shown):
        text += f" (or any of its {len(every)} layers with feature maps)"
    return text


def resolve_layer(net: Network, params: VisualizeParams) -> str:
    """The layer to look at: ``params.layer``, or for the class objective without one,
    the last convolution (used by the diversity term only)."""
    layer = params.layer.strip()
    if layer:
        return layer
    try:
        return layers.find_last_conv_layer(net.model)
    except InputError:  # a model without convolutions: its last layer serves
        return list(layers.walk(net.model))[-1][0]


def layer_width(net: Network, layer: str) -> int:
    """The number of channels of ``layer``; InputError listing the model's layers with
    feature maps when it has no such layer, or when the layer's output is not a map
    (batch, height, width, channels) or a vector (batch, units)."""
    try:
        found = layers.layer_at(net.model, layer)
    except InputError:
        raise InputError(
            f"no layer '{layer}' in {net.name}; its layers include: {_layer_choices(net)}",
            param="layer",
        ) from None
    rank = layers.output_rank(found)
    if rank not in (2, 4):
        raise InputError(
            f"layer '{layer}' of {net.name} has no channels to show (output rank {rank}); "
            f"choose one of: {_layer_choices(net)}",
            param="layer",
        )
    return int(found.output.shape[-1])


def class_count(net: Network) -> int:
    """Classes of the model's output (a single sigmoid unit: two)."""
    shape = tuple(net.model.outputs[0].shape)
    if len(shape) != 2:
        raise InputError(
            f"{net.name} is not a classifier (output shape {shape}): the class objective "
            "needs a (batch, classes) output",
            param="objective",
        )
    return 2 if int(shape[1] or 1) == 1 else int(shape[1])


def check_channels(net: Network, layer: str, params: VisualizeParams) -> VisualizeParams:
    """Check every channel index against the layer (or the classes); InputError giving
    the count when one is out of range. Returns ``params`` with the default channels
    filled in when it names none."""
    width = layer_width(net, layer)
    if params.objective == "class":
        count, what, where = class_count(net), "classes", f"model {net.name}"
    else:
        count, what, where = width, "channels", f"layer '{layer}'"
    wrong = [c for c in params.channels if c >= count]
    if wrong:
        raise InputError(
            f"channel {wrong[0]} is out of range: {where} has {count} {what} (0..{count - 1})",
            param="channels",
            count=count,
        )
    return params.with_channels(count)


def tile_size(net: Network, params: VisualizeParams) -> tuple[int, int]:
    """(height, width) of each image: the model's own input size where it is fixed,
    else ``params.size`` square; InputError below the network's minimum."""
    if net.fixed_size is not None:
        return net.fixed_size
    if params.size < net.min_size:
        raise InputError(
            f"image size {params.size} is below {net.name}'s minimum input of "
            f"{net.min_size} pixels",
            param="size",
        )
    return params.size, params.size


# ----------------------------------------------------------------------------- features


def features_function(net: Network, layer: str, objective: str) -> Callable[[Any], tuple]:
    """A function from model inputs to ``(activations of layer, scores)``: scores are the
    class scores before softmax for the class objective (a single sigmoid unit becomes
    two scores, -z and z, as in Grad-CAM), else the activations again."""
    if objective == "class":
        model = layers.scores_model(net.model, [layer])
    else:
        model = layers.layer_outputs_model(net.model, [layer])

    def features(x: Any) -> tuple:
        outputs = model(x, training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        activations = outputs[0]
        if objective != "class":
            return activations, activations
        scores = keras.ops.cast(
            keras.ops.reshape(outputs[1], (keras.ops.shape(x)[0], -1)), "float32"
        )
        if scores.shape[-1] == 1:
            scores = keras.ops.concatenate([-scores, scores], axis=-1)
        return activations, scores

    return features
