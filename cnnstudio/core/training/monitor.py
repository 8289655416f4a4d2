"""Every run under the runs folder, read cheaply enough to list and follow live.

:func:`list_runs` reads only each run folder's three small files -- ``config.json``,
``status.json`` and ``history.csv`` -- each within a size limit (they are untrusted: a
folder may come from another machine, or from anyone), and turns every folder into a
:class:`RunInfo`. A folder that is not a run, or a run whose files are missing or
corrupt, is a :class:`RunInfo` too, marked unreadable with the reason: nothing in a
runs folder can make the list fail. :class:`RunsWatcher` tells a front end which runs
changed since it last looked, from the files' sizes and times alone, so a window can
poll every second. :func:`rename_run` and :func:`delete_run` take the run's lock first:
a running run is refused. Imports no TensorFlow.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import stat
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cnnstudio.core import paths
from cnnstudio.core.errors import InputError
from cnnstudio.core.training import runs, status
from cnnstudio.core.training.lock import LOCK_FILE, RunLock
from cnnstudio.core.training.params import TrainConfig

#: the small files a listing reads, and whose sizes and times tell a change
WATCHED_FILES = (runs.CONFIG_FILE, status.STATUS_FILE, runs.HISTORY_FILE)
#: the hyperparameters a list shows (of the stored settings)
PARAM_NAMES = ("learning_rate", "batch_size", "augment", "backbone", "fine_tune")
_RUN_MARKS = (*WATCHED_FILES, "backup", "checkpoints")


@dataclass(frozen=True)
class RunInfo:
    """One run folder as a list shows it; ``status`` is ``unreadable`` (with ``reason``)
    for a folder that is not a run or a run that cannot be read."""

    name: str
    path: Path
    status: str
    reason: str = ""
    recipe: str | None = None
    dataset: str | None = None
    started: str | None = None
    updated: str | None = None
    epochs_completed: int = 0
    epochs: int | None = None
    best_val_accuracy: float | None = None
    test_accuracy: float | None = None
    duration_seconds: float | None = None
    workers: int = 1
    params: dict[str, Any] = field(default_factory=dict)
    steps_per_epoch: int | None = None  # batches per epoch (runs from before: None)

    @property
    def readable(self) -> bool:
        return self.status != "unreadable"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``cnnstudio runs list --json``)."""
        values = asdict(self)
        values["path"] = str(self.path)
        return values


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text(value: Any, limit: int = 200) -> str | None:
    return None if value is None else str(value)[:limit]


def _params(config: dict[str, Any]) -> dict[str, Any]:
    """The :data:`PARAM_NAMES` of stored settings (None where a recipe has none)."""
    try:
        values = TrainConfig.from_dict(config).hyperparameters()
    except (TypeError, ValueError):
        values = {}
    return {name: _plain(values.get(name)) for name in PARAM_NAMES}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else None
    return str(value)[:100]


def read_run(path: str | Path, now: float | None = None) -> RunInfo:
    """The :class:`RunInfo` of one folder (never raises for what is in the folder)."""
    path = Path(path)
    name = path.name

    def unreadable(reason: str) -> RunInfo:
        return RunInfo(name=name, path=path, status="unreadable", reason=reason)

    if not path.is_dir():
        return unreadable("not a folder")
    present = {mark for mark in _RUN_MARKS if (path / mark).exists()}
    if not present & set(WATCHED_FILES):
        return unreadable("not a run folder (no config.json, status.json or history.csv)")
    for missing in WATCHED_FILES[:2]:
        if missing not in present:
            return unreadable(f"{missing} is missing")
    try:
        config = runs.read_config(path)
        state = status.read_status(path)
    except InputError as error:
        return unreadable(str(error))
    done = _count(state.get("epochs_completed")) or 0
    best = None
    if runs.HISTORY_FILE in present:
        try:
            header, rows = runs.history_rows(path)
        except InputError as error:
            return unreadable(str(error))
        # Keras creates history.csv empty and writes its header with the first epoch's
        # row: until then (or when a run was killed in its first epoch) no epoch is done
        if header and "epoch" not in header:
            return unreadable("history.csv has no epoch column")
        readable = len({runs.epoch_of(row) for row in rows} - {None})
        if readable < done:
            return unreadable(
                f"history.csv has {readable} readable epochs, status.json says {done} are done"
            )
        best = _best(rows, "val_accuracy")
    elif done:
        return unreadable(f"history.csv is missing (status.json says {done} epochs are done)")
    return RunInfo(
        name=name,
        path=path,
        status=status.effective_state(state, now),
        recipe=_text(config.get("recipe") or state.get("recipe")),
        dataset=_text(state.get("dataset") or config.get("data")),
        started=_text(state.get("started"), 40),
        updated=_text(state.get("updated"), 40),
        epochs_completed=done,
        epochs=_count(state.get("epochs")) or _count(config.get("epochs")),
        best_val_accuracy=best,
        test_accuracy=_number(state.get("test_accuracy")),
        duration_seconds=_number(state.get("train_seconds")),
        workers=_count(state.get("workers")) or 1,
        params=_params(config),
        steps_per_epoch=_count(state.get("steps_per_epoch")) or None,
    )


