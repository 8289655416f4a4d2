"""One trainer per run folder (the second is refused and told who holds it, a killed
trainer's lock is taken over) and the status.json every run keeps current."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from training_samples import run_config, write_npz

from cnnstudio.cli.main import main
from cnnstudio.core.events import Notice
from cnnstudio.core.training import job, status
from cnnstudio.core.training.lock import RunFolderBusyError, RunLock, read_holder


def _start_trainer(npz, run, out):
    command = [sys.executable, "-m", "cnnstudio", "train", "lenet5", "--data", str(npz)]
    command += ["--epochs", "500", "--batch-size", "20", "--run-dir", str(run), "-o", str(out)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )


def test_second_trainer_is_refused_and_a_killed_trainers_lock_is_taken_over(tmp_path, capsys):
    npz = write_npz(tmp_path / "bands.npz", train=100, test=20)
    run = tmp_path / "run"
    first = _start_trainer(npz, run, tmp_path / "first.keras")
    watchdog = threading.Timer(240, first.kill)  # a child that hangs must not hang the run
    watchdog.start()
    try:
        assert first.stdout.readline().startswith("epoch 1/500")
        # the second trainer on the same folder: one line, exit 2, who holds the folder
        code = main(
            ["train", "lenet5", "--data", str(npz), "--epochs", "2"]
            + ["--run-dir", str(run), "-o", str(tmp_path / "second.keras")]
        )
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
        assert f"run folder {run} is in use: process {first.pid} on {socket.gethostname()}" in err
        assert "(since 20" in err and "is training in it" in err
        assert not (tmp_path / "second.keras").exists()
        with pytest.raises(RunFolderBusyError):
            job.train(run_config(npz, run, epochs=1))
        running = status.read_status(run)
        assert running["pid"] == first.pid
        assert status.effective_state(running) == "running"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        watchdog.cancel()
        watchdog.join()
        first.kill()
        first.wait(timeout=60)
        first.stdout.close()
    # killed: its status.json still says running, but its process is gone
    left = status.read_status(run)
    assert left["state"] == "running" and status.effective_state(left) == "crashed"
    assert read_holder(run).pid == first.pid  # its note stays behind; the flock went

    events: list[object] = []
    result = job.resume(run, epochs=left["epochs_completed"] + 1, on_event=events.append)
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert any(
        f"took over the lock of run left by process {first.pid}" in text
        and "no longer running" in text
        for text in notices
    ), notices
    assert result.done.epochs_completed == left["epochs_completed"] + 1
    assert status.read_status(run)["state"] == "finished"
    lines = (run / "history.csv").read_text().splitlines()
    assert sum(line.startswith("epoch,") for line in lines) == 1  # one header, no mixing


def test_lock_is_exclusive_within_one_process_too(tmp_path):
    """flock locks open files, so the window's run and a CLI run in the same process
    (or two runs of the window) exclude each other as well."""
    with RunLock(tmp_path) as held:
        assert held.held
        with pytest.raises(RunFolderBusyError, match=f"process {os.getpid()}"):
            RunLock(tmp_path).acquire()
    with RunLock(tmp_path) as again:  # released: free again, and nobody was taken over
        assert again.took_over is None


def test_status_heartbeat_and_final_state(tmp_path, monkeypatch):
    writes: list[dict] = []
    real = status.write_status

    def counting(run_dir, values):
        writes.append(dict(values))
        real(run_dir, values)

    monkeypatch.setattr(status, "write_status", counting)
    writer = status.StatusWriter(tmp_path, {"epochs": 3}, heartbeat_seconds=0.05)
    writer.start()
    deadline = time.monotonic() + 10
    while len(writes) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(writes) >= 4  # the heartbeat, without any epoch ending
    writer.update(epochs_completed=1)
    writer.finish("finished", test_accuracy=0.5)
    count = len(writes)
    time.sleep(0.2)
    assert len(writes) == count  # no beat after the final status
    final = json.loads((tmp_path / "status.json").read_text())
    assert final["state"] == "finished" and final["epochs_completed"] == 1
    assert final["train_seconds"] > 0 and final["pid"] == os.getpid()
    assert status.effective_state(final) == "finished"

    # a running status: stale heartbeat -> crashed; a fresh one from another host: running
    now = time.time()
    running = dict(final, state="running", host="elsewhere", updated=status.now_text())
    assert status.effective_state(running, now) == "running"
    assert status.effective_state(running, now + status.STALE_SECONDS + 5) == "crashed"
    assert status.effective_state({"epochs_completed": 2, "stopped": False}) == "finished"
    assert status.effective_state({"state": "weird"}) == "crashed"
