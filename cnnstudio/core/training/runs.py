"""Run folders: where a run keeps what lets it resume, and how to read them back.

Every run has a folder (``paths.runs_dir()/<recipe>-<data>-<time>`` unless given):
``config.json`` (the settings, so a run can be resumed from its folder alone),
``backup/`` (:mod:`.checkpoints`: a run killed mid-way continues from its last finished
epoch when started again with the same folder), ``checkpoints/best.keras`` (the model of
the best validation accuracy so far), ``history.csv`` (one line per epoch, Keras'
``CSVLogger``), ``status.json`` (:mod:`.status`), ``lock`` (:mod:`.lock`) and ``logs/``
(TensorBoard, when the package is installed). Files of a run folder are read within size
limits: a folder may come from anywhere. Imports no TensorFlow.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import logging
import math
from pathlib import Path
from typing import Any

from cnnstudio.core import files, paths
from cnnstudio.core.errors import InputError, Remedy
from cnnstudio.core.training.data_files import BUILTIN_DATASETS
from cnnstudio.core.training.params import TrainConfig

log = logging.getLogger(__name__)

#: the per-epoch metrics :func:`read_history` returns (columns of history.csv)
HISTORY_COLUMNS = ("loss", "val_loss", "accuracy", "val_accuracy")
HISTORY_FILE = "history.csv"
CONFIG_FILE = "config.json"
#: history.csv holds a line per epoch; a bigger file is not a run's
MAX_HISTORY_BYTES = 8 << 20
#: config.json is a few hundred bytes
MAX_CONFIG_BYTES = 256 << 10


def new_run_dir(recipe: str, data: str) -> Path:
    stem = Path(data).stem if data not in BUILTIN_DATASETS else data
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{recipe}-{stem}")
    path = paths.runs_dir() / f"{safe}-{stamp}"
    counter = 2
    while path.exists():
        path = paths.runs_dir() / f"{safe}-{stamp}-{counter}"
        counter += 1
    return path


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """A run folder's config.json as a dict (bounded, regular files only); InputError
    when it is missing, unreadable or not a JSON object."""
    path = Path(run_dir) / CONFIG_FILE
    raw = files.read_bytes(path, MAX_CONFIG_BYTES, what="run settings", param="run_dir")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise files.file_error(path, "run settings", f"is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise files.file_error(path, "run settings", "is not a JSON object")
    return data


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The settings a run folder was started with (to resume it)."""
    try:
        config = TrainConfig.from_dict(read_config(run_dir))
    except (OSError, ValueError, TypeError) as error:
        raise InputError(
            f"{run_dir} is not a training run folder (no readable config.json): {error}",
            param="run_dir",
        ) from None
    config.run_dir = str(run_dir)
    return config


def _same_data(a: str, b: str) -> bool:
    """Two dataset settings name the same data (a file or folder in any spelling)."""
    if a == b:
        return True
    if a in BUILTIN_DATASETS or b in BUILTIN_DATASETS:
        return False
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def _describe_run(values: dict[str, Any]) -> str:
    data = str(values.get("data", "?"))
    data = data if data in BUILTIN_DATASETS else Path(data).name
    text = f"{values.get('recipe', '?')} on {data} at {values.get('image_size', '?')} px"
    if values.get("recipe") == "transfer":
        text += f" with {values.get('backbone', '?')}"
    if values.get("num_classes"):
        text += f", {values['num_classes']} classes"
    return text


