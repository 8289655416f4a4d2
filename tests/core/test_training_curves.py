"""The numbers behind the curves: TensorBoard's smoothing by hand, per-batch values out of
Keras' running means, and the CSV of several runs' scalars."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from cnnstudio.core.training import curves


def test_ema_with_debiasing_matches_a_hand_computation():
    values = [1.0, 3.0, 2.0, math.nan, 4.0]
    w = 0.6
    # by hand: last = w * last + (1 - w) * v from 0; divided by 1 - w ** n
    l1 = 0.4 * 1.0  # 0.4
    l2 = 0.6 * l1 + 0.4 * 3.0  # 1.44
    l3 = 0.6 * l2 + 0.4 * 2.0  # 1.664
    l4 = 0.6 * l3 + 0.4 * 4.0  # 2.5984 (the NaN is skipped)
    expected = [l1 / 0.4, l2 / (1 - 0.36), l3 / (1 - 0.216), math.nan, l4 / (1 - 0.1296)]
    smoothed = curves.ema_smooth(values, w)
    assert smoothed[:3] == pytest.approx([1.0, 2.25, 2.1224489795918], rel=1e-9)
    np.testing.assert_allclose(smoothed, expected, rtol=1e-12)
    assert math.isnan(smoothed[3])
    assert curves.ema_smooth(values, 0.0)[1] == 3.0  # no smoothing
    assert curves.ema_smooth([0.3, 0.3, 0.3], 0.9).tolist() == [0.3, 0.3, 0.3]  # constant
    assert curves.ema_smooth([], 0.5).size == 0
    # weight 1 is clamped: the curve still follows the data, slowly
    assert curves.ema_smooth([0.0, 10.0], 1.0)[1] == pytest.approx(10 * 0.001 / (1 - 0.999**2))


def test_running_means_become_recent_batch_means_without_a_cliff():
    losses = [4.0, 2.0, 3.0, 1.0, 5.0, 0.5, 0.7, 0.3]  # per batch; epochs of 4 batches
    batch_values = curves.BatchValues()
    seen = []
    for epoch in (1, 2):
        epoch_losses = losses[(epoch - 1) * 4 : epoch * 4]
        for batch in (1, 2, 4):  # throttled: batch 3 not reported
            mean = float(np.mean(epoch_losses[:batch]))  # what Keras logs
            seen.append(batch_values.value(epoch, batch, mean))
    # batch 1: itself; batch 2: itself; batch 4: the mean of batches 3 and 4
    assert seen == pytest.approx([4.0, 2.0, 2.0, 5.0, 0.5, 0.5])
    accuracy = curves.BatchValues(0.0, 1.0)
    accuracy.value(1, 1, 1.0)
    assert accuracy.value(1, 2, 0.9999999) <= 1.0  # float32 rounding never leaves 0..1
    assert curves.recent_mean(0.5, 3, 0.9, 0) == 0.5


def test_scalars_of_several_runs_as_csv():
    histories = {
        "run-a": {"epoch": [1.0, 2.0], "loss": [0.5, 0.25], "val_loss": [0.6, math.nan],
                  "wall_time": [100.0, 200.0]},
        "run-b": {"epoch": [1.0], "loss": [0.7], "lr": [0.001], "wall_time": [50.0]},
    }  # fmt: skip
    rows = list(csv.reader(io.StringIO(curves.scalars_csv(histories).decode())))
    assert rows[0] == ["run", "epoch", "wall_time", "loss", "val_loss", "lr"]
    assert rows[1:] == [
        ["run-a", "1", "100.0", "0.5", "0.6", ""],
        ["run-a", "2", "200.0", "0.25", "", ""],
        ["run-b", "1", "50.0", "0.7", "", "0.001"],
    ]
