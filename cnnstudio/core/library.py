"""The model library: trained models as ``.keras`` files with a JSON sidecar.

Every model lives in :func:`cnnstudio.core.paths.library_dir` as ``NAME.keras`` next to
``NAME.json`` (the sidecar): recipe, dataset, class names, input size ``[h, w]``, channels,
preprocessing (``"none"``: the model takes float 0..255 pixels and rescales itself; or a
backbone name whose :func:`cnnstudio.core.backbones.preprocess` the caller applies),
metrics and the creation date. Train writes entries, Classify and Dream read them.

Models from disk are untrusted: they are loaded with ``safe_mode=True`` only, a file whose
config holds code (a ``Lambda`` layer, a serialised Python function) is refused before
Keras sees it, and legacy formats (``.h5``/``.hdf5``, SavedModel folders) that bypass the
safe loader are refused outright.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnstudio.core import files, paths
from cnnstudio.core.errors import InputError, UnsafeModelError

MODEL_SUFFIX = ".keras"
SIDECAR_SUFFIX = ".json"
LEGACY_SUFFIXES = (".h5", ".hdf5", ".pb", ".tf", ".savedmodel")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# Executable payloads in a parsed .keras config: Lambda layers carry marshalled bytecode,
# "__lambda__" objects are serialised lambdas, "function_type"/"__python_function__" keys
# are legacy (Keras 2) serialised functions.
_CODE_CLASSES = ("Lambda", "__lambda__")
_CODE_KEYS = ("function_type", "__python_function__")
# Keras' error texts when safe mode stopped a payload it found itself
_SAFE_MODE_REFUSAL = re.compile(r"safe_mode|enable_unsafe_deserialization|for security")
_ERROR_CHARS = 200  # a Keras error in our one-line messages is cut to this many characters
_NAME_BAD_CHARS = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass
class ModelEntry:
    """One model of the library: its display name, its ``.keras`` file, its sidecar."""

    name: str
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sidecar_path(self) -> Path:
        return sidecar_path(self.path)

    @property
    def class_names(self) -> list[str]:
        return [str(c) for c in self.meta.get("class_names", [])]

    @property
    def input_size(self) -> tuple[int, int] | None:
        size = self.meta.get("input_size")
        return (int(size[0]), int(size[1])) if size else None

    @property
    def channels(self) -> int:
        return int(self.meta.get("channels", 3))

    @property
    def preprocessing(self) -> str:
        return str(self.meta.get("preprocessing", "none"))

    def describe(self) -> str:
        """One line for lists: name, recipe, dataset and test accuracy when known."""
        parts = [self.name]
        recipe = self.meta.get("recipe")
        dataset = self.meta.get("dataset")
        if recipe or dataset:
            parts.append(f"({recipe or '?'} on {dataset or '?'})")
        accuracy = (self.meta.get("metrics") or {}).get("test_accuracy")
        if isinstance(accuracy, (int, float)):
            parts.append(f"test accuracy {accuracy:.1%}")
        return " ".join(parts)


def sidecar_path(model_path: str | Path) -> Path:
    """The JSON sidecar of a model file: same stem, ``.json``."""
    return Path(model_path).with_suffix(SIDECAR_SUFFIX)


def sanitize_name(name: str) -> str:
    """A model name made safe as a file name (letters, digits, ``._ -``)."""
    cleaned = _NAME_BAD_CHARS.sub("_", str(name)).strip(" ._-")
    return cleaned[:100] or "model"


def _unique_path(name: str, directory: Path, ignore: Path | None = None) -> Path:
    """``directory/name.keras``, or ``name-2.keras``, ... if that entry exists already."""
    candidate = directory / f"{name}{MODEL_SUFFIX}"
    counter = 2
    while (candidate.exists() or sidecar_path(candidate).exists()) and candidate != ignore:
        candidate = directory / f"{name}-{counter}{MODEL_SUFFIX}"
        counter += 1
    return candidate


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """The sidecar of ``path`` (a ``.keras`` or ``.json`` path); ``{}`` when there is none
    or it is unreadable (the model itself is still usable without it)."""
    json_path = sidecar_path(path)
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_sidecar(model_path: str | Path, meta: dict[str, Any]) -> Path:
    """Write ``meta`` as the sidecar of ``model_path``."""
    json_path = sidecar_path(model_path)
    json_path.write_text(json.dumps(_jsonable(meta), indent=2), encoding="utf-8")
    return json_path


def _jsonable(value: Any) -> Any:
    """numpy scalars/arrays and tuples inside meta become plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return value


