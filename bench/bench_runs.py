"""The runs list and multi-worker training, timed.

1. Listing: 200 generated run folders (config.json, status.json, a 30-epoch
   history.csv each), read by :func:`cnnstudio.core.training.monitor.list_runs` (what
   ``cnnstudio runs list`` and a runs browser do) and polled by
   :class:`~cnnstudio.core.training.monitor.RunsWatcher` with nothing changed (what a
   window does every second). Target: the list in under 1 s.
2. The runs browser (the Train tab's Runs page: the table model, its sort and filter
   proxy, the view and the curves): from nothing to the 200 runs in the table, laid out
   and painted; then one poll of the live follow with nothing changed, and one where a
   shown run's history.csv got a row (read again and its curves redrawn), on the GUI
   thread, under :class:`cnnstudio.gui.watchdog.StallWatchdog`. Target: under 1 s.
3. Two workers on one machine: ``cnnstudio train`` as one process, then as two worker
   processes of a MultiWorkerMirroredStrategy run on 127.0.0.1, same data, same global
   batch, same epochs. Reported: images per second of the whole cluster, from the epoch
   lines after the first (tracing) epoch. The two workers share this machine's cores
   and talk over TCP, so on a small machine they are not faster: the figure says what
   the coordination costs, it is not a speed-up claim.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.common import record

RUNS = 200
EPOCHS_PER_RUN = 30
TRAIN_IMAGES = 3000
BATCH = 100
EPOCHS = 4


def _write_runs(root: Path) -> None:
    import json

    from cnnstudio.core.training.params import TrainConfig
    from cnnstudio.core.training.status import now_text

    config = json.dumps(TrainConfig(recipe="lenet5", data="mnist").resolved().to_dict())
    for i in range(RUNS):
        folder = root / f"lenet5-mnist-{i:03d}"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(config)
        status = {
            "state": "finished",
            "recipe": "lenet5",
            "dataset": "mnist",
            "epochs": EPOCHS_PER_RUN,
            "epochs_completed": EPOCHS_PER_RUN,
            "started": now_text(),
            "updated": now_text(),
            "train_seconds": 60.0,
            "test_accuracy": 0.98,
        }
        (folder / "status.json").write_text(json.dumps(status))
        rows = ["epoch,accuracy,loss,val_accuracy,val_loss,wall_time"]
        rows += [f"{e},0.9,0.3,0.89,0.31,{1e9 + e}" for e in range(EPOCHS_PER_RUN)]
        (folder / "history.csv").write_text("\n".join(rows) + "\n")


def bench_listing(home: Path) -> dict:
    os.environ["CNNSTUDIO_HOME"] = str(home)
    from cnnstudio.core import paths
    from cnnstudio.core.training import monitor

    _write_runs(paths.runs_dir())
    times = []
    for _ in range(5):
        start = time.perf_counter()
        infos = monitor.list_runs()
        times.append(time.perf_counter() - start)
    assert len(infos) == RUNS and all(info.readable for info in infos)
    watcher = monitor.RunsWatcher()
    watcher.poll()
    polls = []
    for _ in range(10):
        start = time.perf_counter()
        change = watcher.poll()
        polls.append(time.perf_counter() - start)
        assert not change
    listing, poll = statistics.median(times), statistics.median(polls)
    print(f"list {RUNS} runs: {listing * 1000:.0f} ms (median of 5; target < 1000 ms)")
    print(f"poll {RUNS} unchanged runs: {poll * 1000:.1f} ms (median of 10)")
    return {"runs": RUNS, "list_seconds": listing, "unchanged_poll_seconds": poll}


def bench_browser(home: Path) -> dict:
    """The Runs page over the 200 runs of :func:`bench_listing` (same home)."""
    os.environ["CNNSTUDIO_HOME"] = str(home)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from cnnstudio.core import paths
    from cnnstudio.gui.tabs.train.runs_page import RunsPage
    from cnnstudio.gui.watchdog import StallWatchdog

    times = []
    for _ in range(5):
        start = time.perf_counter()
        page = RunsPage()
        page.resize(1200, 800)
        page.show()  # the first poll lists every run
        app.processEvents()
        page.table.viewport().repaint()
        times.append(time.perf_counter() - start)
        assert page.model.rowCount() == RUNS and page.proxy.rowCount() == RUNS
        if len(times) < 5:
            page.shutdown()
            page.deleteLater()
            app.processEvents()
    listing = statistics.median(times)
    names = [f"lenet5-mnist-{i:03d}" for i in range(3)]
    page.select_runs(names)
    app.processEvents()
    idle = []
    for _ in range(10):
        start = time.perf_counter()
        assert not page.refresh()
        idle.append(time.perf_counter() - start)
    # live: "another process" appends an epoch every 0.5 s; the page follows on its own
    # timer while the GUI thread runs its event loop under the watchdog
    history = paths.runs_dir() / names[0] / "history.csv"
    ticks: list[float] = []
    poll = page.follower.poll

    def timed_poll():
        start = time.perf_counter()
        change = poll()
        app.processEvents()  # the redraw it caused
        ticks.append(time.perf_counter() - start)
        return change

    page.follower.poll = timed_poll
    page.follower._timer.timeout.disconnect()
    page.follower._timer.timeout.connect(timed_poll)
    new_rows = 10

    def write() -> None:
        for epoch in range(EPOCHS_PER_RUN, EPOCHS_PER_RUN + new_rows):
            time.sleep(0.5)
            with open(history, "a") as handle:
                handle.write(f"{epoch},0.9,0.3,0.89,0.31,{1e9 + epoch}\n")

    writer = threading.Thread(target=write)
    loop = QEventLoop()
    with StallWatchdog(threshold_ms=50) as watchdog:
        writer.start()
        QTimer.singleShot(int(new_rows * 500 + 2500), loop.quit)
        loop.exec()
    writer.join()
    drawn = page.curves.curve_values(page.curves._runs[names[0]], "loss")[0]
    assert len(drawn) == EPOCHS_PER_RUN + new_rows, len(drawn)
    live = max(ticks)
    page.shutdown()
    print(
        f"runs browser, {RUNS} runs: listed, laid out and painted in {listing * 1000:.0f} ms "
        "(median of 5; target < 1000 ms)"
    )
    print(
        f"live follow on the GUI thread: a poll with nothing new {statistics.median(idle) * 1000:.1f}"
        f" ms (median of 10); following a shown run that got {new_rows} epochs in 5 s: "
        f"longest tick {live * 1000:.1f} ms (poll, read, redraw), longest GUI-thread gap "
        f"{watchdog.longest_ms:.0f} ms"
    )
    return {
        "runs": RUNS,
        "browser_list_seconds": listing,
        "follow_tick_idle_seconds": statistics.median(idle),
        "follow_longest_tick_seconds": live,
        "longest_gui_gap_ms": watchdog.longest_ms,
    }


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for probe in sockets:
        probe.bind(("127.0.0.1", 0))
    ports = [probe.getsockname()[1] for probe in sockets]
    for probe in sockets:
        probe.close()
    return ports


def _images_per_second(lines: list[str]) -> float:
    """Mean of the epoch lines' images/s after the first epoch (tracing)."""
    rates = [float(line.split(" images/s")[0].rsplit(" ", 1)[1]) for line in lines]
    return statistics.mean(rates[1:])


