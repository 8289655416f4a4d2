"""Importing a weights file: for machines that cannot download the ImageNet weights.

A file downloaded elsewhere is checked against the architectures by loading it into a
freshly built network, then copied into :func:`cnnstudio.core.paths.weights_dir` under the
official Keras file name, where ``weights="imagenet"`` finds it from then on
(:func:`cnnstudio.core.weights.find_imagenet_weights`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cnnstudio.core import backbones, files, paths
from cnnstudio.core.backbones import BackboneInfo
from cnnstudio.core.errors import InputError
from cnnstudio.core.weights import candidate_names
from cnnstudio.core.weights_files import (
    check_file_fits,
    inspect_weights_file,
    load_weights_file,
    top_words,
)


@dataclass(frozen=True)
class ImportedWeights:
    """Result of :func:`import_weights_detailed`."""

    path: Path
    backbone: BackboneInfo
    include_top: bool


def import_weights_detailed(path: str | os.PathLike, name: str | None = None) -> ImportedWeights:
    """Check ``path`` against the architectures (only ``name`` if given) by loading it,
    then copy it into :func:`paths.weights_dir` under the official Keras file name so that
    ``weights="imagenet"`` finds it from now on."""
    source = Path(path).expanduser()
    facts = inspect_weights_file(source)
    if name is not None:
        candidates = [backbones.get_backbone(name)]
    else:
        order = [facts.guess] if facts.guess else []
        order += [n for n in backbones.BACKBONE_NAMES if n not in order]
        candidates = [backbones.get_backbone(n) for n in order]
    failures: list[str] = []
    for info in candidates:
        try:
            check_file_fits(facts, info, facts.has_top)
            model = backbones.build_architecture(info, facts.has_top, None)
            load_weights_file(model, info, facts.has_top, source)
            del model
        except InputError as error:
            failures.append(f"{info.label}: {error}")
            continue
        return ImportedWeights(
            _install(source, info, facts.has_top, facts.keras3), info, facts.has_top
        )
    if name is not None:
        raise InputError(failures[0].split(": ", 1)[1], param="weights", path=str(source))
    labels = ", ".join(info.label for info in candidates)
    raise InputError(
        f"weights file {source.name} fits none of {labels} ({top_words(facts.has_top)}; "
        "MobileNetV2 only with alpha 1.0): give the Keras weights of one of these networks",
        param="weights",
        path=str(source),
    )


def _install(source: Path, info: BackboneInfo, include_top: bool, keras3: bool) -> Path:
    """Copy ``source`` where "imagenet" finds it; drop what it replaces."""
    official, keras3_name = candidate_names(info.weights_file(include_top))
    destination = paths.weights_dir() / (keras3_name if keras3 else official)
    with (
        files.open_regular(source, what="weights file", param="weights") as reader,
        files.atomic_write(destination, overwrite=True, param=None) as writer,
    ):
        shutil.copyfileobj(reader, writer, 1 << 20)
    # an imported file may replace one under the other name: only one of them may stay
    for other in (official, keras3_name):
        stale = paths.weights_dir() / other
        if stale != destination and stale.exists():
            stale.unlink()
    # cached "imagenet" models were built from the file this one replaces
    backbones.forget_imagenet_models(info.name)
    return destination


def import_weights(path: str | os.PathLike, name: str | None = None) -> Path:
    """Validate a weights file and install it where "imagenet" finds it; the destination."""
    return import_weights_detailed(path, name).path