def _entry_for(path: Path) -> ModelEntry:
    return ModelEntry(name=path.stem, path=path, meta=read_sidecar(path))


def list_models() -> list[ModelEntry]:
    """All models of the library, sorted by name (case-insensitive)."""
    directory = paths.library_dir()
    models = [p for p in directory.glob(f"*{MODEL_SUFFIX}") if p.is_file()]
    return [_entry_for(p) for p in sorted(models, key=lambda p: p.stem.lower())]


def find_model(name: str) -> ModelEntry:
    """The entry called ``name``; InputError listing the library if there is none."""
    for entry in list_models():
        if entry.name == name:
            return entry
    names = ", ".join(e.name for e in list_models()) or "the library is empty"
    raise InputError(f"no model named '{name}' in the library ({names})")


def save_model_files(
    model: Any,
    path: str | Path,
    meta: dict[str, Any],
    *,
    overwrite: bool = False,
    param: str | None = "output",
) -> Path:
    """Save a Keras model as ``path`` (``.keras``) with its sidecar, neither of them
    ever half-written: both are written whole into temporary files in the same folder,
    then moved into place one right after the other, the sidecar first, so a model file
    that appears has its sidecar already. Without ``overwrite`` a model or sidecar that
    appeared meanwhile is never replaced (OutputExistsError, nothing moved). A failed
    write (a full disk) raises InputError in one line; the old files stay as they were."""
    path = Path(path)
    temps: list[Path] = []
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        model_temp = _temp_file(path, f".part{MODEL_SUFFIX}", temps)
        model.save(model_temp, overwrite=True)
        _sync(model_temp)
        sidecar_temp = _temp_file(path, f".part{SIDECAR_SUFFIX}", temps)
        sidecar_temp.write_text(json.dumps(_jsonable(meta), indent=2), encoding="utf-8")
        _sync(sidecar_temp)
    except BaseException as error:
        for temp in temps:
            temp.unlink(missing_ok=True)
        full = files.disk_full(error)
        if full is not None:
            raise files.write_error(path, full, param) from None
        if isinstance(error, OSError):
            raise files.write_error(path, error, param) from None
        raise
    return _move_pair(model_temp, path, sidecar_temp, sidecar_path(path), overwrite)


def _temp_file(path: Path, suffix: str, temps: list[Path]) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    temps.append(Path(name))
    return temps[-1]


def _sync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _move_pair(
    model_temp: Path, path: Path, sidecar_temp: Path, sidecar: Path, overwrite: bool
) -> Path:
    try:
        for temp, target in ((sidecar_temp, sidecar), (model_temp, path)):
            # a replaced file keeps its mode, a new one gets the user's umask
            try:
                mode = stat.S_IMODE(os.stat(target).st_mode) if overwrite else None
            except OSError:
                mode = None
            os.chmod(temp, files.new_file_mode() if mode is None else mode)
        files.move_into_place(sidecar_temp, sidecar, overwrite)
        try:
            files.move_into_place(model_temp, path, overwrite)
        except BaseException:
            if not overwrite:  # the sidecar we just placed belongs to no model
                sidecar.unlink(missing_ok=True)
            raise
    except OSError as error:
        if isinstance(error, FileExistsError):
            raise
        raise files.write_error(path, error) from None
    finally:
        model_temp.unlink(missing_ok=True)
        sidecar_temp.unlink(missing_ok=True)
    return path


def resolve_model(spec: str | os.PathLike[str] | ModelEntry) -> ModelEntry | None:
    """The model ``spec`` names: a library entry itself, the path of a model file (a
    ``.keras`` file anywhere, with its sidecar when it has one) or the name of a library
    model. None when it names none of them (the caller lists its own choices);
    InputError for the path of a model file that is not there. Nothing is loaded."""
    if isinstance(spec, ModelEntry):
        return spec
    text = os.fspath(spec).strip()
    path = Path(os.path.expanduser(text))
    if text and path.exists():
        return _entry_for(path)
    for entry in list_models():
        if entry.name == text:
            return entry
    if path.suffix.lower() in (MODEL_SUFFIX,) + LEGACY_SUFFIXES:
        raise InputError(f"model file not found: {path}")
    return None


