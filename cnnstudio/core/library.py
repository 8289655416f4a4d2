"""The model library: trained models as ``.keras`` files with a JSON sidecar.

Every model lives in :func:`cnnstudio.core.paths.library_dir` as ``NAME.keras`` next to
``NAME.json`` (the sidecar, :mod:`cnnstudio.core.sidecar`): recipe, dataset, class names,
input size ``[h, w]``, channels, preprocessing (``"none"``: the model takes float 0..255
pixels and rescales itself; or a backbone name whose
:func:`cnnstudio.core.backbones.preprocess` the caller applies), metrics and the creation
date. Train writes entries, Classify and Dream read them.

Models and sidecars from disk are untrusted. A model is checked before Keras sees it
(:mod:`cnnstudio.core.model_check`: a bounded zip without code) and loaded with
``safe_mode=True`` only; a sidecar is checked against its schema on every read. An entry
whose sidecar fails, or does not belong to its model file, is *damaged*: it is listed with
the reason and refused when used, and the rest of the library works on.

Writing is atomic per pair: the model and its sidecar are written to hidden temporary
files in the same folder, and the sidecar, which records the model file's size and
SHA-256, is moved into place first, then the model. A reader sees the old pair or the new
one; a new entry appears only once both are there; a crash between the two moves leaves a
pair that does not match, which is read as damaged, never as valid.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnstudio.core import files, model_check, model_pair, paths, sidecar, stale_files
from cnnstudio.core.errors import InputError, UnsafeModelError
from cnnstudio.core.model_check import LEGACY_SUFFIXES, MODEL_SUFFIX  # noqa: F401 - API

SIDECAR_SUFFIX = ".json"
# Keras' error texts when safe mode stopped a payload it found itself
_SAFE_MODE_REFUSAL = re.compile(r"safe_mode|enable_unsafe_deserialization|for security")
_ERROR_CHARS = 200  # a Keras error in our one-line messages is cut to this many characters
_NAME_BAD_CHARS = re.compile(r"[^A-Za-z0-9._ -]+")
_CHUNK = 2**20


@dataclass
class ModelEntry:
    """One model of the library: its display name, its ``.keras`` file, its checked
    sidecar (``meta``), and ``damaged``: why it cannot be used ("" when it can)."""

    name: str
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    damaged: str = ""

    @property
    def sidecar_path(self) -> Path:
        return sidecar_path(self.path)

    @property
    def class_names(self) -> list[str]:
        return list(self.meta.get("class_names") or [])

    @property
    def input_size(self) -> tuple[int, int] | None:
        size = self.meta.get("input_size")
        return (size[0], size[1]) if size else None

    @property
    def channels(self) -> int:
        return self.meta.get("channels") or 3

    @property
    def preprocessing(self) -> str:
        return self.meta.get("preprocessing") or "none"

    @property
    def test_accuracy(self) -> float | None:
        return sidecar.finite_or_none((self.meta.get("metrics") or {}).get("test_accuracy"))

    def describe(self) -> str:
        """One line for lists: name, recipe, dataset and test accuracy when known."""
        if self.damaged:
            return f"{self.name} (damaged: {self.damaged})"
        parts = [self.name]
        recipe = self.meta.get("recipe")
        dataset = self.meta.get("dataset")
        if recipe or dataset:
            parts.append(f"({recipe or '?'} on {dataset or '?'})")
        if self.test_accuracy is not None:
            parts.append(f"test accuracy {self.test_accuracy:.1%}")
        return " ".join(parts)


sidecar_path = model_pair.sidecar_path


def sanitize_name(name: str) -> str:
    """A model name made safe as a file name (letters, digits, ``._ -``)."""
    cleaned = _NAME_BAD_CHARS.sub("_", str(name)).strip(" ._-")
    return cleaned[:100] or "model"


def _taken(path: Path) -> bool:
    return any(os.path.lexists(p) for p in (path, sidecar_path(path)))


def _unique_path(name: str, directory: Path, ignore: Path | None = None) -> Path:
    """``directory/name.keras``, or ``name-2.keras``, ... if that entry exists already."""
    candidate = directory / f"{name}{MODEL_SUFFIX}"
    counter = 2
    while _taken(candidate) and candidate != ignore:
        candidate = directory / f"{name}-{counter}{MODEL_SUFFIX}"
        counter += 1
    return candidate


# ------------------------------------------------------------------------------ sidecars


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """The checked sidecar of ``path`` (a ``.keras`` or ``.json`` path); ``{}`` when there
    is none or it is damaged (see :func:`check_entry` for the reason)."""
    try:
        return sidecar.read(sidecar_path(path)) or {}
    except InputError:
        return {}


def write_sidecar(model_path: str | Path, meta: dict[str, Any]) -> Path:
    """Write ``meta`` (checked) as the sidecar of ``model_path``, atomically, with the
    model file's size and SHA-256 when it exists. :func:`save_model_files` writes a model
    and its sidecar as one pair."""
    json_path = sidecar_path(model_path)
    meta = sidecar.checked_for_writing(model_pair.jsonable(meta))
    if os.path.isfile(model_path):
        meta["model_bytes"], meta["model_sha256"] = model_pair.digest(Path(model_path))
        meta["model_stamp"] = model_pair.file_stamp(os.stat(model_path))
    files.write_bytes(json_path, model_pair.sidecar_bytes(meta), overwrite=True)
    return json_path


def _entry_for(path: Path) -> ModelEntry:
    try:
        info = os.stat(path)
    except OSError as error:
        reason = files.missing_reason(path, error)
        return ModelEntry(name=path.stem, path=path, damaged=f"{path.name} {reason}")
    if not stat.S_ISREG(info.st_mode):
        kind = files.kind_of(info.st_mode)
        return ModelEntry(name=path.stem, path=path, damaged=f"{path.name} is {kind}, not a file")
    try:
        meta = sidecar.read(sidecar_path(path)) or {}
    except InputError as error:
        return ModelEntry(name=path.stem, path=path, damaged=str(error))
    mismatch = model_pair.pair_mismatch(path, meta)
    if mismatch:
        return ModelEntry(name=path.stem, path=path, damaged=mismatch)
    return ModelEntry(name=path.stem, path=path, meta=meta)


def check_entry(entry: ModelEntry) -> None:
    """InputError saying why ``entry`` cannot be used, if it is damaged."""
    if entry.damaged:
        raise InputError(
            f"model '{entry.name}' cannot be used: {entry.damaged}",
            path=str(entry.path),
        )


# ------------------------------------------------------------------------------ listing


def list_models() -> list[ModelEntry]:
    """All models of the library, sorted by name (case-insensitive); damaged ones too,
    with their reason. Hidden files (a save in progress) are not entries; those a killed
    save left, untouched for 15 minutes, are removed (stale_files.sweep_stale_temporaries)."""
    directory = paths.library_dir()
    stale_files.sweep_stale_temporaries(directory)  # what saves killed with kill -9 left
    models = [p for p in directory.glob(f"*{MODEL_SUFFIX}") if not p.name.startswith(".")]
    return [_entry_for(p) for p in sorted(models, key=lambda p: p.stem.lower())]


def find_model(name: str) -> ModelEntry:
    """The entry called ``name``; InputError listing the library if there is none."""
    entries = list_models()
    for entry in entries:
        if entry.name == name:
            return entry
    names = ", ".join(e.name for e in entries) or "the library is empty"
    raise InputError(f"no model named '{name}' in the library ({names})")


def resolve_model(spec: str | os.PathLike[str] | ModelEntry) -> ModelEntry | None:
    """The model ``spec`` names: a library entry itself, the path of a model file (a
    ``.keras`` file anywhere, with its sidecar when it has one) or the name of a library
    model. None when it names none of them (the caller lists its own choices);
    InputError for the path of a model file that is not there. Nothing is loaded."""
    if isinstance(spec, ModelEntry):
        return spec
    text = os.fspath(spec).strip()
    path = Path(os.path.expanduser(text))
    if text and os.path.lexists(path):
        return _entry_for(path)
    for entry in list_models():
        if entry.name == text:
            return entry
    if path.suffix.lower() in (MODEL_SUFFIX,) + LEGACY_SUFFIXES:
        raise InputError(f"model file not found: {path}")
    return None


# ------------------------------------------------------------------------------ loading


def _one_line(text: str) -> str:
    """A Keras error as one short line: its innermost cause (Keras nests the errors of a
    model's layers, with their whole configs, as "Exception encountered: ..."), first line."""
    cause = text.rsplit("Exception encountered:", 1)[-1]
    line = next((part.strip() for part in cause.splitlines() if part.strip()), "unknown error")
    return line if len(line) <= _ERROR_CHARS else line[: _ERROR_CHARS - 3].rstrip() + "..."


def _keras_load(path: Path, compile: bool, shown: str) -> Any:
    """Keras' safe loader on a checked file; its errors as one line naming ``shown``."""
    import keras

    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except MemoryError:
        raise InputError(f"{shown} needs more memory than is free to load") from None
    except Exception as error:  # noqa: BLE001 - any failure of an untrusted file
        if type(error).__name__ == "ResourceExhaustedError":  # TensorFlow's, not imported
            raise InputError(f"{shown} needs more memory than is free to load") from None
        if not isinstance(
            error,
            (
                ValueError,
                OSError,
                TypeError,
                KeyError,
                AttributeError,
                IndexError,
                RuntimeError,
                EOFError,
                OverflowError,
                RecursionError,
                LookupError,
            ),
        ) and type(error).__name__ not in ("BadZipFile", "InvalidArgumentError"):
            raise
        # Keras wraps a layer's error (safe-mode refusals included) in its model's, each
        # with the whole config: look at all of it, show one line of it
        text = str(error) or type(error).__name__
        if _SAFE_MODE_REFUSAL.search(text):
            raise UnsafeModelError(
                f"{shown} was refused because it contains code (Keras' safe mode "
                f"stopped it: {_one_line(text)}); nothing was run"
            ) from None
        raise InputError(f"{shown} could not be loaded: {_one_line(text)}") from None


def load_model_file(path: str | Path, compile: bool = False) -> Any:
    """Load a ``.keras`` model with ``safe_mode=True``; refuse legacy formats and files
    that carry code with :class:`UnsafeModelError`, files beyond the limits of
    :mod:`cnnstudio.core.model_check` and models whose sidecar is damaged or belongs to
    another file with InputError. ``compile=False`` by default because inference needs no
    optimizer state."""
    path = Path(path)
    model_check.check_model_file(path)
    entry = _entry_for(path)
    check_entry(entry)
    if entry.meta.get("model_sha256"):
        mismatch = model_pair.pair_mismatch(path, entry.meta, model_pair.digest(path)[1])
        if mismatch:
            raise InputError(f"model '{entry.name}' cannot be used: {mismatch}", path=str(path))
    return _keras_load(path, compile, path.name)


def load_entry(entry: ModelEntry, compile: bool = False) -> Any:
    """Load the model of a library entry (see :func:`load_model_file`)."""
    check_entry(entry)
    return load_model_file(entry.path, compile=compile)


# ------------------------------------------------------------------------------ writing


def save_model_files(
    model: Any,
    path: str | Path,
    meta: dict[str, Any],
    *,
    overwrite: bool = False,
    param: str | None = "output",
) -> Path:
    """Save a Keras model and its sidecar at ``path`` (a ``.keras`` file) as one pair
    (``cnnstudio train -o``): the old pair stays whole until the new one is written in
    full; without ``overwrite`` a file that appeared meanwhile is never replaced
    (OutputExistsError). A full disk is an InputError in one line naming the file."""
    path = Path(path)
    meta = sidecar.checked_for_writing(model_pair.jsonable(meta))
    return model_pair.write_pair(path, model.save, meta, overwrite=overwrite, param=param)


def _new_entry(name: str, write: Callable[[Path], Path]) -> ModelEntry:
    """Write a new entry under ``name`` (or ``name-2``, ...): never over another entry,
    even one that appears while we write."""
    for _attempt in range(100):
        target = _unique_path(sanitize_name(name), paths.library_dir())
        try:
            return _entry_for(write(target))
        except files.OutputExistsError:
            continue  # another writer took the name meanwhile: the next free one
    raise InputError(f"no free name for '{name}' in the library")


def save_to_library(model: Any, name: str, meta: dict[str, Any]) -> ModelEntry:
    """Save a Keras model and its sidecar into the library; never overwrites an entry
    (a ``-2``, ``-3``, ... suffix is added to the name instead)."""
    meta = sidecar.checked_for_writing(model_pair.jsonable(meta))
    meta.setdefault("created", _dt.datetime.now().isoformat(timespec="seconds"))
    return _new_entry(
        name, lambda target: model_pair.write_pair(target, model.save, meta, overwrite=False)
    )


def copy_to_library(path: str | Path, name: str, meta: dict[str, Any]) -> ModelEntry:
    """Copy a model pair that a job of ours wrote (the window's training run leaves its
    model in the data folder's ``unsaved-models/``) into the library under ``name``, with
    ``meta`` as its sidecar. The copy must match the size and SHA-256 the pair recorded:
    a file changed since is refused, not taken in. Never overwrites an entry."""
    path = Path(path)
    source = _entry_for(path)
    check_entry(source)
    meta = sidecar.checked_for_writing(model_pair.jsonable(meta))
    meta.setdefault("created", _dt.datetime.now().isoformat(timespec="seconds"))
    return _new_entry(
        name,
        lambda target: model_pair.write_pair(
            target,
            model_pair.copier(path),
            meta,
            overwrite=False,
            expected_sha256=source.meta.get("model_sha256"),
        ),
    )


def rename_model(entry: ModelEntry, new_name: str) -> ModelEntry:
    """Rename an entry (model and sidecar); a suffix is added if the name is taken. The
    new names are linked first and the old ones removed after, so a crash leaves the
    entry twice at worst, never a model without its sidecar."""
    target = _unique_path(sanitize_name(new_name), entry.path.parent, ignore=entry.path)
    if target == entry.path:
        return _entry_for(entry.path)
    moves = [(entry.sidecar_path, sidecar_path(target)), (entry.path, target)]
    for old, new in moves:
        if not os.path.lexists(old):
            continue
        try:
            os.link(old, new)
        except FileExistsError:
            raise files.OutputExistsError(new) from None
        except OSError:
            os.rename(old, new)  # a filesystem without hard links
    for old, new in reversed(moves):
        if os.path.lexists(old) and os.path.lexists(new):
            old.unlink()
    files.sync_folder(target.parent)
    return _entry_for(target)


def delete_model(entry: ModelEntry) -> None:
    """Remove an entry's model file, then its sidecar (a sidecar alone is no entry)."""
    entry.path.unlink(missing_ok=True)
    entry.sidecar_path.unlink(missing_ok=True)


def export_model(entry: ModelEntry, dest: str | Path, overwrite: bool = False) -> Path:
    """Copy an entry (``.keras`` plus sidecar) to ``dest``: a folder, or a file path that
    gets the ``.keras`` suffix; as one pair, atomically. Returns the model path written."""
    check_entry(entry)
    dest = Path(dest).expanduser()
    if dest.is_dir():
        dest = dest / entry.path.name
    elif dest.suffix.lower() != MODEL_SUFFIX:
        dest = dest.with_name(dest.name + MODEL_SUFFIX)
    if not dest.parent.is_dir():
        raise InputError(f"folder does not exist: {dest.parent}", param="output")
    if not overwrite and (os.path.lexists(dest) or os.path.lexists(sidecar_path(dest))):
        raise InputError(f"{dest} exists already; choose another name or allow overwriting")
    files.check_output_file(dest, overwrite=True, param="output")
    recorded = entry.meta.get("model_sha256")
    meta = {k: v for k, v in entry.meta.items() if k not in ("model_bytes", "model_sha256")}
    return model_pair.write_pair(
        dest, model_pair.copier(entry.path), meta, overwrite=overwrite, expected_sha256=recorded
    )


def _meta_from_model(model: Any) -> dict[str, Any]:
    """A best-effort sidecar for an imported model that came without one."""
    meta: dict[str, Any] = {"recipe": "imported", "dataset": "unknown", "preprocessing": "none"}
    shape = tuple(model.input_shape) if hasattr(model, "input_shape") else ()
    if len(shape) == 4:
        height, width, channels = shape[1:]
        if isinstance(height, int) and isinstance(width, int):
            if 1 <= height <= sidecar.MAX_INPUT_SIDE and 1 <= width <= sidecar.MAX_INPUT_SIDE:
                meta["input_size"] = [height, width]
        if channels in (1, 3):
            meta["channels"] = channels
    outputs = model.output_shape if hasattr(model, "output_shape") else None
    if isinstance(outputs, tuple) and outputs and isinstance(outputs[-1], int):
        if outputs[-1] <= sidecar.MAX_CLASSES:
            meta["class_names"] = [str(i) for i in range(outputs[-1])]
    return meta


def import_model(path: str | Path) -> ModelEntry:
    """Check a ``.keras`` file with the safe loader and copy it (and its sidecar, if it
    has one next to it, checked) into the library as a new entry. The copy is what is
    checked: a file changed meanwhile cannot slip in."""
    path = Path(path).expanduser()
    model_check.check_model_file(path)
    source = _entry_for(path)
    if source.damaged:
        raise InputError(
            f"cannot import {path.name}: {source.damaged}; fix or remove the sidecar",
            path=str(path),
        )
    recorded = source.meta.get("model_sha256")
    imported_at = _dt.datetime.now().isoformat(timespec="seconds")

    meta: dict[str, Any] = {}

    def copy_and_check(temp: Path) -> None:
        model_pair.copier(path)(temp)
        model_check.check_model_file(temp)
        model = _keras_load(temp, False, path.name)
        meta.clear()
        meta.update(source.meta or _meta_from_model(model))
        meta.setdefault("imported_from", str(path))
        meta.setdefault("created", imported_at)
        meta.update(sidecar.checked_for_writing(model_pair.jsonable(meta)))

    return _new_entry(
        path.stem,
        lambda target: model_pair.write_pair(
            target, copy_and_check, meta, overwrite=False, expected_sha256=recorded
        ),
    )
