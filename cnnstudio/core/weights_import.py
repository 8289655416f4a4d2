"""Importing a weights file: for machines that cannot download the ImageNet weights.

A file downloaded elsewhere is checked against the architectures by loading it into a
freshly built network. Then its checksum decides what it is:

- the published checksum of the official Keras file (the md5 ``keras.applications``
  checks its own downloads against, kept in the backbone registry): it is the ImageNet
  file, copied into :func:`cnnstudio.core.paths.weights_dir` under the official name,
  where ``weights="imagenet"`` finds it from then on
  (:func:`cnnstudio.core.weights.find_imagenet_weights`). For a network whose file Keras
  publishes no checksum for (MobileNetV2), the official file's exact byte size stands in
  for it, and the result says so;
- anything else that fits (a fine-tuned or a random file) is *custom weights*: copied
  into :func:`custom_weights_dir` under its own name, where ``"imagenet"`` never looks, and
  results made with it say "custom weights FILE" (:func:`cnnstudio.core.weights.weights_label`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cnnstudio.core import backbones, files, paths
from cnnstudio.core.backbones import BackboneInfo
from cnnstudio.core.errors import InputError
from cnnstudio.core.weights import candidate_names
from cnnstudio.core.weights_files import (
    batch_norm_trained,
    check_file_fits,
    inspect_weights_file,
    load_weights_file,
    top_words,
)

IMAGENET = "imagenet"
CUSTOM = "custom"


@dataclass(frozen=True)
class ImportedWeights:
    """Result of :func:`import_weights_detailed`."""

    path: Path
    backbone: BackboneInfo
    include_top: bool
    #: :data:`IMAGENET` (the official file) or :data:`CUSTOM` (anything else that fits)
    kind: str = IMAGENET
    #: how an ImageNet file was recognised: "checksum" or "size" (no checksum published)
    matched_by: str = ""

    @property
    def is_imagenet(self) -> bool:
        return self.kind == IMAGENET

    def describe(self) -> str:
        """A neutral sentence: what was installed where, and why it counts as what."""
        what = f"{self.backbone.label} weights ({top_words(self.include_top)})"
        if not self.is_imagenet:
            return (
                f"installed {what} as custom weights {self.path.name} in {self.path.parent}: "
                "the file is not the official Keras ImageNet file (its checksum differs), "
                "so results made with it are labelled as custom weights"
            )
        how = (
            "its checksum matches the official Keras file"
            if self.matched_by == "checksum"
            else "it has the official file's exact size (Keras publishes no checksum for it)"
        )
        return f"installed {what} as the ImageNet weights {self.path}: {how}"


def custom_weights_dir() -> Path:
    """Where imported weights that are not an official ImageNet file are kept (never
    looked in for ``"imagenet"``)."""
    path = paths.weights_dir() / "custom"
    path.mkdir(parents=True, exist_ok=True)
    return path


def custom_weights_files() -> list[Path]:
    """The custom weights files imported so far, by name."""
    folder = paths.weights_dir() / "custom"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(".h5"))


def file_md5(path: str | os.PathLike[str]) -> str:
    """The md5 of a file (read in chunks through core.files: a regular file only)."""
    digest = hashlib.md5(usedforsecurity=False)
    with files.open_regular(path, what="weights file", param="weights") as reader:
        for chunk in iter(lambda: reader.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def official_match(source: Path, info: BackboneInfo, include_top: bool) -> str:
    """How ``source`` is recognised as the official ImageNet file of ``info``: "checksum",
    "size" (no checksum published: the exact size, and batch-norm statistics that were
    learned, since random weights saved in the same layout have the same size), or ""
    (it is not)."""
    published = info.weights_md5(include_top)
    if published:
        return "checksum" if file_md5(source) == published.lower() else ""
    if source.stat().st_size != info.weights_size(include_top):
        return ""
    return "size" if batch_norm_trained(source) is not False else ""


def import_weights_detailed(path: str | os.PathLike, name: str | None = None) -> ImportedWeights:
    """Check ``path`` against the architectures (only ``name`` if given) by loading it,
    then install it: as the ImageNet file when it is the official one (see the module's
    notes), else as custom weights."""
    source = Path(path).expanduser()
    if not os.path.lexists(source):
        raise InputError(f"weights file {source} does not exist", param="weights")
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
        matched_by = official_match(source, info, facts.has_top)
        if matched_by:
            installed = _install(source, info, facts.has_top, facts.keras3)
            return ImportedWeights(installed, info, facts.has_top, IMAGENET, matched_by)
        installed = _install_custom(source, info)
        return ImportedWeights(installed, info, facts.has_top, CUSTOM)
    if name is not None:
        raise InputError(failures[0].split(": ", 1)[1], param="weights", path=str(source))
    labels = ", ".join(info.label for info in candidates)
    raise InputError(
        f"weights file {source.name} fits none of {labels} ({top_words(facts.has_top)}; "
        "MobileNetV2 only with alpha 1.0): give the Keras weights of one of these networks",
        param="weights",
        path=str(source),
    )


def _copy(source: Path, destination: Path) -> None:
    with (
        files.open_regular(source, what="weights file", param="weights") as reader,
        files.atomic_write(destination, overwrite=True, param=None) as writer,
    ):
        shutil.copyfileobj(reader, writer, 1 << 20)


def _install(source: Path, info: BackboneInfo, include_top: bool, keras3: bool) -> Path:
    """Copy ``source`` where "imagenet" finds it; drop what it replaces."""
    official, keras3_name = candidate_names(info.weights_file(include_top))
    destination = paths.weights_dir() / (keras3_name if keras3 else official)
    _copy(source, destination)
    # an imported file may replace one under the other name: only one of them may stay
    for other in (official, keras3_name):
        stale = paths.weights_dir() / other
        if stale != destination and stale.exists():
            stale.unlink()
    # cached "imagenet" models were built from the file this one replaces
    backbones.forget_imagenet_models(info.name)
    return destination


def _install_custom(source: Path, info: BackboneInfo) -> Path:
    """Copy ``source`` among the custom weights, under its own name (an official name
    gets the network's name in front, so nothing there looks like the ImageNet file)."""
    official = {name for top in (False, True) for name in candidate_names(info.weights_file(top))}
    name = source.name if source.name not in official else f"custom-{source.name}"
    destination = custom_weights_dir() / name
    _copy(source, destination)  # models built from a file are cached by its mtime: renewed
    return destination


def import_weights(path: str | os.PathLike, name: str | None = None) -> Path:
    """Validate a weights file and install it (ImageNet or custom); the destination."""
    return import_weights_detailed(path, name).path
