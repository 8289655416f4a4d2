"""Reading a weights file: what it holds, whether it fits a network, loading it.

A weights file comes from outside (a download, a colleague, a path typed by hand), so it
is untrusted: it is opened as a regular file only (:mod:`cnnstudio.core.files`), its
layout is read with h5py before anything is built, and a file that cannot fit is refused
from that layout alone (the classifier top, the number of weight arrays), before a slow
build. Keras then loads it; where Keras only warns that parts found nothing to load, we
refuse too. Messages name the file, what it looks like, and what the network needs.

Like :mod:`cnnstudio.core.weights`, this module takes the network's facts as an argument
(:class:`FitsNetwork`, which :class:`cnnstudio.core.backbones.BackboneInfo` provides).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cnnstudio.core import files
from cnnstudio.core.errors import InputError, Remedy


class FitsNetwork(Protocol):
    """What checking a file against a network needs to know about the network."""

    name: str
    label: str

    def weights_file(self, include_top: bool) -> str: ...
    def weights_count(self, include_top: bool) -> int: ...


@dataclass(frozen=True)
class WeightsFileFacts:
    """What a weights file says about itself, read with h5py before any loading."""

    path: Path
    keras3: bool  # True: Keras 3 ``.weights.h5`` layout; False: legacy Keras ``.h5``
    has_top: bool  # contains a classifier (Dense) top
    guess: str | None  # the backbone it most likely belongs to (a registry name)
    array_count: int  # number of weight arrays stored


#: How a file shows the network it was saved from. Legacy files name their layers
#: (a layer only that network has); Keras 3 files name entries by layer class, so there
#: the first class in this order that the file holds decides.
_LEGACY_SIGNS = (
    ("inception_v3", ("mixed0",)),
    ("vgg19", ("block1_conv1",)),
    ("mobilenet_v2", ("Conv1", "expanded_conv_project")),
)
_KERAS3_SIGNS = (
    ("mobilenet_v2", "depthwise_conv2d"),  # it has batch normalisation too: look first
    ("inception_v3", "batch_normalization"),
    ("vgg19", "conv2d"),
)
#: the labels of the networks above, for messages (the registry's labels; a test pins them)
GUESS_LABELS = {"inception_v3": "InceptionV3", "vgg19": "VGG19", "mobilenet_v2": "MobileNetV2"}


def inspect_weights_file(path: str | os.PathLike) -> WeightsFileFacts:
    """Read the layout of an HDF5 weights file. InputError when it is none."""
    import h5py

    file_path = Path(path)
    if not os.path.lexists(file_path):
        raise InputError(
            f"weights file {file_path} does not exist",
            param="weights",
            remedy=Remedy.CHOOSE_WEIGHTS,
            path=str(file_path),
        )
    if not file_path.name.lower().endswith(".h5"):
        raise InputError(
            f"weights file {file_path.name} is not a .weights.h5 or .h5 file: give the "
            "Keras weights file for the network",
            param="weights",
            path=str(file_path),
        )
    # a regular file only (not a FIFO, a device or a folder), checked on the open file;
    # h5py reads it through that file object
    unreadable = None
    with files.open_regular(file_path, what="weights file", param="weights") as stream:
        try:
            with h5py.File(stream, "r") as handle:
                facts = _facts_from(file_path, handle)
        except OSError as error:
            # only its text leaves this block: h5py's frames in its traceback hold the
            # file object, and freeing them after the file (at exit) crashes h5py
            unreadable = str(error)
    if unreadable is not None:
        raise InputError(
            f"weights file {file_path.name} is not a readable HDF5 file ({unreadable}): give a "
            "Keras .weights.h5/.h5 weights file",
            param="weights",
            path=str(file_path),
        )
    if facts is None:
        raise InputError(
            f"weights file {file_path.name} holds no Keras layer weights: give a Keras "
            ".weights.h5/.h5 weights file",
            param="weights",
            path=str(file_path),
        )
    return facts


def batch_norm_trained(path: str | os.PathLike) -> bool | None:
    """Whether the batch-normalisation statistics in a (legacy ``.h5``) weights file were
    learned: a network that never saw data keeps Keras' initial moving means of exactly 0.
    None when the file holds no such statistics. The tell-tale of random weights saved in
    the official file's layout, where no checksum is published to tell them apart."""
    import h5py
    import numpy as np

    found: list[bool] = []

    def visit(name: str, item: Any) -> None:
        # the legacy layout names it (".../moving_mean:0"); Keras 3 numbers a batch norm's
        # variables: gamma, beta, moving mean, moving variance (".../vars/2")
        legacy = "moving_mean" in name.rsplit("/", 1)[-1]
        keras3 = re.search(r"batch_normalization[^/]*/vars/2$", name) is not None
        if isinstance(item, h5py.Dataset) and (legacy or keras3):
            found.append(bool(np.any(np.asarray(item[()]) != 0)))

    with files.open_regular(Path(path), what="weights file", param="weights") as stream:
        try:
            with h5py.File(stream, "r") as handle:
                handle.visititems(visit)
        except OSError:
            return None
    return any(found) if found else None