def save_to_library(model: Any, name: str, meta: dict[str, Any]) -> ModelEntry:
    """Save a Keras model and its sidecar into the library (atomically, see
    :func:`save_model_files`); never overwrites an entry (a ``-2``, ``-3``, ... suffix
    is added to the name instead, also when another process takes the name meanwhile)."""
    meta = dict(meta)
    meta.setdefault("created", _dt.datetime.now().isoformat(timespec="seconds"))
    for _ in range(100):
        path = _unique_path(sanitize_name(name), paths.library_dir())
        try:
            save_model_files(model, path, meta, overwrite=False, param=None)
        except files.OutputExistsError:
            continue  # taken since we looked: the next free name
        return ModelEntry(name=path.stem, path=path, meta=read_sidecar(path))
    raise InputError(f"no free name for '{name}' in the library")


def _check_model_file(path: Path) -> None:
    """Refuse, before Keras opens it, anything that is not a code-free ``.keras`` zip."""
    if not path.exists():
        raise InputError(f"model file not found: {path}")
    if path.is_dir():
        if (path / "saved_model.pb").exists() or (path / "keras_metadata.pb").exists():
            raise UnsafeModelError(
                f"{path} is a TensorFlow SavedModel folder, a legacy format that can run "
                "code when loaded; it was refused. Re-save the model as .keras with Keras 3."
            )
        raise InputError(f"{path} is a folder, not a .keras model file")
    suffix = path.suffix.lower()
    with path.open("rb") as handle:
        head = handle.read(8)
    if suffix in LEGACY_SUFFIXES or head == _HDF5_MAGIC:
        raise UnsafeModelError(
            f"{path.name} is a legacy HDF5/TensorFlow model file, which the safe loader "
            "cannot check; it was refused and nothing was run. Re-save it as .keras."
        )
    if suffix != MODEL_SUFFIX:
        raise InputError(f"{path.name} is not a .keras model file; choose a .keras file")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path.name} is not a valid .keras file (not a zip archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json").decode("utf-8", errors="replace"))
    except KeyError:
        raise InputError(f"{path.name} is not a valid .keras file (no config.json)") from None
    except ValueError as error:
        raise InputError(f"{path.name} is not a valid .keras file (config.json: {error})") from None
    except (OSError, zipfile.BadZipFile) as error:
        raise InputError(f"{path.name} could not be read: {error}") from None
    found = _code_in_config(config)
    if found is not None:
        raise UnsafeModelError(
            f"{path.name} was refused because it contains code ({found}); nothing was run. "
            "Only load models you trust, rebuilt without Lambda layers or custom functions."
        )


def _code_in_config(node: Any) -> str | None:
    """What in a parsed ``config.json`` carries code, or None. Only the structure counts
    (``class_name`` values, serialised-function keys), so a layer merely *named* "Lambda"
    or a string that reads like a marker is harmless."""
    if isinstance(node, list):
        return next((f for f in map(_code_in_config, node) if f is not None), None)
    if not isinstance(node, dict):
        return None
    for key in _CODE_KEYS:
        if key in node:
            return f"a serialised Python function ('{key}')"
    class_name = node.get("class_name")
    if class_name == "Lambda":
        return "a Lambda layer"
    if class_name == "__lambda__":
        return "a serialised Python lambda"
    module = node.get("module")
    if class_name in ("function", None) and isinstance(module, str):
        name = node.get("config")
        if not (module == "keras" or module.startswith("keras.") or module == "builtins"):
            return f"a reference to the Python function {module}.{name}"
        # Keras serialises its own functions under "builtins" by name; a Python builtin
        # (exec, eval, open, ...) there is not one of them
        if module == "builtins" and isinstance(name, str) and hasattr(builtins, name):
            return f"a reference to the Python function {name}"
    return next((f for f in map(_code_in_config, node.values()) if f is not None), None)


def _one_line(text: str) -> str:
    """A Keras error as one short line: its innermost cause (Keras nests the errors of a
    model's layers, with their whole configs, as "Exception encountered: ..."), first line."""
    cause = text.rsplit("Exception encountered:", 1)[-1]
    line = next((part.strip() for part in cause.splitlines() if part.strip()), "unknown error")
    return line if len(line) <= _ERROR_CHARS else line[: _ERROR_CHARS - 3].rstrip() + "..."


def load_model_file(path: str | Path, compile: bool = False) -> Any:
    """Load a ``.keras`` model with ``safe_mode=True``; refuse legacy formats and files
    that carry code with :class:`UnsafeModelError`. ``compile=False`` by default because
    inference needs no optimizer state."""
    path = Path(path)
    _check_model_file(path)
    import keras

    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except (ValueError, OSError, TypeError, KeyError, AttributeError) as error:
        # Keras wraps a layer's error (safe-mode refusals included) in its model's, each
        # with the whole config: look at all of it, show one line of it
        text = str(error)
        if _SAFE_MODE_REFUSAL.search(text):
            raise UnsafeModelError(
                f"{path.name} was refused because it contains code (Keras' safe mode "
                f"stopped it: {_one_line(text)}); nothing was run"
            ) from None
        raise InputError(f"{path.name} could not be loaded: {_one_line(text)}") from None


def load_entry(entry: ModelEntry, compile: bool = False) -> Any:
    """Load the model of a library entry (see :func:`load_model_file`)."""
    return load_model_file(entry.path, compile=compile)


def rename_model(entry: ModelEntry, new_name: str) -> ModelEntry:
    """Rename an entry (model and sidecar); a suffix is added if the name is taken."""
    target = _unique_path(sanitize_name(new_name), entry.path.parent, ignore=entry.path)
    if target == entry.path:
        return _entry_for(entry.path)
    entry.path.rename(target)
    if entry.sidecar_path.exists():
        entry.sidecar_path.rename(sidecar_path(target))
    return _entry_for(target)


def delete_model(entry: ModelEntry) -> None:
    """Remove an entry's model file and sidecar."""
    entry.path.unlink(missing_ok=True)
    entry.sidecar_path.unlink(missing_ok=True)


def export_model(entry: ModelEntry, dest: str | Path, overwrite: bool = False) -> Path:
    """Copy an entry (``.keras`` plus sidecar) to ``dest``: a folder, or a file path that
    gets the ``.keras`` suffix. Returns the model path written."""
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / entry.path.name
    elif dest.suffix.lower() != MODEL_SUFFIX:
        dest = dest.with_name(dest.name + MODEL_SUFFIX)
    if not dest.parent.is_dir():
        raise InputError(f"folder does not exist: {dest.parent}")
    if not overwrite and (dest.exists() or sidecar_path(dest).exists()):
        raise InputError(f"{dest} exists already; choose another name or allow overwriting")
    shutil.copyfile(entry.path, dest)
    if entry.sidecar_path.exists():
        shutil.copyfile(entry.sidecar_path, sidecar_path(dest))
    return dest


def _meta_from_model(model: Any) -> dict[str, Any]:
    """A best-effort sidecar for an imported model that came without one."""
    meta: dict[str, Any] = {"recipe": "imported", "dataset": "unknown", "preprocessing": "none"}
    shape = tuple(model.input_shape) if hasattr(model, "input_shape") else ()
    if len(shape) == 4:
        meta["input_size"] = [shape[1], shape[2]]
        meta["channels"] = shape[3]
    outputs = model.output_shape if hasattr(model, "output_shape") else None
    if isinstance(outputs, tuple) and outputs and isinstance(outputs[-1], int):
        meta["class_names"] = [str(i) for i in range(outputs[-1])]
    return meta


def import_model(path: str | Path) -> ModelEntry:
    """Check a ``.keras`` file with the safe loader and copy it (and its sidecar, if it
    has one next to it) into the library."""
    path = Path(path)
    model = load_model_file(path)  # validates: refuses unsafe files before copying
    meta = read_sidecar(path) or _meta_from_model(model)
    meta.setdefault("imported_from", str(path))
    meta.setdefault("created", _dt.datetime.now().isoformat(timespec="seconds"))
    target = _unique_path(sanitize_name(path.stem), paths.library_dir())
    shutil.copyfile(path, target)
    write_sidecar(target, meta)
    return _entry_for(target)
