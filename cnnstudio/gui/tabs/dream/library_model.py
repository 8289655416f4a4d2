"""Dreaming with a model of the library instead of a backbone: the worker-side functions.

The tab's form lists the library's models next to the backbones; picking one reads its
dreamable layers on a worker (:func:`library_layers`), and the tab's job is then
:func:`dream_with_library_model`. Loaded models are cached (two at most) so that reading
the layers and dreaming load the file once.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from cnnstudio.core import dream as dream_core
from cnnstudio.core.backbones import BACKBONE_NAMES
from cnnstudio.core.dream import DreamParams

#: the backbone box's item data for a library model: this prefix and the .keras path
LIBRARY_PREFIX = "library:"

_model_cache: dict[str, tuple[float, object]] = {}
_model_cache_lock = threading.Lock()


def _library_model(path: str):
    """Worker: the library model at ``path``, loaded safely once (reloaded if the file
    changed). Keeps the two most recent models."""
    from cnnstudio.core import library

    mtime = os.path.getmtime(path)
    with _model_cache_lock:
        cached = _model_cache.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
    model = library.load_model_file(path)
    with _model_cache_lock:
        _model_cache[path] = (mtime, model)
        while len(_model_cache) > 2:
            _model_cache.pop(next(iter(_model_cache)))
    return model


def library_layers(path: str) -> tuple[list[str], dict[str, int]]:
    """Worker: the layers of a library model that have a spatial output, and the number
    of channels of each (the channel picker's range)."""
    model = _library_model(path)
    names = dream_core.dreamable_layers(model)
    return names, {name: dream_core.layer_channels(model, name) for name in names}


def _library_transforms(preprocessing: str):
    """(preprocess, deprocess) for a library model: "none" = it takes 0..255 pixels and
    rescales itself; a backbone name = that backbone's input convention."""
    from cnnstudio.core import backbones

    if preprocessing in BACKBONE_NAMES:
        return (
            lambda x: backbones.preprocess(preprocessing, x),
            lambda x: backbones.deprocess(preprocessing, x),
        )
    return None, None


def dream_with_library_model(
    image: np.ndarray | None,
    params: DreamParams,
    path: str,
    preprocessing: str = "none",
    noise_size: tuple[int, int] | None = None,
):
    """Worker job: ``dream`` with a model of the library instead of a backbone."""
    model = _library_model(path)
    preprocess, deprocess = _library_transforms(preprocessing)
    result = yield from dream_core.dream(
        image,
        params,
        noise_size=noise_size,
        model=model,
        preprocess=preprocess,
        deprocess=deprocess,
    )
    return result
