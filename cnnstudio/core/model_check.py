"""A ``.keras`` file from outside, checked before Keras opens it.

A ``.keras`` file is a zip of ``config.json`` (the layers), ``metadata.json`` and
``model.weights.h5``. Before Keras sees one, :func:`check_model_file` makes sure that it
is a regular file within :data:`MAX_MODEL_BYTES`; that the zip's members are few and
unpack to a bounded size (a zip bomb is refused from the sizes its directory declares,
which Python's zipfile, Keras' reader, also enforces); that ``config.json``, read with a
cap, is JSON of bounded nesting; that nothing in it carries code (a ``Lambda`` layer, a
serialised Python function); and that its layers would not hold more than
:data:`MAX_PARAMETERS` weights (a ``Dense`` of ``units=1e9`` is refused before TensorFlow
tries to allocate it). Legacy formats (``.h5``, SavedModel folders), which bypass Keras'
safe mode, are refused outright.
"""

from __future__ import annotations

import builtins
import math
import zipfile
from pathlib import Path
from typing import Any

from cnnstudio.core import files
from cnnstudio.core.errors import InputError, UnsafeModelError
from cnnstudio.core.json_input import parse_json
from cnnstudio.core.sidecar import MAX_INPUT_SIDE

MODEL_SUFFIX = ".keras"
LEGACY_SUFFIXES = (".h5", ".hdf5", ".pb", ".tf", ".savedmodel")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

MAX_MODEL_BYTES = 4 * 2**30  # the file itself (VGG19 with its top: 0.55 GB)
MAX_UNPACKED_BYTES = 4 * 2**30  # all members unpacked
MAX_MEMBERS = 1000
MAX_CONFIG_BYTES = 32 * 2**20  # config.json unpacked (InceptionV3's: 0.3 MB)
MAX_CONFIG_DEPTH = 100  # nesting of config.json (a transfer model's: about 15)
MAX_RATIO = 100  # a member over 1 MB that unpacks to more than 100x its packed size is a bomb
MAX_PARAMETERS = 1_000_000_000  # weights in all layers (4 GB as float32; VGG19: 0.14 G)
# A fixed input shape: every side of a picture at most MAX_INPUT_SIDE (the sidecar's bound
# for a free-size model), and at most this many values per input (2048 x 2048 x 4): the
# jobs make arrays of that size, and a 100000 x 100000 input was killed for memory
MAX_INPUT_VALUES = MAX_INPUT_SIDE * MAX_INPUT_SIDE * 4
_MODEL_CLASSES = ("Sequential", "Functional", "Model")

# Executable payloads in a parsed .keras config: Lambda layers carry marshalled bytecode,
# "__lambda__" objects are serialised lambdas, "function_type"/"__python_function__" keys
# are legacy (Keras 2) serialised functions.
_CODE_KEYS = ("function_type", "__python_function__")
_WIDTH_KEYS = ("units", "filters", "output_dim", "input_dim")


def _count(value: float) -> str:
    return f"{int(value):,}" if value < 1e15 else f"{value:.2g}"


def check_model_file(path: Path) -> None:
    """Refuse, before Keras opens it, anything that is not a code-free ``.keras`` zip of
    bounded size; InputError / UnsafeModelError naming the file and the reason or limit."""
    if not path.exists() and not path.is_symlink():
        raise InputError(f"model file not found: {path}")
    if path.is_dir():
        if (path / "saved_model.pb").exists() or (path / "keras_metadata.pb").exists():
            raise UnsafeModelError(
                f"{path} is a TensorFlow SavedModel folder, a legacy format that can run "
                "code when loaded; it was refused. Re-save the model as .keras with Keras 3."
            )
        raise InputError(f"{path} is a folder, not a .keras model file")
    suffix = path.suffix.lower()
    with files.open_regular(path, what="model file", max_bytes=MAX_MODEL_BYTES) as handle:
        head = handle.read(8)
        if suffix in LEGACY_SUFFIXES or head == _HDF5_MAGIC:
            raise UnsafeModelError(
                f"{path.name} is a legacy HDF5/TensorFlow model file, which the safe loader "
                "cannot check; it was refused and nothing was run. Re-save it as .keras."
            )
        if suffix != MODEL_SUFFIX:
            raise InputError(f"{path.name} is not a .keras model file; choose a .keras file")
        handle.seek(0)
        if not zipfile.is_zipfile(handle):
            raise InputError(f"{path.name} is not a valid .keras file (not a zip archive)")
        handle.seek(0)
        try:
            with zipfile.ZipFile(handle) as archive:
                text = _read_config(path, archive)
        except (OSError, EOFError, zipfile.BadZipFile, ValueError, RuntimeError) as error:
            if isinstance(error, InputError):
                raise
            raise InputError(f"{path.name} could not be read: {error}") from None
    config = parse_json(
        text, label=f"{path.name}: config.json", max_depth=MAX_CONFIG_DEPTH, path=str(path)
    )
    found = code_in_config(config)
    if found is not None:
        raise UnsafeModelError(
            f"{path.name} was refused because it contains code ({found}); nothing was run. "
            "Only load models you trust, rebuilt without Lambda layers or custom functions."
        )
    _check_input_shapes(path, config)
    weights = parameter_estimate(config)
    if weights > MAX_PARAMETERS:
        raise InputError(
            f"{path.name}: its layers would hold about {_count(weights)} weights, more than "
            f"the limit of {_count(MAX_PARAMETERS)}; it was not loaded"
        )


