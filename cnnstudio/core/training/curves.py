"""The numbers behind training curves: TensorBoard's smoothing, per-batch values out of
Keras' running means, and the scalars of several runs as one CSV table.

Imports no TensorFlow (the runs browser and the Train tab use it at start-up).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence

import numpy as np

#: TensorBoard's slider stops short of 1: a weight of 1 would never move off the first value
MAX_SMOOTHING = 0.999
#: the columns of a history that are not metrics
NOT_METRICS = ("epoch", "wall_time")


def ema_smooth(values: Sequence[float] | np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's scalar smoothing: an exponential moving average, debiased.

    ``last = last * weight + (1 - weight) * value`` starting from 0, divided by
    ``1 - weight ** n`` after n finite values, so the first points are not pulled toward
    zero. A non-finite value passes through unchanged and does not enter the average;
    a constant series stays as it is (its rounding noise is not smoothed into a slope).
    ``weight`` is clamped to 0 .. :data:`MAX_SMOOTHING`; 0 returns the values."""
    data = np.asarray(values, np.float64)
    weight = min(max(float(weight), 0.0), MAX_SMOOTHING)
    if weight == 0.0 or data.size == 0:
        return data.copy()
    finite = np.isfinite(data)
    if finite.all() and np.all(data == data[0]):
        return data.copy()
    out = data.copy()
    last, count = 0.0, 0
    for i, value in enumerate(data):
        if not finite[i]:
            continue
        last = last * weight + (1.0 - weight) * value
        count += 1
        out[i] = last / (1.0 - weight**count)
    return out


def recent_mean(mean: float, batch: int, previous_mean: float, previous_batch: int) -> float:
    """The mean of batches ``previous_batch + 1 .. batch`` of one epoch, from Keras'
    running means after ``previous_batch`` and after ``batch`` batches (Keras logs the
    mean of the epoch so far; throttled events skip batches). ``previous_batch`` 0
    means the epoch's start: the running mean itself."""
    if previous_batch <= 0 or batch <= previous_batch:
        return float(mean)
    total = mean * batch - previous_mean * previous_batch
    return float(total / (batch - previous_batch))


class BatchValues:
    """Turns a stream of running means (one metric, events of :class:`BatchEnd`) into
    the mean of the batches since the previous event: true per-batch values when every
    batch is reported, short windows otherwise, and no jump at an epoch's start, where
    Keras' running mean starts again from one batch."""

    def __init__(self, lower: float | None = None, upper: float | None = None) -> None:
        self.lower, self.upper = lower, upper
        self._epoch = -1
        self._batch = 0
        self._mean = math.nan

    def reset(self) -> None:
        self._epoch, self._batch, self._mean = -1, 0, math.nan

    def value(self, epoch: int, batch: int, mean: float) -> float:
        """The recent batches' mean for the running ``mean`` after ``batch`` of ``epoch``."""
        same_epoch = epoch == self._epoch and batch > self._batch and math.isfinite(self._mean)
        previous = self._batch if same_epoch else 0
        value = recent_mean(mean, batch, self._mean, previous)
        self._epoch, self._batch, self._mean = epoch, batch, mean
        if self.lower is not None:
            value = max(value, self.lower)
        if self.upper is not None:
            value = min(value, self.upper)
        return value


def metric_names(histories: Mapping[str, Mapping[str, Sequence[float]]]) -> list[str]:
    """The metric columns of several histories: the usual four first, then the rest."""
    seen: list[str] = []
    for history in histories.values():
        for name in history:
            if name not in NOT_METRICS and name not in seen:
                seen.append(name)
    usual = [m for m in ("loss", "val_loss", "accuracy", "val_accuracy") if m in seen]
    return usual + sorted(m for m in seen if m not in usual)


def scalars_csv(histories: Mapping[str, Mapping[str, Sequence[float]]]) -> bytes:
    """The per-epoch scalars of several runs as CSV bytes (UTF-8): one row per run and
    epoch, columns ``run, epoch, wall_time`` and every metric any of the runs has (an
    empty cell where a run has no value)."""
    metrics = metric_names(histories)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run", "epoch", "wall_time", *metrics])
    for run, history in histories.items():
        epochs = list(history.get("epoch", []))
        for i, epoch in enumerate(epochs):
            row: list[object] = [run, int(epoch)]
            for name in ("wall_time", *metrics):
                values = history.get(name, [])
                value = values[i] if i < len(values) else math.nan
                row.append(repr(float(value)) if math.isfinite(value) else "")
            writer.writerow(row)
    return buffer.getvalue().encode("utf-8", "surrogateescape")
