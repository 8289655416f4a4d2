"""A run folder's finished epochs, read back from its ``history.csv`` so that a resumed
run's curves start where they stopped."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

log = logging.getLogger(__name__)

#: history.csv columns drawn again when a run is resumed: (column, plot series)
HISTORY_SERIES = (
    ("loss", "loss"),
    ("val_loss", "val_loss"),
    ("accuracy", "accuracy"),
    ("val_accuracy", "val_accuracy"),
)


def read_history(run_dir: str | Path, epochs: int | None = None) -> dict[str, list[float]]:
    """The per-epoch metrics of a run folder's ``history.csv`` (Keras' CSVLogger) as
    ``{"epoch": [1, 2, ...], "loss": [...], ...}``, epochs 1-based. A re-run epoch keeps
    its last row; with ``epochs``, rows after that many finished epochs (a cut epoch that
    was logged) are left out. ``{}`` when the file is missing or unreadable."""
    rows: dict[int, dict[str, str]] = {}
    try:
        with Path(run_dir, "history.csv").open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                try:
                    rows[int(row["epoch"]) + 1] = row  # CSVLogger counts from 0
                except (KeyError, TypeError, ValueError):
                    continue
    except (OSError, csv.Error) as error:
        log.info("no history for %s: %s", run_dir, error)
        return {}
    kept = sorted(e for e in rows if epochs is None or e <= epochs)
    history: dict[str, list[float]] = {"epoch": [float(e) for e in kept]}
    for column, _series in HISTORY_SERIES:
        values = []
        for epoch in kept:
            try:
                values.append(float(rows[epoch].get(column) or "nan"))
            except ValueError:
                values.append(float("nan"))
        history[column] = values
    return history