def _best(rows: list[dict[str, str]], column: str) -> float | None:
    best = None
    for row in rows:
        try:
            value = float(row.get(column) or "nan")
        except ValueError:
            continue
        if math.isfinite(value) and (best is None or value > best):
            best = value
    return best


def run_folders(root: str | Path | None = None) -> list[Path]:
    """The folders under the runs folder (hidden ones left out), by name."""
    root = Path(root) if root is not None else paths.runs_dir()
    try:
        entries = [p for p in root.iterdir() if not p.name.startswith(".") and p.is_dir()]
    except OSError:
        return []
    return sorted(entries, key=lambda p: p.name)


def list_runs(root: str | Path | None = None) -> list[RunInfo]:
    """Every folder under the runs folder as a :class:`RunInfo`, by name."""
    return [read_run(folder) for folder in run_folders(root)]


def find_run(run: str | Path, root: str | Path | None = None) -> Path:
    """A run given by its name (a folder of the runs folder) or by its folder's path."""
    text = str(run)
    candidate = Path(text).expanduser()
    if os.sep in text or (os.altsep and os.altsep in text) or text in (".", ".."):
        if candidate.is_dir():
            return candidate
        raise InputError(f"run folder {text} does not exist", param="run")
    root = Path(root) if root is not None else paths.runs_dir()
    if (root / text).is_dir():
        return root / text
    if candidate.is_dir():
        return candidate
    names = [p.name for p in run_folders(root)]
    hint = f"; the runs are {', '.join(names[:10])}" + (", ..." if len(names) > 10 else "")
    raise InputError(
        f"no run named '{text[:100]}' in {root}{hint if names else ' (there are none yet)'}",
        param="run",
    )


def run_history(path: str | Path) -> dict[str, list[float]]:
    """Every per-epoch column of a run's history.csv (epochs 1-based, a re-run epoch
    once); {} when there is none."""
    return runs.read_history(path, columns=())


def _check_idle(path: Path, lock: RunLock, action: str) -> None:
    """Refuse to touch a run that trains, here (its lock) or elsewhere (its heartbeat)."""
    lock.acquire()  # RunFolderBusyError naming the trainer on this machine
    try:
        state = status.read_status(path) if (path / status.STATUS_FILE).exists() else {}
    except InputError:
        return
    if status.effective_state(state) == "running":
        lock.release()
        raise InputError(
            f"run {path.name} is training on {str(state.get('host'))[:100]} (its status was "
            f"updated at {str(state.get('updated'))[:40]}); it cannot be {action} now",
            param="run",
        )


def check_run_name(name: str) -> str:
    text = str(name)
    bad = (
        not text.strip()
        or text.startswith(".")
        or "/" in text
        or "\0" in text
        or (os.altsep and os.altsep in text)
        or len(text.encode("utf-8", "surrogateescape")) > 200
        or not text.isprintable()
    )
    if bad:
        raise InputError(
            f"'{text[:60]}' cannot name a run folder: use letters, digits, spaces, "
            "'-', '_' or '.', not starting with '.'",
            param="name",
        )
    return text


