"""The runs list: every folder of the runs folder, broken ones included, quickly; live
follow by file sizes and times; rename and delete refused while a run trains."""

from __future__ import annotations

import json
import os
import time

import pytest
from training_samples import run_config, write_npz, write_run_folder

from cnnstudio.core import paths
from cnnstudio.core.errors import InputError
from cnnstudio.core.training import job, monitor, status
from cnnstudio.core.training.lock import RunFolderBusyError, RunLock


def _by_name(infos):
    return {info.name: info for info in infos}


def test_every_folder_is_listed_and_broken_ones_say_why(tmp_path):
    root = paths.runs_dir()
    write_run_folder(root, "done")
    write_run_folder(root, "live", state="running", done=1, host="elsewhere")
    stale = "2020-01-01T00:00:00+00:00"
    write_run_folder(root, "killed", state="running", done=2, updated=stale)
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not a run")
    write_run_folder(root, "garbled")
    (root / "garbled" / "status.json").write_text('{"state": "finished", ')
    write_run_folder(root, "no-history")
    (root / "no-history" / "history.csv").unlink()
    write_run_folder(root, "pipe")
    (root / "pipe" / "history.csv").unlink()
    os.mkfifo(root / "pipe" / "history.csv")  # reading it would block for ever
    write_run_folder(root, "huge")
    (root / "huge" / "status.json").write_bytes(b" " * (status.MAX_STATUS_BYTES + 1))
    write_run_folder(root, "nested")
    (root / "nested" / "status.json").write_text("[" * 100_000 + "]" * 100_000)
    (root / "a-file.txt").write_text("files are not runs")

    infos = _by_name(monitor.list_runs())
    assert sorted(infos) == [
        "done",
        "garbled",
        "huge",
        "killed",
        "live",
        "nested",
        "no-history",
        "notes",
        "pipe",
    ]
    done = infos["done"]
    assert (done.status, done.recipe, done.dataset) == ("finished", "lenet5", "mnist")
    assert (done.epochs_completed, done.epochs) == (3, 3)
    assert done.best_val_accuracy == pytest.approx(0.6) and done.test_accuracy == 0.97
    assert done.duration_seconds == 12.5 and done.started.startswith("2026-01-02")
    assert done.params == {
        "learning_rate": 0.001,
        "batch_size": 100,
        "augment": False,
        "backbone": None,
        "fine_tune": None,
    }
    assert infos["live"].status == "running" and infos["killed"].status == "crashed"
    reasons = {name: info.reason for name, info in infos.items() if not info.readable}
    assert set(reasons) == {"notes", "garbled", "no-history", "pipe", "huge", "nested"}
    assert "not a run folder" in reasons["notes"]
    assert "not valid JSON" in reasons["garbled"]
    assert "history.csv is missing" in reasons["no-history"]
    assert "named pipe" in reasons["pipe"]
    assert "limit" in reasons["huge"]
    assert "not valid JSON" in reasons["nested"]
    assert json.loads(json.dumps([i.to_dict() for i in infos.values()]))  # JSON-ready


def test_two_hundred_runs_are_listed_in_under_a_second(tmp_path):
    root = paths.runs_dir()
    for i in range(200):
        write_run_folder(root, f"run-{i:03d}", epochs=30, done=30)
    start = time.perf_counter()
    infos = monitor.list_runs()
    elapsed = time.perf_counter() - start
    assert len(infos) == 200 and all(i.readable for i in infos)
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    watcher = monitor.RunsWatcher()
    assert len(watcher.poll().added) == 200
    start = time.perf_counter()
    assert not watcher.poll()  # nothing changed: nothing read
    assert time.perf_counter() - start < 0.25