def check_run_folder(
    run_dir: str | Path, config: TrainConfig, num_classes: int | None = None
) -> dict[str, Any] | None:
    """Refuse to reuse a run folder made with other settings (its backup would not fit
    the new model, and a failed load used to leave a rewritten config.json behind).

    Compares recipe, data, image size, backbone (transfer) and, when ``num_classes`` is
    given and the folder recorded it, the class count. ``config`` must be resolved.
    Returns the folder's stored settings (None for a new folder)."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        return None
    try:
        stored = read_config(run_dir)
    except (OSError, ValueError) as error:
        raise InputError(
            f"{path} is unreadable ({error}); use another run folder or delete that file",
            param="run_dir",
        ) from None
    mismatch = (
        stored.get("recipe") != config.recipe
        or not _same_data(str(stored.get("data", "")), config.data)
        or int(stored.get("image_size") or 0) != config.image_size
        or (config.recipe == "transfer" and stored.get("backbone") != config.backbone)
        or (
            num_classes is not None
            and stored.get("num_classes") is not None
            and int(stored["num_classes"]) != num_classes
        )
    )
    if mismatch:
        wanted = {**config.to_dict(), "num_classes": num_classes}
        raise InputError(
            f"run folder {run_dir} was made for {_describe_run(stored)}, not "
            f"{_describe_run(wanted)}",
            param="run_dir",
            remedy=Remedy.OTHER_RUN_FOLDER,
        )
    return stored


def completed_epochs(run_dir: str | Path) -> int:
    """Epochs a run folder's backup has finished (0 when none)."""
    meta = Path(run_dir) / "backup" / "training_metadata.json"
    try:
        epoch = json.loads(files.read_bytes(meta, MAX_CONFIG_BYTES))["epoch"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return 0
    return epoch if isinstance(epoch, int) and epoch >= 0 else 0


def history_rows(run_dir: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a run folder's ``history.csv`` (Keras' CSVLogger), read
    within :data:`MAX_HISTORY_BYTES` (the file is untrusted: regular files only). A last
    line cut short by a kill is left out. InputError when the file cannot be read."""
    path = Path(run_dir) / HISTORY_FILE
    raw = files.read_bytes(path, MAX_HISTORY_BYTES, what="history")
    text = raw.decode("utf-8", errors="replace")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # a row cut short by a kill
    try:
        reader = csv.DictReader(io.StringIO(text))
        header = list(reader.fieldnames or [])
        rows = [row for row in reader if None not in row]  # rows with extra cells: torn
    except csv.Error as error:
        raise files.file_error(path, "history", f"is not a CSV file ({error})") from None
    return header, rows


def history_header(path: Path) -> list[str]:
    """The column names of a history.csv ([] when it has none yet)."""
    try:
        return history_rows(path.parent)[0] if path.name == HISTORY_FILE else []
    except InputError:
        return []


def epoch_of(row: dict[str, str]) -> int | None:
    """The epoch (from 1) of a history row; None when its epoch cell is not a number."""
    try:
        return int(row["epoch"]) + 1  # CSVLogger counts from 0
    except (KeyError, TypeError, ValueError):
        return None


def trim_history(run_dir: str | Path, epochs: int) -> None:
    """Keep the rows of the first ``epochs`` epochs in history.csv (a resumed run
    rewrites the rest), one row per epoch, and drop a row a kill cut short. Atomic."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.exists():
        return
    header, rows = history_rows(run_dir)
    kept: dict[int, dict[str, str]] = {}
    for row in rows:
        epoch = epoch_of(row)
        if epoch is not None and epoch <= epochs:
            kept[epoch] = row  # a re-run epoch: its last row
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\r\n")
    if header:
        writer.writeheader()
    for epoch in sorted(kept):
        writer.writerow(kept[epoch])
    data = buffer.getvalue().encode("utf-8")
    if data != path.read_bytes():
        files.write_bytes(path, data, overwrite=True)


def best_so_far(run_dir: Path, column: str) -> float | None:
    """The highest value of ``column`` in the run's history.csv (None if there is none)."""
    try:
        rows = history_rows(run_dir)[1]
    except InputError:
        return None
    values = []
    for row in rows:
        try:
            value = float(row.get(column) or "nan")
        except ValueError:  # "NA": an epoch whose validation was cut short
            continue
        if not math.isnan(value):
            values.append(value)
    return max(values) if values else None


def read_history(
    run_dir: str | Path, epochs: int | None = None, columns: tuple[str, ...] = HISTORY_COLUMNS
) -> dict[str, list[float]]:
    """The per-epoch metrics of a run folder's ``history.csv`` (Keras' CSVLogger) as
    ``{"epoch": [1, 2, ...], "loss": [...], ...}`` (``columns``: the
    :data:`HISTORY_COLUMNS`, or every column the file has when empty), epochs 1-based.
    A re-run epoch keeps its last row; with ``epochs``, rows after that many finished
    epochs (a cut epoch that was logged) are left out. ``{}`` when the file is missing or
    unreadable."""
    try:
        header, table = history_rows(run_dir)
    except InputError as error:
        log.info("no history for %s: %s", run_dir, error)
        return {}
    rows: dict[int, dict[str, str]] = {}
    for row in table:
        epoch = epoch_of(row)
        if epoch is not None:
            rows[epoch] = row
    kept = sorted(e for e in rows if epochs is None or e <= epochs)
    history: dict[str, list[float]] = {"epoch": [float(e) for e in kept]}
    for column in columns or tuple(c for c in header if c != "epoch"):
        values = []
        for epoch in kept:
            try:
                values.append(float(rows[epoch].get(column) or "nan"))
            except ValueError:
                values.append(float("nan"))
        history[column] = values
    return history