def _train(folder: Path, data: Path, workers: int) -> float:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    base = ["train", "lenet5", "--data", str(data), "--epochs", str(EPOCHS)]
    base += ["--batch-size", str(BATCH), "--val-split", "0"]
    addresses = ",".join(f"127.0.0.1:{port}" for port in _free_ports(workers))
    processes = []
    for index in range(workers):
        run = folder / f"run-{workers}"
        argv = [*base, "--run-dir", str(run), "-o", str(folder / f"m{workers}.keras")]
        if workers > 1:
            argv += ["--cluster", addresses, "--task-index", str(index)]
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "cnnstudio", *argv],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=env,
            )
        )
    outputs = [process.communicate(timeout=900)[0] for process in processes]
    if any(process.returncode for process in processes):
        raise RuntimeError(f"training failed: {[p.returncode for p in processes]}")
    lines = [line for line in outputs[0].splitlines() if line.startswith("epoch ")]
    return _images_per_second(lines)


def bench_workers(folder: Path) -> dict:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, TRAIN_IMAGES + 500)
    x = rng.integers(0, 256, (TRAIN_IMAGES + 500, 28, 28), dtype=np.uint8)
    data = folder / "digits.npz"
    np.savez(data, x_train=x[:TRAIN_IMAGES], y_train=y[:TRAIN_IMAGES], x_test=x[TRAIN_IMAGES:],
             y_test=y[TRAIN_IMAGES:])  # fmt: skip
    one = _train(folder, data, 1)
    two = _train(folder, data, 2)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"LeNet-5, {TRAIN_IMAGES} images 28x28, global batch {BATCH}, {EPOCHS} epochs, "
        f"{cores} cores: one worker {one:.0f} images/s, two workers on this machine "
        f"{two:.0f} images/s (ratio {two / one:.2f})"
    )
    return {
        "model": "lenet5",
        "train_images": TRAIN_IMAGES,
        "global_batch": BATCH,
        "epochs": EPOCHS,
        "cores": cores,
        "one_worker_images_per_s": one,
        "two_workers_images_per_s": two,
        "two_over_one": two / one,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        listing = bench_listing(folder / "home")
        browser = bench_browser(folder / "home")
        workers = bench_workers(folder)
    path = record("runs", {"listing": listing, "browser": browser, "workers": workers})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
