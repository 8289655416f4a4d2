"""Run folders: a folder made with other settings is refused untouched, a killed run
resumes from its folder (SIGKILL in a subprocess), the history reads back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from training_samples import band_images, first_batch_loss, run_config, write_npz

from cnnstudio.core.errors import InputError, Remedy
from cnnstudio.core.training import job
from cnnstudio.core.training.events import BatchEnd, EpochEnd, RunStarted
from cnnstudio.core.training.runs import completed_epochs, read_history


def test_reused_run_folder_with_other_settings_is_refused_untouched(tmp_path, monkeypatch):
    npz = write_npz(tmp_path / "bands.npz", train=60, test=20)
    run = tmp_path / "run"
    job.train(run_config(npz, run, epochs=1))
    config_before = (run / "config.json").read_bytes()
    assert json.loads(config_before)["num_classes"] == 3

    with pytest.raises(InputError, match=r"was made for lenet5 on bands.npz at 28 px") as caught:
        job.train(run_config(npz, run, recipe="cifar-cnn", epochs=1))
    assert "\n" not in str(caught.value) and "--" not in str(caught.value)
    assert (caught.value.remedy, caught.value.param) == (Remedy.OTHER_RUN_FOLDER, "run_dir")
    with pytest.raises(InputError, match="was made for lenet5"):
        job.train(run_config(npz, run, image_size=32, epochs=1))
    assert (run / "config.json").read_bytes() == config_before

    # same settings, but the data now has 4 classes: refused after loading it
    x, y = band_images(60, classes=4, seed=1)
    np.savez(npz, x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    with pytest.raises(InputError, match="3 classes"):
        job.train(run_config(npz, run, epochs=2))
    # a folder from before the class count was recorded: the backup itself does not fit
    legacy = json.loads(config_before)
    del legacy["num_classes"]
    (run / "config.json").write_text(json.dumps(legacy))
    with pytest.raises(InputError, match="does not fit this model") as caught:
        job.train(run_config(npz, run, epochs=2))
    assert "\n" not in str(caught.value) and "--" not in str(caught.value)
    assert caught.value.remedy == Remedy.OTHER_RUN_FOLDER
    assert json.loads((run / "config.json").read_text()) == legacy  # not rewritten

    # the same settings resume as before (relative and absolute data paths are the same)
    write_npz(npz, train=60, test=20)
    monkeypatch.chdir(tmp_path)
    result = job.train(run_config(Path("bands.npz"), run, epochs=2))
    assert result.done.epochs_completed == 2
    assert json.loads((run / "config.json").read_text())["epochs"] == 2


def test_killed_process_resumes_from_its_run_folder_exactly(tmp_path):
    """SIGKILL after the first epoch's checkpoint; the rerun starts at epoch 2, not 1,
    and from then on matches an uninterrupted run with the same seed epoch for epoch
    (the data order and the optimizer state come back, not only the weights)."""
    npz = write_npz(tmp_path / "bands.npz")
    run = tmp_path / "run"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [
        sys.executable,
        "-m",
        "cnnstudio",
        "train",
        "lenet5",
        "--data",
        str(npz),
        "--epochs",
        "200",
        "--batch-size",
        "20",
        "--run-dir",
        str(run),
        "-o",
        str(tmp_path / "never.keras"),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    # a child that hangs before its first line must not hang the test run
    watchdog = threading.Timer(240, process.kill)
    watchdog.start()
    try:
        line = process.stdout.readline()  # blocks until the first epoch line
        assert line.startswith("epoch 1/200"), line
        # the epoch line is printed after BackupAndRestore wrote the epoch
        process.send_signal(signal.SIGKILL)
    finally:
        watchdog.cancel()
        watchdog.join()
        process.kill()
        process.wait(timeout=60)
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL
    done_before = completed_epochs(run)
    assert 1 <= done_before < 200
    assert not (tmp_path / "never.keras").exists()

    events: list[object] = []
    job.resume(run, epochs=done_before + 2, on_event=events.append)
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.initial_epoch == done_before
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [
        done_before + 1,
        done_before + 2,
    ]
    # the same run, uninterrupted: the same history.csv, to the last digit
    whole = tmp_path / "whole"
    job.train(run_config(npz, whole, epochs=done_before + 2))
    assert history_table(run) == history_table(whole)
    assert len(history_table(run)) == done_before + 3  # the header and a row per epoch
    # the killed run's weights came back, not a fresh model's: a fresh run (same seed)
    # starts from a much higher first-batch loss
    fresh: list[object] = []
    job.train(
        run_config(npz, tmp_path / "fresh", epochs=1),
        on_event=fresh.append,
        should_stop=lambda: any(isinstance(e, BatchEnd) for e in fresh),
    )
    assert first_batch_loss(events) < 0.5 * first_batch_loss(fresh)
    assert json.loads((run / "config.json").read_text())["recipe"] == "lenet5"


def history_table(run_dir: Path) -> list[list[str]]:
    """history.csv without its wall-clock column (the one thing two runs cannot share)."""
    rows = [line.split(",") for line in (run_dir / "history.csv").read_text().splitlines()]
    if "wall_time" not in rows[0]:
        return rows
    drop = rows[0].index("wall_time")
    return [row[:drop] + row[drop + 1 :] for row in rows]


def test_read_history_keeps_finished_epochs(tmp_path):
    (tmp_path / "history.csv").write_text(
        "epoch,accuracy,loss,val_accuracy,val_loss\n"
        "0,0.5,1.5,0.4,1.6\n"
        "1,0.6,1.2,0.5,1.3\n"
        "2,0.1,9.0,0.1,9.0\n"  # a cut epoch, then the same epoch run again
        "2,0.7,1.0,0.6,1.1\n"
        "3,0.2,8.0,,\n"  # cut, not finished
    )
    history = read_history(tmp_path, 3)
    assert history["epoch"] == [1.0, 2.0, 3.0]
    assert history["loss"] == [1.5, 1.2, 1.0]
    assert history["val_accuracy"] == [0.4, 0.5, 0.6]
    assert read_history(tmp_path / "nothing", 3) == {}
