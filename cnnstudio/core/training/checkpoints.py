"""The backup a run resumes from, on disk: which epoch, which weights, whether they are
whole, and the random state that makes the resumed run the same as an uninterrupted one.

``backup/`` keeps the weights of the last two finished epochs (``epoch-000007.weights.h5``
and the one before: Keras' ``double_checkpoint`` idea) and ``training_metadata.json``,
which names them with their size and SHA-256. A backup is written in an order that a kill
at any point cannot break: the weights go to a temporary file that is renamed when
complete, then the metadata is replaced in one step, then the weights no longer named are
removed. Resuming checks the latest backup's size and checksum and falls back to the
previous one, with a notice, when the latest was cut short or damaged.

The files are not fsynced (that would cost every epoch a disk flush): a killed process
cannot tear a renamed file, and after a power cut the checksums catch a torn one.
Folders written by Keras' own ``BackupAndRestore`` (``latest.weights.h5``) still resume.
Imports no TensorFlow.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnstudio.core import files
from cnnstudio.core.errors import InputError, Remedy

BACKUP_DIR = "backup"
METADATA_FILE = "training_metadata.json"
LEGACY_WEIGHTS = "latest.weights.h5"  # Keras' BackupAndRestore
_WEIGHTS_NAME = re.compile(r"^epoch-(\d{1,9})\.weights\.h5$")
_MAX_METADATA_BYTES = 1 << 20


@dataclass(frozen=True)
class BackupPoint:
    """The state after a finished epoch: its weights file and what checks it."""

    epoch: int  # epochs finished
    weights: Path
    size: int | None = None  # None: a folder written before sizes were recorded
    sha256: str | None = None
    #: the model's random-generator states (Dropout's seed generators), in model order
    random_state: list[list[int]] = field(default_factory=list)

    def entry(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "weights": self.weights.name,
            "size": self.size,
            "sha256": self.sha256,
            "random_state": self.random_state,
        }


def backup_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / BACKUP_DIR


def weights_name(epoch: int) -> str:
    return f"epoch-{epoch:06d}.weights.h5"


def read_metadata(run_dir: str | Path) -> dict[str, Any]:
    """The backup's metadata ({} when there is none); InputError when it is unreadable."""
    path = backup_dir(run_dir) / METADATA_FILE
    if not path.exists():
        return {}
    raw = files.read_bytes(path, _MAX_METADATA_BYTES, what="backup metadata")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise files.file_error(path, "backup metadata", f"is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise files.file_error(path, "backup metadata", "is not a JSON object")
    return data


def _point(folder: Path, entry: Any) -> BackupPoint | None:
    if not isinstance(entry, dict):
        return None
    epoch, name = entry.get("epoch"), entry.get("weights", LEGACY_WEIGHTS)
    if not isinstance(epoch, int) or epoch < 0 or not isinstance(name, str):
        return None
    if name != LEGACY_WEIGHTS and not _WEIGHTS_NAME.match(name):
        return None  # only our own names: the metadata cannot point outside the folder
    size, digest = entry.get("size"), entry.get("sha256")
    state = entry.get("random_state")
    valid_state = isinstance(state, list) and all(
        isinstance(row, list) and all(isinstance(v, int) for v in row) for row in state
    )
    return BackupPoint(
        epoch=epoch,
        weights=folder / name,
        size=size if isinstance(size, int) else None,
        sha256=digest if isinstance(digest, str) else None,
        random_state=state if valid_state else [],
    )


def backup_points(run_dir: str | Path) -> tuple[list[BackupPoint], list[str]]:
    """The backups of a run folder, newest first, and notices about what could not be
    read. Unreadable metadata falls back to the weights files found in the folder."""
    folder = backup_dir(run_dir)
    notes: list[str] = []
    try:
        metadata = read_metadata(run_dir)
    except InputError as error:
        notes.append(f"{error}; looking for the backup's weights files instead")
        found = sorted(
            (int(m.group(1)), p)
            for p in (folder.iterdir() if folder.is_dir() else [])
            if (m := _WEIGHTS_NAME.match(p.name))
        )
        return [BackupPoint(epoch, path) for epoch, path in reversed(found)], notes
    points = [_point(folder, metadata), _point(folder, metadata.get("previous"))]
    if "previous" not in metadata and (folder / f"{METADATA_FILE}.bkp").exists():
        # Keras' own double checkpoint: the previous state sits in *.bkp files
        with contextlib.suppress(OSError, ValueError, InputError):
            raw = files.read_bytes(folder / f"{METADATA_FILE}.bkp", _MAX_METADATA_BYTES)
            old = json.loads(raw)
            if isinstance(old, dict) and isinstance(old.get("epoch"), int):
                points.append(BackupPoint(old["epoch"], folder / f"{LEGACY_WEIGHTS}.bkp"))
    return [p for p in points if p is not None], notes


def damage(point: BackupPoint) -> str | None:
    """Why a backup cannot be used (in words), or None when it is whole."""
    try:
        info = files.check_regular_file(point.weights, what="backup")
    except InputError as error:
        return str(error)
    if point.size is not None and info.st_size != point.size:
        return (
            f"its weights file is {info.st_size} bytes instead of {point.size}: it was cut "
            "short while it was written"
        )
    if point.sha256 is not None:
        if file_sha256(point.weights) != point.sha256:
            return "its weights file does not match its checksum: it is damaged"
        return None
    return _h5_damage(point.weights)


def _h5_damage(path: Path) -> str | None:
    """Weights files without a recorded checksum: can HDF5 open them at all?"""
    try:
        import h5py  # Keras' own dependency; imported only for legacy backups

        with h5py.File(path, "r") as handle:
            handle.keys()
    except (OSError, ValueError) as error:
        return f"its weights file cannot be read ({str(error).splitlines()[0][:120]})"
    return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with files.open_regular(path) as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def choose_backup(run_dir: str | Path) -> tuple[BackupPoint | None, list[str]]:
    """The newest whole backup of a run folder and the notices to show about the ones
    passed over (None when the folder has no backup: a new run). InputError when every
    backup is damaged: resuming would silently start over."""
    points, notes = backup_points(run_dir)
    reasons = []
    for point in points:
        reason = damage(point)
        if reason is None:
            if reasons:
                notes.append(
                    f"the backup after epoch {points[0].epoch} is damaged ({reasons[0]}); "
                    f"resuming from the previous backup, after epoch {point.epoch}"
                )
            return point, notes
        reasons.append(reason)
    if points:
        raise InputError(
            f"the backup in {backup_dir(run_dir)} is damaged ({reasons[0]}) and there is "
            "no earlier one to resume from",
            param="run_dir",
            remedy=Remedy.OTHER_RUN_FOLDER,
        )
    return None, notes


def write_backup(
    run_dir: str | Path,
    epoch: int,
    save_weights: Callable[[Path], None],
    random_state: list[list[int]],
) -> BackupPoint:
    """Back up the state after ``epoch`` finished epochs: ``save_weights(path)`` writes
    the weights (a ``.weights.h5`` path); the previous backup is kept as the fallback."""
    folder = backup_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / weights_name(epoch)
    temp = folder / f".incoming-{weights_name(epoch)}"
    try:
        save_weights(temp)
        size = temp.stat().st_size
        digest = file_sha256(temp)
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    point = BackupPoint(epoch, final, size, digest, random_state)
    try:
        current = backup_points(run_dir)[0]
    except (OSError, InputError):
        current = []
    # the newest whole backup before this one becomes the fallback
    previous = next((p for p in current if p.epoch < epoch and p.weights.exists()), None)
    metadata: dict[str, Any] = {**point.entry(), "batch": 0}
    if previous is not None:
        metadata["previous"] = previous.entry()
    _replace_json(folder / METADATA_FILE, metadata)
    keep = {final.name} | ({previous.weights.name} if previous else set())
    for path in folder.iterdir():
        stale = _WEIGHTS_NAME.match(path.name) or path.name.startswith(
            (LEGACY_WEIGHTS, f"{METADATA_FILE}.bkp", ".incoming-")
        )
        if stale and path.name not in keep:
            path.unlink(missing_ok=True)
    return point


def _replace_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` in one step (not fsynced: see the module's note)."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.chmod(temp, files.new_file_mode())  # mkstemp makes it 0600: the umask's mode
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
