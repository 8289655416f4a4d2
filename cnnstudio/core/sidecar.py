"""The JSON sidecar of a library model: its schema, checked on every read and write.

A sidecar comes from outside as often as from Train (``models import`` copies a shared
model's), so it is untrusted input: read as a regular file of bounded size and nesting,
then every field the app uses is checked for its type, range and length. A sidecar that
fails is *damaged*: the entry is listed with the reason and cannot be used until the
sidecar is fixed or removed; nothing else in the library is affected.

Fields (all optional): ``class_names`` (a list of short strings), ``input_size``
(``[height, width]``, or null for a model of free input size), ``channels`` (1 or 3),
``preprocessing`` ("none" or a backbone name), ``metrics`` (name -> number), ``recipe``,
``dataset``, ``created``, ``backbone``, ``weights`` (short strings), ``run_dir``,
``imported_from`` (paths), ``fine_tune`` (a count or a flag), and the pair check that
saving adds: ``model_bytes``, ``model_sha256`` and ``model_stamp`` (inode and modification
time in ns) of the ``.keras`` file written with it (see :mod:`.model_pair`).
Unknown keys are kept as they are (bounded by the file's size and nesting): nothing reads
them.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from cnnstudio.core import files
from cnnstudio.core.backbones import BACKBONE_NAMES
from cnnstudio.core.errors import InputError
from cnnstudio.core.json_input import parse_json

MAX_BYTES = 4 * 2**20  # ImageNet-21k's 21,841 class names take about 0.5 MB
MAX_DEPTH = 8
MAX_CLASSES = 100_000
MAX_CLASS_NAME = 200  # characters
MAX_INPUT_SIDE = 2048  # pixels: a model of free input size is run at the size given here
MAX_METRICS = 200
MAX_TEXT = 1000  # recipe, dataset, created, backbone, weights
MAX_PATH = 4096  # run_dir, imported_from
PREPROCESSING = ("none", *BACKBONE_NAMES)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SHORT_TEXT = ("recipe", "dataset", "created", "backbone", "weights")
_PATH_TEXT = ("run_dir", "imported_from")


class DamagedSidecarError(InputError):
    """A sidecar that is unreadable, or whose fields are not what the schema allows."""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_text(text: str) -> bool:
    """No lone surrogates (JSON can spell them, ``\\ud800``; nothing can print them)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate(data: Any) -> dict[str, Any]:
    """``data`` (parsed JSON) as a checked sidecar dict; ValueError with the reason (the
    field and what is wrong with it, in one line) when it breaks the schema."""
    if not isinstance(data, dict):
        raise ValueError(f"is {_kind(data)}, not a JSON object")
    meta = dict(data)
    if "class_names" in meta:
        names = meta["class_names"]
        if not isinstance(names, list) or len(names) > MAX_CLASSES:
            raise ValueError(
                f"class_names is {_kind(names)}, not a list of at most {MAX_CLASSES} names"
            )
        for index, name in enumerate(names):
            if not isinstance(name, (str, int)) or isinstance(name, bool):
                raise ValueError(f"class_names[{index}] is {_kind(name)}, not text")
            if len(str(name)) > MAX_CLASS_NAME:
                raise ValueError(f"class_names[{index}] is longer than {MAX_CLASS_NAME} characters")
            if not _is_text(str(name)):
                raise ValueError(f"class_names[{index}] is not valid Unicode text")
        meta["class_names"] = [str(name) for name in names]
    if "input_size" in meta:
        meta["input_size"] = _input_size(meta["input_size"])
    if meta.get("channels") is not None:
        channels = meta["channels"]
        if not _is_int(channels) or channels not in (1, 3):
            raise ValueError(f"channels is {channels!r:.40}, not 1 or 3")
    if "preprocessing" in meta and meta["preprocessing"] not in PREPROCESSING:
        raise ValueError(
            f"preprocessing is {meta['preprocessing']!r:.40}, not one of {', '.join(PREPROCESSING)}"
        )
    if "metrics" in meta:
        meta["metrics"] = _metrics(meta["metrics"])
    for key, limit in [(k, MAX_TEXT) for k in _SHORT_TEXT] + [(k, MAX_PATH) for k in _PATH_TEXT]:
        value = meta.get(key)
        if value is not None and (
            not isinstance(value, str) or len(value) > limit or not _is_text(value)
        ):
            raise ValueError(f"{key} is {_kind(value)}, not text of at most {limit} characters")
    fine_tune = meta.get("fine_tune")
    if fine_tune is not None and not (_is_int(fine_tune) or isinstance(fine_tune, bool)):
        raise ValueError(f"fine_tune is {_kind(fine_tune)}, not a count")
    if "model_bytes" in meta and not (_is_int(meta["model_bytes"]) and meta["model_bytes"] >= 0):
        raise ValueError(f"model_bytes is {meta['model_bytes']!r:.40}, not a file size")
    stamp = meta.get("model_stamp")
    if stamp is not None and not (
        isinstance(stamp, list) and len(stamp) == 2 and all(_is_int(v) and v >= 0 for v in stamp)
    ):
        raise ValueError(f"model_stamp is {_kind(stamp)}, not an inode and a time")
    if "model_sha256" in meta and not (
        isinstance(meta["model_sha256"], str) and _SHA256.fullmatch(meta["model_sha256"])
    ):
        raise ValueError("model_sha256 is not a SHA-256 digest")
    return meta


