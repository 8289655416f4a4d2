"""The view's worker-side functions: reading a model's layers, running the job, drawing
a channel's dataset examples.

The core's visualisation modules import TensorFlow at their top, so they are imported
here, inside the worker, never when the window opens.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core.errors import InputError

#: a backbone has 1000 classes (ImageNet), known without building it
IMAGENET_CLASSES = 1000
#: longest side of an example as the view shows it
EXAMPLE_SIDE = 256
#: model files kept loaded: the layer list and the next runs use the same model, so its
#: compiled step is reused (the core caches steps per model; backbones are cached there)
KEPT_MODELS = 2

_lock = threading.Lock()
_networks: dict[tuple, Any] = {}


@dataclass(frozen=True)
class ModelLayers:
    """What the form lists for a model: its layers with feature maps and the channels of
    each (network order), the ones worth looking at first, its fixed input size
    ((height, width) or None) and its number of classes (None: not a classifier)."""

    model: str
    label: str
    channels: dict[str, int] = field(default_factory=dict)
    suggested: tuple[str, ...] = ()
    fixed_size: tuple[int, int] | None = None
    classes: int | None = None


def read_layers(model: str, weights: str) -> ModelLayers:
    """Worker: the layers of ``model`` (a backbone is built untrained: its shapes are
    the same, and no weights are downloaded for a list)."""
    from cnnstudio.core import layers
    from cnnstudio.core.visualize import network
    from cnnstudio.core.visualize.params import VisualizeParams

    backbone = network.is_backbone(model)
    params = VisualizeParams(model=model, weights="random" if backbone else weights or "random")
    net = loaded_network(params) or network.load_network(params)
    paths = layers.conv_layer_paths(net.model)
    channels = {path: layers.layer_channels(net.model, path) for path in paths}
    if backbone:
        classes: int | None = IMAGENET_CLASSES
    else:
        try:
            classes = network.class_count(net)
        except InputError:
            classes = None
    suggested = [p for p in net.suggested_layers if p in channels] or paths
    return ModelLayers(
        model=model,
        label=net.name,
        channels=channels,
        suggested=tuple(suggested),
        fixed_size=net.fixed_size,
        classes=classes,
    )


def visualize_job(params: Any) -> Generator[object, None, Any]:
    """Worker job: ``core.visualize.job.visualize`` (a model file loaded once)."""
    from cnnstudio.core.visualize import job

    return (yield from job.visualize(params, net=loaded_network(params)))


def loaded_network(params: Any) -> Any | None:
    """Worker: the network of a model file, loaded once while the file is unchanged (the
    last :data:`KEPT_MODELS`); None for a backbone (the job builds it from the core's
    cache, with its weights download) or a name that is not a file."""
    from cnnstudio.core.visualize import network

    path = Path(str(params.model)).expanduser()
    if network.is_backbone(params.model) or not path.is_file():
        return None
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _lock:
        net = _networks.get(key)
    if net is None:
        net = network.load_network(params)
        with _lock:
            while len(_networks) >= KEPT_MODELS:
                _networks.pop(next(iter(_networks)))
            _networks[key] = net
    return net


def example_pictures(examples: Sequence[Any]) -> list[tuple[Any, np.ndarray | None, str]]:
    """Worker (no TensorFlow): each example's file shrunk with its region outlined, as
    (example, picture or None, why not)."""
    from cnnstudio.core.visualize.pictures import example_picture

    pictures = []
    for example in examples:
        try:
            pictures.append((example, example_picture(example, EXAMPLE_SIDE), ""))
        except (InputError, OSError) as error:
            pictures.append((example, None, getattr(error, "reason", str(error))))
    return pictures
