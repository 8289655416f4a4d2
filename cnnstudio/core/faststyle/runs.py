"""Fast style run folders: what lets a run resume after a kill, from its folder alone.

``config.json`` (the :class:`~.params.FastStyleParams`, with the style pictures' digests),
``style-1.png``, ... (the style pictures as trained on, so a resumed run needs no other
file but the photos), ``checkpoints/`` (TensorFlow checkpoints of the network, Adam's
state and the step, every ``checkpoint_every`` steps and at Stop), ``best.weights.h5``
(the network with the lowest held-out loss so far), ``history.csv`` (one line per
step: the loss terms; and the held-out loss when it was measured) and ``status.json``.

Imports no TensorFlow.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core import files, image_saving, images, paths
from cnnstudio.core.errors import InputError, Remedy
from cnnstudio.core.faststyle.params import FastStyleParams

CONFIG = "config.json"
STATUS = "status.json"
HISTORY = "history.csv"
MAX_HISTORY_BYTES = 64 << 20  # a line per logged step: a million steps fit
BEST_WEIGHTS = "best.weights.h5"
CHECKPOINTS = "checkpoints"
HISTORY_COLUMNS = ("step", "loss", "content", "style", "tv", "held_out_loss")
#: what must match for a folder's checkpoint to fit a new start with it
_SAME = (
    "size",
    "batch_size",
    "content_layers",
    "style_layers",
    "weights",
    "style_scale",
    "preserve_colors",
    "loss_version",
)


def new_run_dir(params: FastStyleParams) -> Path:
    """A new folder under the runs folder: ``faststyle-STYLE-TIME``."""
    stem = Path(params.styles[0]).stem if params.styles else "style"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:40]
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = paths.runs_dir() / f"faststyle-{safe}-{stamp}"
    counter = 2
    while path.exists():
        path = paths.runs_dir() / f"faststyle-{safe}-{stamp}-{counter}"
        counter += 1
    return path


def digest(picture: np.ndarray) -> str:
    """A short fingerprint of a picture's pixels (the same picture, read again, matches)."""
    array = np.ascontiguousarray(picture, dtype=np.uint8)
    return hashlib.sha256(repr(array.shape).encode() + array.tobytes()).hexdigest()[:16]


def style_files(run_dir: Path, count: int) -> list[Path]:
    return [run_dir / f"style-{i}.png" for i in range(1, count + 1)]


def load_config(run_dir: str | Path) -> tuple[FastStyleParams, dict[str, Any]]:
    """The params a run folder was started with, and the whole stored record."""
    path = Path(run_dir) / CONFIG
    try:
        stored = json.loads(files.read_bytes(path, 1_000_000, param="run_dir"))
        if not isinstance(stored, dict):
            raise ValueError("not a JSON object")
        params = FastStyleParams.from_dict(stored.get("params", {}))
    except InputError:
        raise InputError(
            f"{run_dir} is not a fast style run folder (no config.json); give the folder "
            "a run was started with",
            param="run_dir",
        ) from None
    except (TypeError, ValueError) as error:
        raise InputError(
            f"{path} is unreadable ({error}); use another run folder", param="run_dir"
        ) from None
    params.run_dir = str(run_dir)
    return params, stored


def check_run_folder(
    run_dir: Path, params: FastStyleParams, style_digests: list[str]
) -> dict[str, Any] | None:
    """Refuse to go on in a folder made with other settings or styles (its checkpoint
    would not be what the new settings ask for). Returns the stored record, None for a
    folder without one."""
    if not (run_dir / CONFIG).exists():
        return None
    stored_params, stored = load_config(run_dir)
    differs = [name for name in _SAME if getattr(stored_params, name) != getattr(params, name)]
    if stored.get("style_digests") != style_digests:
        differs.insert(0, "style pictures")
    if differs:
        raise InputError(
            f"run folder {run_dir} was started with other settings ({', '.join(differs)} differ)",
            param="run_dir",
            remedy=Remedy.OTHER_RUN_FOLDER,
        )
    return stored


def write_config(
    run_dir: Path, params: FastStyleParams, styles: list[np.ndarray], extra: dict[str, Any]
) -> None:
    """config.json and the style pictures (written once, when the run starts)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for path, picture in zip(style_files(run_dir, len(styles)), styles, strict=True):
        if not path.exists():
            image_saving.save_image(path, picture)
    record = {"params": params.to_dict(), "style_digests": [digest(s) for s in styles], **extra}
    files.write_bytes(run_dir / CONFIG, json.dumps(record, indent=2).encode(), overwrite=True)


def read_styles(run_dir: Path, count: int) -> list[np.ndarray]:
    """The style pictures a run folder keeps (to resume without the original files)."""
    return [images.load_image(path) for path in style_files(run_dir, count)]


def write_status(run_dir: Path, **status: Any) -> None:
    status["time"] = _dt.datetime.now().isoformat(timespec="seconds")
    files.write_bytes(run_dir / STATUS, json.dumps(status, indent=2).encode(), overwrite=True)


def append_history(run_dir: Path, rows: list[dict[str, float]]) -> None:
    """Add lines to history.csv (the header first when the file is new)."""
    if not rows:
        return
    path = run_dir / HISTORY
    new = not path.exists()
    text = io.StringIO()
    writer = csv.DictWriter(text, HISTORY_COLUMNS, extrasaction="ignore")
    if new:
        writer.writeheader()
    writer.writerows(rows)
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(text.getvalue())


def read_history(run_dir: str | Path, up_to: int | None = None) -> dict[str, list[float]]:
    """history.csv as columns (a step logged twice, after a resume, keeps its last line);
    with ``up_to``, only steps up to there. ``{}`` when there is none."""
    rows: dict[int, dict[str, str]] = {}
    try:  # bounded, regular files only: a FIFO put there must not block
        text = files.read_bytes(Path(run_dir, HISTORY), MAX_HISTORY_BYTES).decode("utf-8")
        for row in csv.DictReader(io.StringIO(text, newline="")):
            try:
                step = int(row["step"])
            except (KeyError, TypeError, ValueError):
                continue
            if up_to is None or step <= up_to:
                rows[step] = row
    except (OSError, InputError, UnicodeDecodeError, csv.Error):
        return {}
    history: dict[str, list[float]] = {name: [] for name in HISTORY_COLUMNS}
    for step in sorted(rows):
        for name in HISTORY_COLUMNS:
            try:
                history[name].append(float(rows[step].get(name) or "nan"))
            except ValueError:
                history[name].append(math.nan)
    return history