def test_watcher_reports_what_changed(tmp_path):
    root = paths.runs_dir()
    write_run_folder(root, "a")
    write_run_folder(root, "b", state="running", done=1, host="elsewhere")
    watcher = monitor.RunsWatcher(recheck_seconds=5)
    first = watcher.poll()
    assert [i.name for i in first.added] == ["a", "b"] and not first.changed
    assert not watcher.poll()
    with open(root / "a" / "history.csv", "a") as handle:
        handle.write("3,0.9,0.1,0.95,0.1,1000000003\n")
    changed = watcher.poll()
    assert [i.name for i in changed.changed] == ["a"]
    assert changed.changed[0].best_val_accuracy == pytest.approx(0.95)
    # b's trainer died: nothing in its folder changes, yet it is read again and crashed
    later = watcher.poll(now=time.time() + status.STALE_SECONDS + 10)
    assert [(i.name, i.status) for i in later.changed] == [("b", "crashed")]
    (root / "a" / "status.json").unlink()
    (root / "a" / "config.json").unlink()
    (root / "a" / "history.csv").unlink()
    os.rmdir(root / "a")
    assert watcher.poll().removed == ["a"] and [i.name for i in watcher.runs] == ["b"]


def test_rename_and_delete_refuse_a_running_run(tmp_path):
    root = paths.runs_dir()
    folder = write_run_folder(root, "busy")
    with RunLock(folder):
        with pytest.raises(RunFolderBusyError, match="is training in it"):
            monitor.delete_run(folder)
        with pytest.raises(RunFolderBusyError):
            monitor.rename_run(folder, "other")
    elsewhere = write_run_folder(root, "remote", state="running", host="gpu-box")
    with pytest.raises(InputError, match="is training on gpu-box"):
        monitor.delete_run(elsewhere)
    assert elsewhere.is_dir()

    renamed = monitor.rename_run(folder, "kept run")
    assert renamed == root / "kept run" and not folder.exists()
    for bad in ("", "../x", ".hidden", "a/b", "x\x1b[2J"):
        with pytest.raises(InputError, match="cannot name a run folder"):
            monitor.rename_run(renamed, bad)
    with pytest.raises(InputError, match="exists already"):
        monitor.rename_run(renamed, "remote")
    assert monitor.find_run("kept run") == renamed
    assert monitor.find_run(str(renamed)) == renamed
    with pytest.raises(InputError, match="no run named 'nope'"):
        monitor.find_run("nope")

    stranger = tmp_path / "photos"
    stranger.mkdir()
    (stranger / "cat.jpg").write_bytes(b"...")
    with pytest.raises(InputError, match="does not look like a run folder"):
        monitor.delete_run(stranger)
    assert (stranger / "cat.jpg").exists()
    monitor.delete_run(renamed)
    assert not renamed.exists()


def test_a_real_run_lists_with_its_history(tmp_path):
    npz = write_npz(tmp_path / "bands.npz", train=60, test=20)
    run = paths.runs_dir() / "real"
    job.train(run_config(npz, run, epochs=2, learning_rate=0.002))
    info = monitor.read_run(run)
    assert (info.status, info.epochs_completed, info.epochs, info.dataset) == (
        "finished",
        2,
        2,
        "bands.npz",
    )
    assert info.params["learning_rate"] == 0.002 and info.params["batch_size"] == 20
    assert info.test_accuracy is not None and info.duration_seconds > 0
    history = monitor.run_history(run)
    assert history["epoch"] == [1.0, 2.0]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "wall_time"} <= set(history)


def test_a_run_in_its_first_epoch_is_running_and_one_killed_there_crashed(tmp_path):
    """Keras creates history.csv empty and writes its header with the first epoch's row:
    until then the run is running with no epoch done (it was listed as unreadable), and a
    run killed in its first epoch is crashed, so that it can be resumed."""
    root = paths.runs_dir()
    for name, updated in (("first-epoch", None), ("killed-early", "2020-01-01T00:00:00+00:00")):
        write_run_folder(root, name, state="running", done=0, updated=updated)
        (root / name / "history.csv").write_text("")
    infos = _by_name(monitor.list_runs())
    assert infos["first-epoch"].readable and infos["first-epoch"].status == "running"
    assert infos["first-epoch"].epochs_completed == 0
    assert infos["killed-early"].readable and infos["killed-early"].status == "crashed"


def test_a_history_with_fewer_readable_epochs_than_done_is_unreadable(tmp_path):
    root = paths.runs_dir()
    write_run_folder(root, "torn", done=2)
    (root / "torn" / "history.csv").write_text("epoch,accuracy,loss\nx,y,z\nq,r,s\n")
    info = monitor.read_run(root / "torn")
    assert not info.readable
    assert "0 readable epochs" in info.reason and "2 are done" in info.reason
