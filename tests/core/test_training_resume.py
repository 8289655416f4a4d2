"""Resuming a run: exact for augmentation and dropout too, falls back to the previous
backup when the latest was cut short, reads Keras' own backup layout, and a full disk
while backing up is one line with the earlier backup intact."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from test_training_runs import history_table
from training_samples import run_config, write_npz

from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Notice
from cnnstudio.core.training import checkpoints, job
from cnnstudio.core.training.events import EpochEnd, RunStarted
from cnnstudio.core.training.runs import completed_epochs
from cnnstudio.core.training.status import read_status


def test_resumed_run_with_augmentation_and_dropout_matches_an_uninterrupted_one(tmp_path):
    """cifar-cnn draws random numbers every step (crop, flip, brightness, contrast per
    image; Dropout per unit): a resumed run must draw the same ones."""
    npz = write_npz(tmp_path / "colour.npz", train=60, test=10, size=32, colour=True)
    settings = dict(recipe="cifar-cnn", image_size=32, augment=True, seed=3)
    job.train(run_config(npz, tmp_path / "cut", epochs=1, **settings))
    job.resume(tmp_path / "cut", epochs=3)
    job.train(run_config(npz, tmp_path / "whole", epochs=3, **settings))
    cut, whole = history_table(tmp_path / "cut"), history_table(tmp_path / "whole")
    assert len(cut) == 4 and cut == whole
    # the random state is part of the backup
    metadata = checkpoints.read_metadata(tmp_path / "cut")
    assert len(metadata["random_state"]) == 4  # the four Dropout layers


def test_a_backup_cut_short_falls_back_to_the_previous_one(tmp_path):
    npz = write_npz(tmp_path / "bands.npz", train=60, test=20)
    run = tmp_path / "run"
    job.train(run_config(npz, run, epochs=3))
    latest = run / "backup" / checkpoints.weights_name(3)
    data = latest.read_bytes()
    latest.write_bytes(data[: len(data) // 2])  # a kill in the middle of the write

    events: list[object] = []
    result = job.resume(run, epochs=4, on_event=events.append)
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert any(
        "backup after epoch 3 is damaged" in text
        and "cut short" in text
        and "resuming from the previous backup, after epoch 2" in text
        for text in notices
    ), notices
    assert next(e for e in events if isinstance(e, RunStarted)).initial_epoch == 2
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [3, 4]
    assert result.done.epochs_completed == 4 and completed_epochs(run) == 4
    # epoch 3 was trained again: one row per epoch in the history
    assert [row[0] for row in history_table(run)[1:]] == ["0", "1", "2", "3"]
    # the new backup is whole, and the one before it is kept as its fallback
    metadata = checkpoints.read_metadata(run)
    assert metadata["epoch"] == 4 and metadata["previous"]["epoch"] == 3
    assert sorted(p.name for p in (run / "backup").glob("*.h5")) == [
        checkpoints.weights_name(3),
        checkpoints.weights_name(4),
    ]

    # both backups damaged: refused in one line, not started over from scratch
    for name in (checkpoints.weights_name(3), checkpoints.weights_name(4)):
        (run / "backup" / name).write_bytes(b"\0" * 100)
    with pytest.raises(InputError, match="is damaged .* no earlier one") as caught:
        job.resume(run, epochs=5)
    assert "\n" not in str(caught.value)


def test_keras_backup_layout_still_resumes(tmp_path):
    """Run folders from before: Keras' BackupAndRestore files, no checksums."""
    npz = write_npz(tmp_path / "bands.npz", train=60, test=20)
    run = tmp_path / "run"
    job.train(run_config(npz, run, epochs=2))
    backup = run / "backup"
    (backup / checkpoints.weights_name(2)).rename(backup / "latest.weights.h5")
    (backup / checkpoints.weights_name(1)).unlink()
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": 2, "batch": 0}))
    events: list[object] = []
    job.resume(run, epochs=3, on_event=events.append)
    assert next(e for e in events if isinstance(e, RunStarted)).initial_epoch == 2
    # the new layout from now on, Keras' file kept as the fallback until the next epoch
    assert checkpoints.read_metadata(run)["previous"]["weights"] == "latest.weights.h5"
    job.resume(run, epochs=4)
    assert sorted(p.name for p in backup.iterdir()) == [
        checkpoints.weights_name(3),
        checkpoints.weights_name(4),
        "training_metadata.json",
    ]


def test_full_disk_while_backing_up_is_one_line_and_keeps_the_last_backup(tmp_path, monkeypatch):
    npz = write_npz(tmp_path / "bands.npz", train=60, test=20)
    run = tmp_path / "run"
    job.train(run_config(npz, run, epochs=1))
    before = {p.name: p.read_bytes() for p in (run / "backup").iterdir()}
    real_write = checkpoints.write_backup

    def disk_full(run_dir, epoch, save_weights, random_state):
        def save_half(path: Path) -> None:
            save_weights(path)
            path.write_bytes(path.read_bytes()[:1000])
            raise OSError(errno.ENOSPC, "No space left on device")

        return real_write(run_dir, epoch, save_half, random_state)

    monkeypatch.setattr(checkpoints, "write_backup", disk_full)
    with pytest.raises(InputError, match="the disk is full") as caught:
        job.resume(run, epochs=2)
    assert "\n" not in str(caught.value) and str(run) in str(caught.value)
    assert {p.name: p.read_bytes() for p in (run / "backup").iterdir()} == before
    status = read_status(run)
    assert status["state"] == "crashed" and "disk is full" in status["error"]
    monkeypatch.setattr(checkpoints, "write_backup", real_write)
    assert job.resume(run, epochs=2).done.epochs_completed == 2