def _input_size(size: Any) -> list[int] | None:
    if size is None or (isinstance(size, list) and size and all(s is None for s in size)):
        return None  # a model of free input size, and no size recorded
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(_is_int(s) and 1 <= s <= MAX_INPUT_SIDE for s in size)
    ):
        shown = size if isinstance(size, list) and len(size) <= 4 else _kind(size)
        raise ValueError(
            f"input_size is {str(shown)[:60]}, not [height, width] of 1 to {MAX_INPUT_SIDE} pixels"
        )
    return [int(size[0]), int(size[1])]


def _metrics(metrics: Any) -> dict[str, float]:
    if not isinstance(metrics, dict) or len(metrics) > MAX_METRICS:
        raise ValueError(
            f"metrics is {_kind(metrics)}, not an object of at most {MAX_METRICS} numbers"
        )
    checked = {}
    for key, value in metrics.items():
        if len(key) > MAX_CLASS_NAME:
            raise ValueError(f"a metric's name is longer than {MAX_CLASS_NAME} characters")
        if value is not None and not _is_number(value):
            raise ValueError(f"metric {key[:40]!r} is {_kind(value)}, not a number")
        if value is not None:
            value = float(value)  # may be nan or inf (a diverged run): shown as such
        checked[key] = value
    return checked


def label(path: Path) -> str:
    return f"sidecar {path.name}"


def read(path: str | Path) -> dict[str, Any] | None:
    """The checked sidecar at ``path`` (the ``.json`` file itself), None when there is
    none; DamagedSidecarError naming the file and the reason otherwise. Only a regular file
    of at most MAX_BYTES is read (a FIFO or ``/dev/zero`` is refused without blocking)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return None
    try:
        data = files.read_bytes(path, MAX_BYTES, what="sidecar")
        value = parse_json(data, label=label(path), max_depth=MAX_DEPTH)
        return validate(value)
    except InputError as error:
        raise DamagedSidecarError(str(error), path=str(path)) from None
    except ValueError as error:
        raise DamagedSidecarError(f"{label(path)}: {error}", path=str(path)) from None


def checked_for_writing(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` (plain JSON values) checked before it is written: what we write, we can
    read back. InputError naming the field otherwise."""
    try:
        return validate(meta)
    except ValueError as error:
        raise InputError(f"the model's description cannot be saved: {error}") from None


def finite_or_none(value: float | None) -> float | None:
    """A metric for display: None for nan and inf."""
    return value if value is not None and math.isfinite(value) else None
