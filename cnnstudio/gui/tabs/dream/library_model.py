"""The Dream tab's worker-side functions: reading a library model's layers and dreaming.

Dreaming with a library model lives in the core (``core.dream.network`` loads it safely
and caches it, ``core.dream.job.dream(model=path)`` dreams with it), shared with
``cnnstudio dream --model``. Both modules import TensorFlow, so they are imported here,
inside the worker, never when the window opens.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

#: the backbone box's item data for a library model: this prefix and the .keras path
LIBRARY_PREFIX = "library:"


def library_layers(path: str) -> tuple[list[str], dict[str, int]]:
    """Worker: the layers of a library model that have a spatial output, and the number
    of channels of each (the channel picker's range). The model stays loaded for the
    dream (core.dream.network caches it)."""
    from cnnstudio.core.dream import network

    return network.library_model_layers(path)


def dream_job(*args: Any, **kwargs: Any) -> Generator[object, None, Any]:
    """Worker job: ``core.dream.job.dream`` (``model=`` a library model's path, or None
    for the backbone of the params)."""
    from cnnstudio.core.dream import job

    return (yield from job.dream(*args, **kwargs))
