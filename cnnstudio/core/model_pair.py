"""A model file and its JSON sidecar, written as one pair and checked as one.

The sidecar records the size and SHA-256 of the ``.keras`` file it was written with, and
its stamp (inode and modification time, which the rename into place keeps).
:func:`write_pair` writes both to hidden temporary files in the target folder, moves the
sidecar into place first and the model second. Two renames are not one: between them a
reader of an overwritten pair finds the new sidecar with the old model. That mixed pair
never passes as valid: :func:`pair_mismatch` tells it apart by the size, or, when the two
models are of one size (a network trained again), by the stamp (the old model is another
file) and then the SHA-256. So a reader sees the old pair, the new pair, or, for the
moment of an overwrite (or after a crash there), an entry refused as damaged. A new entry
appears only when its model does, after its sidecar. A failed write (a full disk) leaves
the old pair as it was and no temporary file.

The stamp keeps listing cheap: a model whose stamp matches its sidecar's is the file that
was written with it, and is not read; one whose stamp differs (a library copied elsewhere,
a mixed pair) is hashed, once per process for each version of the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnstudio.core import files, model_check, stale_files
from cnnstudio.core.errors import InputError

SIDECAR_SUFFIX = ".json"
_CHUNK = 2**20


def sidecar_path(model_path: str | Path) -> Path:
    """The JSON sidecar of a model file: same stem, ``.json``."""
    return Path(model_path).with_suffix(SIDECAR_SUFFIX)


def digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a regular file, read in chunks."""
    hasher = hashlib.sha256()
    size = 0
    with files.open_regular(path, what="model file") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return size, hasher.hexdigest()


def file_stamp(info: os.stat_result) -> list[int]:
    """What tells one file from another at a path: inode and modification time (ns)."""
    return [int(info.st_ino), int(info.st_mtime_ns)]


#: SHA-256 of model files whose stamp differs from their sidecar's, by (path, inode,
#: mtime, size): a listing hashes each such version once per process
_digests: dict[tuple[str, int, int, int], str] = {}
_MAX_DIGESTS = 1000


def _digest_of_version(path: Path, info: os.stat_result) -> str | None:
    key = (str(path), int(info.st_ino), int(info.st_mtime_ns), int(info.st_size))
    if key not in _digests:
        try:
            _digests[key] = digest(path)[1]
        except (OSError, InputError):
            return None
        if len(_digests) > _MAX_DIGESTS:
            _digests.pop(next(iter(_digests)))
    return _digests[key]


def sidecar_bytes(meta: dict[str, Any]) -> bytes:
    return json.dumps(jsonable(meta), indent=2, default=str).encode("utf-8")


def jsonable(value: Any) -> Any:
    """numpy scalars/arrays and tuples inside meta become plain JSON values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return value


def pair_mismatch(path: Path, meta: dict[str, Any], digest: str | None = None) -> str:
    """Why the sidecar ``meta`` does not belong to the model file ``path`` ("" if it may):
    the size it records differs, or the SHA-256 (``digest`` when given; else computed
    when the file's stamp is not the one the sidecar records)."""
    recorded = meta.get("model_bytes")
    try:
        info = os.stat(path)
    except OSError:
        return ""
    stamp = meta.get("model_stamp")
    if (
        digest is None
        and recorded == info.st_size
        and meta.get("model_sha256")
        and stamp is not None
        and stamp != file_stamp(info)
    ):
        digest = _digest_of_version(path, info)
    if (recorded is not None and recorded != info.st_size) or (
        digest is not None and meta.get("model_sha256") not in (None, digest)
    ):
        return (
            f"sidecar {sidecar_path(path).name} was written for another version of "
            f"{path.name} (a save under way, or cut short?); save or import the model again"
        )
    return ""


def write_pair(
    target: Path,
    write_model: Callable[[Path], None],
    meta: dict[str, Any],
    *,
    overwrite: bool,
    expected_sha256: str | None = None,
    param: str | None = "output",
) -> Path:
    """Write a model (``write_model(temporary path)``) and its sidecar as one pair at
    ``target``; see the module's notes. ``meta`` is read after ``write_model`` ran (an
    import fills it in once the copy has been loaded). Nothing is left behind on failure,
    and nothing at ``target`` changes unless both files were written in full (a full disk
    is an InputError naming the file). ``expected_sha256``: what the copy must hash to."""
    stale_files.sweep_stale_temporaries(target.parent)  # left by saves killed there before
    with files.temporary_file(target, suffix=model_check.MODEL_SUFFIX, param=param) as temp_model:
        write_model(temp_model)
        size, sha256 = digest(temp_model)
        if expected_sha256 is not None and sha256 != expected_sha256:
            raise InputError(
                f"{target.name}: the copy does not match the SHA-256 its sidecar records "
                "(the file changed while it was copied, or the sidecar belongs to another "
                "version of it)"
            )
        stamp = file_stamp(os.stat(temp_model))  # the rename into place keeps it
        meta = {**meta, "model_bytes": size, "model_sha256": sha256, "model_stamp": stamp}
        json_target = sidecar_path(target)
        with files.temporary_file(json_target, suffix=".part", param=param) as temp_json:
            temp_json.write_bytes(sidecar_bytes(meta))
            files.place_file(temp_json, json_target, overwrite=overwrite)
            try:
                files.place_file(temp_model, target, overwrite=overwrite)
            except BaseException:
                if not overwrite:  # the sidecar we placed must not stay without its model
                    json_target.unlink(missing_ok=True)
                raise
    files.sync_folder(target.parent)
    return target


def copier(source: Path) -> Callable[[Path], None]:
    """A ``write_model`` for :func:`write_pair` that copies the regular file ``source``."""

    def copy(temp: Path) -> None:
        with (
            files.open_regular(
                source, what="model file", max_bytes=model_check.MAX_MODEL_BYTES
            ) as src,
            open(temp, "wb") as dst,
        ):
            shutil.copyfileobj(src, dst, _CHUNK)

    return copy
