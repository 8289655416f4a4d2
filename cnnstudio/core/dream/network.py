"""What a dream dreams with: a pretrained backbone, a model of the library (or any
``.keras`` file), or a Keras model in memory.

A :class:`Network` bundles the model with what the dream needs around it: how 0..255
pixels become its inputs and back, its smallest (or fixed) input size, whether it takes
grey images (it then sees the mean of the three channels: the picture stays RGB), and the
layers worth suggesting when a name is wrong.

Library models are loaded exactly as Classify loads them: ``library.load_model_file``
(``safe_mode=True``, files carrying code refused), preprocessing from the sidecar, and
layers named by their paths, nested models included (``"base/block_6_expand_relu"``,
:mod:`cnnstudio.core.layers`). Loaded models are cached by file, so the Dream tab's layer
list and the dream that follows load a model once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnstudio.core import backbones, layers, library
from cnnstudio.core.dream.params import DreamParams, identity, model_default_layers
from cnnstudio.core.errors import InputError
from cnnstudio.core.faststyle.models import check_not_style_model

#: smallest side for a custom model whose input size is free (a few poolings deep)
CUSTOM_MODEL_MIN_SIZE = 32

#: library models kept loaded (the Dream tab switches between a few)
_MAX_CACHED_MODELS = 2


@dataclass
class Network:
    """A model to dream with and what the dream needs around it."""

    model: Any
    label: str  # for messages: "InceptionV3", "model flowers"
    preprocess: Callable[[Any], Any]  # 0..255 RGB floats -> the model's input units
    deprocess: Callable[[Any], Any]  # and back
    min_size: int  # smallest side an octave or a tile may have
    fixed_size: tuple[int, int] | None  # (height, width) of a model that takes one size
    grayscale: bool  # the model takes one channel
    suggested_layers: list[str]  # what an error about a layer name offers instead


def backbone_network(params: DreamParams) -> Network:
    """The pretrained backbone of ``params`` (built with its weights, without a top)."""
    info = backbones.get_backbone(params.backbone)
    model = backbones.build_backbone(info.name, params.weights, include_top=False)
    name = info.name
    return Network(
        model,
        info.label,
        lambda x: backbones.preprocess(name, x),
        lambda x: backbones.deprocess(name, x),
        info.min_size,
        None,
        False,
        list(info.dream_layers),
    )


def model_network(
    model: Any,
    preprocess: Callable[[Any], Any] | None = None,
    deprocess: Callable[[Any], Any] | None = None,
) -> Network:
    """A Keras model taking images; ``preprocess``/``deprocess`` map 0..255 RGB floats to
    its inputs and back (default: it takes 0..255 pixels)."""
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
    return Network(
        model,
        f"model {model.name}",
        preprocess or identity,
        deprocess or identity,
        min(fixed) if fixed else CUSTOM_MODEL_MIN_SIZE,
        fixed,
        shape[-1] == 1,
        layers.dream_layer_paths(model),
    )


# ------------------------------------------------------------------- library models


def find_library_model(spec: str | os.PathLike[str] | library.ModelEntry) -> library.ModelEntry:
    """The library model or ``.keras`` file ``spec`` names (nothing is loaded yet);
    InputError naming the library's models when it names none."""
    entry = library.resolve_model(spec)
    if entry is not None:
        check_not_style_model(entry.name, entry.meta, "be dreamed with")
        return entry
    names = ", ".join(e.name for e in library.list_models()) or "the library is empty"
    raise InputError(
        f"unknown model '{os.fspath(spec)}': give the name of a library model or a .keras "
        f"file ({names})"
    )


_models: dict[str, tuple[tuple[float, int], Any]] = {}
_models_lock = threading.Lock()


def load_library_model(path: str | os.PathLike[str]) -> Any:
    """The model in the ``.keras`` file ``path``, loaded safely once and reused until the
    file changes. Keeps the most recent few."""
    key = str(Path(path).expanduser().resolve())
    try:
        stat = os.stat(key)
        version = (stat.st_mtime, stat.st_size)
    except OSError:
        version = None  # the loader says what is wrong with it
    with _models_lock:
        cached = _models.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
    model = library.load_model_file(key)
    with _models_lock:
        _models.pop(key, None)
        _models[key] = (version, model)
        while len(_models) > _MAX_CACHED_MODELS:
            _models.pop(next(iter(_models)))
    return model


def clear_model_cache() -> None:
    """Forget the loaded library models."""
    with _models_lock:
        _models.clear()


def library_network(spec: str | os.PathLike[str] | library.ModelEntry) -> Network:
    """A library model (or a ``.keras`` file) to dream with: its input convention from its
    sidecar ("none": it takes 0..255 pixels and rescales itself; a backbone name: that
    backbone's preprocessing)."""
    entry = find_library_model(spec)
    preprocessing = entry.preprocessing
    if preprocessing != "none" and preprocessing not in backbones.BACKBONE_NAMES:
        raise InputError(
            f"{entry.path.name}: unknown preprocessing '{preprocessing}' in its sidecar "
            f"(expected 'none' or one of {', '.join(backbones.BACKBONE_NAMES)})"
        )
    model = load_library_model(entry.path)
    if preprocessing == "none":
        net = model_network(model)
    else:
        net = model_network(
            model,
            lambda x: backbones.preprocess(preprocessing, x),
            lambda x: backbones.deprocess(preprocessing, x),
        )
    net.label = f"model {entry.name}"
    return net


def library_model_layers(
    spec: str | os.PathLike[str] | library.ModelEntry,
) -> tuple[list[str], dict[str, int]]:
    """The layers of a library model a dream can amplify, in network order (nested ones
    as "outer/inner"), and the number of channels of each (a channel picker's range)."""
    model = load_library_model(find_library_model(spec).path)
    names = layers.dream_layer_paths(model)
    return names, {name: layers.layer_channels(model, name) for name in names}


def library_default_layers(spec: str | os.PathLike[str] | library.ModelEntry) -> dict[str, float]:
    """The layer weights a dream on a library model starts from (its deepest dreamable
    layer: :func:`cnnstudio.core.dream.params.model_default_layers`)."""
    names, _ = library_model_layers(spec)
    return model_default_layers(names)


# ------------------------------------------------------------------------- choosing


def network_for(
    params: DreamParams,
    model: Any = None,
    preprocess: Callable[[Any], Any] | None = None,
    deprocess: Callable[[Any], Any] | None = None,
) -> Network:
    """What to dream with: the backbone of ``params`` when ``model`` is None; a library
    model when it is a name, a path or a library entry; else ``model`` itself, a Keras
    model (with ``preprocess``/``deprocess``, see :func:`model_network`)."""
    if model is None:
        return backbone_network(params)
    if isinstance(model, (str, os.PathLike, library.ModelEntry)):
        return library_network(model)
    return model_network(model, preprocess, deprocess)


def check_layers(net: Network, params: DreamParams) -> tuple[list[str], int | None]:
    """The objective's layer names, checked against ``net``, and the channel index in
    channel mode (else None); InputError naming the valid choices."""
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
    count = layers.layer_channels(net.model, layer)
    if index >= count:
        raise InputError(
            f"channel {index} is out of range for layer {layer!r}: it has {count} channels "
            f"(0..{count - 1})"
        )
    return names, index