def _facts_from(file_path: Path, handle: Any) -> WeightsFileFacts | None:
    group: Any = handle
    if "layer_names" not in group.attrs and "model_weights" in group:
        group = group["model_weights"]  # a whole legacy model saved as .h5
    if "layer_names" in group.attrs:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["layer_names"]]
        return WeightsFileFacts(
            file_path,
            keras3=False,
            has_top="predictions" in names or "fc1" in names,
            guess=_guess_from_layer_names(names),
            array_count=sum(_count_arrays(group[n]) for n in names if n in group),
        )
    if "layers" in handle:
        keys = list(handle["layers"].keys())
        return WeightsFileFacts(
            file_path,
            keras3=True,
            has_top=any(key.split("_")[0] == "dense" for key in keys),
            guess=_guess_from_class_keys(keys),
            array_count=_count_arrays(handle["layers"]),
        )
    return None


def _count_arrays(group: Any) -> int:
    import h5py

    found = [0]

    def visit(_name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            found[0] += 1

    group.visititems(visit)
    return found[0]


def _guess_from_layer_names(names: Sequence[str]) -> str | None:
    name_set = set(names)
    for network, signs in _LEGACY_SIGNS:
        if name_set.intersection(signs):
            return network
    return None


def _guess_from_class_keys(keys: Sequence[str]) -> str | None:
    for network, prefix in _KERAS3_SIGNS:
        if any(key.startswith(prefix) for key in keys):
            return network
    return None


def top_words(has_top: bool) -> str:
    """How messages say whether a file or a network has the classifier top."""
    return "with the classifier top" if has_top else "without the classifier top (notop)"


def _looks_like(facts: WeightsFileFacts, network: FitsNetwork) -> str:
    if facts.guess and facts.guess != network.name:
        return f" (it looks like {GUESS_LABELS[facts.guess]} weights)"
    return ""


def check_file_fits(facts: WeightsFileFacts, network: FitsNetwork, include_top: bool) -> None:
    """Refuse a file that cannot fit, from its layout alone (before any slow build)."""
    name = facts.path.name
    if facts.has_top != include_top:
        needed = network.weights_file(include_top)
        raise InputError(
            f"weights file {name} is {top_words(facts.has_top)}, but this job needs "
            f"{network.label} {top_words(include_top)}: use a file like {needed}",
            param="weights",
            path=str(facts.path),
        )
    expected = network.weights_count(include_top)
    if facts.array_count != expected:
        raise InputError(
            f"weights file {name} does not fit {network.label} {top_words(include_top)}"
            f"{_looks_like(facts, network)}: it holds {facts.array_count} weight arrays, the "
            f"network has {expected}; give the weights of the same architecture",
            param="weights",
            path=str(facts.path),
        )


def load_weights_file(model: Any, network: FitsNetwork, include_top: bool, path: Path) -> None:
    """Load ``path`` into ``model`` (``network``'s architecture); InputError if it does not
    fit."""
    facts = inspect_weights_file(path)
    check_file_fits(facts, network, include_top)
    # Keras picks the loader by suffix; give it a name that matches the file's real layout.
    wanted_suffix = ".weights.h5" if facts.keras3 else ".h5"
    suffix_ok = path.name.endswith(".weights.h5") == facts.keras3
    try:
        # Keras 3 only warns when parts of a model find nothing to load and keep their
        # random weights; for us that is a file that does not fit, so warnings are errors.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if suffix_ok:
                model.load_weights(str(path))
            else:
                with tempfile.TemporaryDirectory() as folder:
                    alias = Path(folder) / f"weights{wanted_suffix}"
                    try:
                        os.symlink(path.resolve(), alias)
                    except OSError:  # no symlinks (Windows without privilege): copy
                        with files.open_regular(path, what="weights file") as source:
                            with open(alias, "wb") as target:
                                shutil.copyfileobj(source, target, 1 << 20)
                    model.load_weights(str(alias))
        unloaded = [
            str(w.message)
            for w in caught
            if any(word in str(w.message) for word in _NOT_LOADED_WORDS)
        ]
        if unloaded:
            raise ValueError(unloaded[0])
    except (ValueError, KeyError, TypeError, OSError) as error:
        raise InputError(
            f"weights file {path.name} does not fit {network.label} {top_words(include_top)}"
            f"{_looks_like(facts, network)}: {_error_detail(error)}; give the weights of the "
            "same architecture",
            param="weights",
            path=str(path),
        ) from error


_NOT_LOADED_WORDS = ("Skipping", "could not be loaded", "freshly-initialized")


def _error_detail(error: BaseException) -> str:
    """The most telling line of a (often multi-line) Keras loading error."""
    text = str(error)
    shapes = re.search(r"variable\.shape=(\(.*?\)), Received: value\.shape=(\(.*?\))", text)
    if shapes:
        layer = re.search(r"object <\w+ name=([^,>]+)", text)
        where = f"layer {layer.group(1)}" if layer else "a layer"
        return f"{where} needs shape {shapes.group(1)}, the file has {shapes.group(2)}"
    lines = [line.strip().rstrip(":.") for line in text.splitlines() if line.strip()]
    for line in lines:
        if "expected" in line or "mismatch" in line.lower():
            return line[:200]
    return lines[0][:200] if lines else type(error).__name__