def _read_config(path: Path, archive: zipfile.ZipFile) -> bytes:
    """config.json of the archive, after checking the members' count and sizes."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise InputError(
            f"{path.name} holds {len(members)} files, more than the limit of {MAX_MEMBERS} "
            "for a .keras file"
        )
    total = 0
    for member in members:
        total += member.file_size
        if member.file_size > 2**20 and member.file_size > MAX_RATIO * max(member.compress_size, 1):
            raise InputError(
                f"{path.name}: {member.filename} unpacks to "
                f"{files.megabytes(member.file_size)} from "
                f"{files.megabytes(member.compress_size)} (a zip bomb); it was refused"
            )
    if total > MAX_UNPACKED_BYTES:
        raise InputError(
            f"{path.name} unpacks to {files.megabytes(total)}, more than the limit of "
            f"{files.megabytes(MAX_UNPACKED_BYTES)}"
        )
    try:
        member = archive.getinfo("config.json")
    except KeyError:
        raise InputError(f"{path.name} is not a valid .keras file (no config.json)") from None
    limit = files.megabytes(MAX_CONFIG_BYTES)
    if member.file_size > MAX_CONFIG_BYTES:
        raise InputError(
            f"{path.name}: its config.json unpacks to {files.megabytes(member.file_size)}, "
            f"more than the limit of {limit}"
        )
    with archive.open(member) as stream:
        data = stream.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise InputError(f"{path.name}: its config.json is larger than the limit of {limit}")
    return data


def input_shapes(config: Any) -> list[list[Any]]:
    """The fixed input shapes a parsed ``config.json`` declares: every ``batch_shape``
    (``batch_input_shape`` in older files) and every model's ``build_config`` input
    shape, from which Keras rebuilds an input layer."""
    shapes = []
    for layer in _layers(config):
        settings = layer["config"]
        for key in ("batch_shape", "batch_input_shape"):
            if isinstance(settings.get(key), list):
                shapes.append(settings[key])
        built = layer.get("build_config")
        if layer["class_name"] in _MODEL_CLASSES and isinstance(built, dict):
            shape = built.get("input_shape")
            if isinstance(shape, list) and shape and not isinstance(shape[0], list):
                shapes.append(shape)
    return shapes


def _side(side: float | None) -> str:
    if side is None:
        return "?"
    return str(int(side)) if side < 1e15 else f"{side:.2g}"


def _check_input_shapes(path: Path, config: Any) -> None:
    """InputError naming the file and the shape when a fixed input is larger than a job
    could hold: a side over MAX_INPUT_SIDE, or more than MAX_INPUT_VALUES values."""
    for shape in input_shapes(config):
        sides = [_number(side) for side in shape[1:]]
        known = [side for side in sides if side is not None]
        shown = "x".join(_side(side) for side in sides)
        spatial = known[:-1] if len(sides) >= 3 else []  # all but the channels
        if any(side > MAX_INPUT_SIDE for side in spatial):
            raise InputError(
                f"{path.name}: its input of {shown} is larger than the limit of "
                f"{MAX_INPUT_SIDE} pixels a side; it was not loaded"
            )
        if math.prod(known) > MAX_INPUT_VALUES:
            raise InputError(
                f"{path.name}: its input of {shown} holds more than the limit of "
                f"{_count(MAX_INPUT_VALUES)} values; it was not loaded"
            )


def code_in_config(node: Any) -> str | None:
    """What in a parsed ``config.json`` carries code, or None. Only the structure counts
    (``class_name`` values, serialised-function keys), so a layer merely *named* "Lambda"
    or a string that reads like a marker is harmless."""
    if isinstance(node, list):
        return next((f for f in map(code_in_config, node) if f is not None), None)
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
    return next((f for f in map(code_in_config, node.values()) if f is not None), None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else math.inf


def _layers(node: Any):
    """Every ``{"class_name": ..., "config": {...}}`` dict in a parsed config."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if isinstance(item.get("class_name"), str) and isinstance(item.get("config"), dict):
                yield item
            stack.extend(item.values())


def _input_width(layer: dict) -> float | None:
    shape = (layer.get("build_config") or {}).get("input_shape")
    if isinstance(shape, list) and shape and not isinstance(shape[0], list):
        return _number(shape[-1])
    return None


def parameter_estimate(config: Any) -> float:
    """About how many weights the layers of a parsed ``config.json`` would hold: a kernel
    of (inputs x units) per dense layer, (kernel area x inputs x filters) per convolution,
    (input_dim x output_dim) per embedding. A layer's input width comes from its
    ``build_config`` (Keras writes one for every built layer); where it is missing, the
    widest width in the file stands in for it, so the estimate errs on the large side."""
    layers = list(_layers(config))
    widths = [1.0]
    for layer in layers:
        settings = layer["config"]
        widths += [w for w in (_number(settings.get(k)) for k in _WIDTH_KEYS) if w is not None]
        shape = settings.get("batch_shape") or settings.get("batch_input_shape")
        if isinstance(shape, list):
            widths += [w for w in map(_number, shape) if w is not None]
    widest = max(widths)
    total = 0.0
    for layer in layers:
        settings = layer["config"]
        inputs = _input_width(layer) or widest
        units = _number(settings.get("units"))
        filters = _number(settings.get("filters"))
        if units is not None:
            total += inputs * units
        elif filters is not None:
            kernel = settings.get("kernel_size")
            sizes = kernel if isinstance(kernel, list) else [kernel]
            area = math.prod(_number(s) or 1.0 for s in sizes)
            total += area * inputs * filters
        elif settings.get("input_dim") is not None and settings.get("output_dim") is not None:
            total += (_number(settings["input_dim"]) or 0.0) * (
                _number(settings["output_dim"]) or 0.0
            )
    return total