def rename_run(path: str | Path, new_name: str) -> Path:
    """Rename a run folder in place; refused while it trains or if the name is taken."""
    path = Path(path)
    target = path.parent / check_run_name(new_name)
    if target.exists():
        raise InputError(f"a run named '{target.name}' exists already", param="name")
    lock = RunLock(path, purpose="renaming")
    _check_idle(path, lock, "renamed")
    try:
        path.rename(target)
    except OSError as error:
        raise InputError(f"cannot rename {path}: {error.strerror or error}") from None
    finally:
        lock.release()
    return target


def delete_run(path: str | Path) -> None:
    """Delete a run folder (only one that looks like a run); refused while it trains."""
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        raise InputError(f"{path} is not a run folder", param="run")
    if not any((path / mark).exists() for mark in _RUN_MARKS):
        raise InputError(f"{path} does not look like a run folder; it was not deleted", param="run")
    lock_file = path / LOCK_FILE
    with contextlib.suppress(OSError):
        if not stat.S_ISREG(os.lstat(lock_file).st_mode) and not lock_file.is_dir():
            # a FIFO, a device or a link: no trainer can hold it (RunLock refuses it), and
            # it goes with the folder anyway; a real lock is taken in its place
            os.unlink(lock_file)
    lock = RunLock(path, purpose="deleting")
    _check_idle(path, lock, "deleted")
    try:
        shutil.rmtree(path)
    except OSError as error:
        raise InputError(f"cannot delete {path}: {error.strerror or error}") from None
    finally:
        lock.release()


Signature = tuple[tuple[int, int] | None, ...]


def signature(path: Path) -> Signature:
    """What changes when a run's small files change: their sizes and times."""
    marks: list[tuple[int, int] | None] = []
    for name in WATCHED_FILES:
        try:
            info = os.stat(path / name)
            marks.append((info.st_mtime_ns, info.st_size))
        except OSError:
            marks.append(None)
    return tuple(marks)


@dataclass
class RunsChange:
    """What :meth:`RunsWatcher.poll` found: runs that appeared, went or changed, and
    ``touched``: the names of the runs whose files changed (a history row appended
    changes no :class:`RunInfo` field when it beats no best: the curves still move)."""

    added: list[RunInfo] = field(default_factory=list)
    changed: list[RunInfo] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.touched)


class RunsWatcher:
    """Follows the runs folder: :meth:`poll` costs a directory listing and three stats
    per run, and reads only the runs whose files changed (or whose heartbeat may have
    gone stale: a running run is read again at least every ``recheck_seconds``)."""

    def __init__(self, root: str | Path | None = None, recheck_seconds: float = 10.0) -> None:
        self.root = Path(root) if root is not None else paths.runs_dir()
        self.recheck_seconds = recheck_seconds
        self._known: dict[str, tuple[Signature, RunInfo, float]] = {}

    @property
    def runs(self) -> list[RunInfo]:
        return [info for _, info, _ in (self._known[n] for n in sorted(self._known))]

    def poll(self, now: float | None = None) -> RunsChange:
        """What changed since the last poll (everything, the first time)."""
        now = time.time() if now is None else now
        change = RunsChange()
        seen = set()
        for folder in run_folders(self.root):
            seen.add(folder.name)
            marks = signature(folder)
            known = self._known.get(folder.name)
            if known is not None and known[0] == marks:
                stale_check = (
                    known[1].status == "running" and now - known[2] >= self.recheck_seconds
                )
                if not stale_check:
                    continue
            info = read_run(folder, now)
            self._known[folder.name] = (marks, info, now)
            if known is None:
                change.added.append(info)
            elif info != known[1]:
                change.changed.append(info)
            if known is not None and known[0] != marks:
                change.touched.append(folder.name)
        for name in sorted(set(self._known) - seen):
            del self._known[name]
            change.removed.append(name)
        return change
