"""Two real workers of a MultiWorkerMirroredStrategy run on 127.0.0.1: a worker killed
mid-run is named by the chief, which stops in seconds; started again (this time from
TF_CONFIG), both resume from the chief's last backup and finish, and only the chief
wrote the run folder and the model."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


class Worker:
    """``cnnstudio train ...`` in a subprocess, its stdout lines collected as they come."""

    def __init__(self, argv: list[str], env: dict[str, str], log) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cnnstudio", *argv],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, start: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(line.startswith(start) for line in self.lines):
            assert self.process.poll() is None, f"worker ended early: {self.lines}"
            assert time.monotonic() < deadline, f"no line {start!r} in {self.lines}"
            time.sleep(0.05)

    def finish(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            self.process.kill()
            self.process.wait()
            self.reader.join(5)
            self.process.stdout.close()
        return code


def test_two_workers_survive_a_killed_worker_and_resume(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 150)
    x = rng.integers(0, 60, (150, 28, 28)).astype(np.uint8)
    for i, label in enumerate(y):
        x[i, label * 9 : label * 9 + 9] = 220
    data = tmp_path / "bands.npz"
    np.savez(data, x_train=x[:120], y_train=y[:120], x_test=x[120:], y_test=y[120:])
    run, model, scratch = tmp_path / "run", tmp_path / "model.keras", tmp_path / "scratch"
    scratch.mkdir()
    addresses = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TMPDIR=str(scratch))

    def argv(epochs: int) -> list[str]:
        return ["train", "lenet5", "--data", str(data), "--epochs", str(epochs)] + [
            "--batch-size", "20", "--run-dir", str(run), "-o", str(model),
            "--worker-timeout", "5",
        ]  # fmt: skip

    cluster = ["--cluster", ",".join(addresses)]
    logs = [open(tmp_path / f"worker{i}.log", "w") for i in range(2)]  # noqa: SIM115
    try:
        # 1. a worker killed mid-run: the chief names it and stops
        chief = Worker(argv(500) + cluster + ["--task-index", "0"], env, logs[0])
        other = Worker(argv(500) + cluster + ["--task-index", "1"], env, logs[1])
        chief.wait_for_line("epoch 2/500", timeout=120)
        other.process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        assert chief.finish(timeout=60) == 2
        assert time.monotonic() - killed_at < 30  # well within the collective timeout
        other.finish(timeout=10)
        last = (tmp_path / "worker0.log").read_text().strip().splitlines()[-1]
        assert last.startswith(f"cnnstudio: worker 1 at {addresses[1]} stopped answering")
        assert "Start every worker again" in last
        status = json.loads((run / "status.json").read_text())
        assert status["state"] == "crashed" and status["workers"] == 2
        done = status["epochs_completed"]
        assert done >= 2 and not model.exists()
        # the killed worker wrote only into its scratch folder, which it could not delete
        assert [p.name.split("-")[1] for p in scratch.glob("cnnstudio-worker*")] == ["worker1"]

        # 2. both started again, from TF_CONFIG this time: they resume and finish
        workers = []
        for index in range(2):
            tf_config = {
                "cluster": {"worker": addresses},
                "task": {"type": "worker", "index": index},
            }
            workers.append(
                Worker(argv(done + 2), dict(env, TF_CONFIG=json.dumps(tf_config)), logs[index])
            )
        codes = [worker.finish(timeout=180) for worker in workers]
    finally:
        for log in logs:
            log.close()
    chief_log = (tmp_path / "worker0.log").read_text()
    assert codes == [0, 0], chief_log[-2000:]
    # both trained the same two epochs, with the same (all-reduced) figures
    figures = [
        [line.rsplit(" ", 3)[0] for line in worker.lines if line.startswith("epoch ")]
        for worker in workers
    ]
    assert [line.split(":")[0] for line in figures[0]] == [
        f"epoch {done + 1}/{done + 2}",
        f"epoch {done + 2}/{done + 2}",
    ]
    assert figures[0] == figures[1]
    assert f"resuming run after epoch {done}" in chief_log
    # the chief alone wrote the run folder and the model
    assert model.exists() and model.with_suffix(".json").exists()
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "finished" and status["epochs_completed"] == done + 2
    assert status["pid"] == workers[0].process.pid
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == done + 3 and sum(row.startswith("epoch,") for row in history) == 1
    assert (
        "worker 1 done: the chief writes the run folder and the model"
        in (tmp_path / "worker1.log").read_text()
    )
    # the worker's scratch folders are gone: its own, and the one the killed worker left
    assert list(scratch.glob("cnnstudio-worker*")) == []
