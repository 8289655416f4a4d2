"""Train tab path vs plain ``model.fit``: images per second, same model and data, one run.

The tab trains through :func:`cnnstudio.core.training.job.train`, i.e. ``model.fit``
with :func:`~cnnstudio.core.training.callbacks.training_callbacks` (the event callback with
throttled batch events and stop polling, BackupAndRestore, ModelCheckpoint, the CSV log,
TensorBoard when installed), run by the tab's Qt :class:`~cnnstudio.gui.workers.JobRunner`
on its worker thread, with its events crossing to the GUI thread as signals into live
:class:`~cnnstudio.gui.widgets.plots.LossPlot` widgets (offscreen QApplication). The
reference is plain ``model.fit`` on the same cifar-cnn model and tf.data pipeline, no
callbacks, run as a plain function by the same kind of JobRunner, so both sides train on
a worker thread while the GUI thread runs its event loop.

The machine is shared, so its speed drifts by 2x within minutes. To cancel that, the two
sides train one epoch at a time in alternation (the order flips every pair: plain, tab,
tab, plain, ...), each ``fit`` continuing its own model; the first epoch of each side
(tracing) is not counted. Both sides carry the same epoch clock (epoch hooks only, so fit
keeps its fast batch path) that records wall time and process CPU time (all threads, the
GUI thread's plotting included) of:
- the batch loop (epoch begin -> validation begin);
- the whole epoch (begin -> end, with validation and the callbacks' end-of-epoch work).
CPU time is far less sensitive to other processes on the machine than wall time: the
CPU-time ratio is the steadier measure of what the tab path costs. Target: within 5%.

The window now trains in a process of its own (cnnstudio.core.child_process): the tab's
events cross a pipe before they become signals. This bench keeps both sides on threads of
one process (the alternation needs both models alive between epochs); the pipe costs the
window's process about 10 us of CPU per event (20,000 BatchEnd events, measured once), and
batch events are throttled to a few a second, so it is below what this ratio can see.

``main(follow=True)`` (``python -m bench train_follow``) also shows the Train tab's Runs
page over the runs folder the tab path trains in, with that run selected: the page polls
the folder every second on the GUI thread and redraws the run's curves at each epoch,
while both sides train. Its costs (CPU time of the GUI thread included) land on the tab
path's side of the ratio.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.common import record

TRAIN_IMAGES = 1024
TEST_IMAGES = 256
TIMED_EPOCHS = 6  # per side, after one warm-up epoch each
BATCH = 128  # the recipe's batch size


def _data(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    n = TRAIN_IMAGES + TEST_IMAGES
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    path = folder / "bench_cifar.npz"
    np.savez(
        path,
        x_train=x[:TRAIN_IMAGES],
        y_train=y[:TRAIN_IMAGES],
        x_test=x[TRAIN_IMAGES:],
        y_test=y[TRAIN_IMAGES:],
    )
    return path


Mark = tuple[float, float, float, float, float]  # wall begin, loop end, end; CPU begin, end


def _epoch_clock(marks: list[Mark]):
    import keras

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.cpu_begin = time.process_time()
            self.begin = time.perf_counter()
            self.loop_end = None

        def on_test_begin(self, logs=None):  # the epoch's batch loop is over
            if self.loop_end is None:
                self.loop_end = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            end = time.perf_counter()
            marks.append((self.begin, self.loop_end, end, self.cpu_begin, time.process_time()))

    return EpochClock()


def _run_job(runner, start: Callable[..., None], *args: object) -> None:
    """``start(*args)`` a job on ``runner`` and run the GUI event loop until it is done."""
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    runner.done.connect(loop.quit)
    start(*args)
    if runner.running:
        loop.exec()
    runner.done.disconnect(loop.quit)
    runner.wait()
    if runner.error is not None:
        raise RuntimeError(f"{runner.name} failed: {runner.error_message}")


def _follow(runs_root: Path, run_dir: Path, config) -> tuple[object, object]:
    """The Runs page following ``runs_root`` with the run in ``run_dir`` selected, as a
    user watching it would have it (config.json and a status.json with its heartbeat,
    as the training job writes them)."""
    import json

    from cnnstudio.core.training.status import StatusWriter
    from cnnstudio.gui.tabs.train.runs_page import RunsPage

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(config.to_dict()))
    status = StatusWriter(run_dir, {"recipe": config.recipe, "epochs": config.epochs})
    status.start()
    page = RunsPage(runs_root)
    page.resize(1200, 800)
    page.show()
    page.select_runs([run_dir.name])
    assert page.curves.run_names() == [run_dir.name]
    return page, status


def main(follow: bool = False) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])  # noqa: F841 - the GUI thread's app
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["CNNSTUDIO_HOME"] = str(folder / "home")
        from cnnstudio.core.training import callbacks, trainer
        from cnnstudio.core.training.events import BatchEnd, EpochEnd
        from cnnstudio.core.training.params import TrainConfig
        from cnnstudio.gui.widgets.plots import LossPlot
        from cnnstudio.gui.workers import JobRunner

        npz = _data(folder)
        total_epochs = TIMED_EPOCHS + 1
        # val_split 0: validate on the test set, so every training image is trained on
        config = TrainConfig(
            recipe="cifar-cnn",
            data=str(npz),
            epochs=total_epochs,
            batch_size=BATCH,
            val_split=0.0,
            run_dir=str(folder / "run"),
            seed=0,
        ).resolved()
        dataset, plain_model, plain_pipes = trainer.prepare(config)
        _, tab_model, tab_pipes = trainer.prepare(config)
        n = len(dataset.x_train)

        # the GUI side: what the Train tab does with the events it receives
        loss_plot, accuracy_plot = LossPlot(), LossPlot()
        received: list[object] = []

        def on_gui_event(event: object) -> None:
            received.append(event)
            if isinstance(event, BatchEnd):
                x = event.epoch - 1 + event.batch / max(event.steps, 1)
                loss_plot.add_point("loss (batch)", x, event.loss)
                accuracy_plot.add_point("accuracy (batch)", x, event.accuracy)
            elif isinstance(event, EpochEnd):
                loss_plot.add_point("loss", event.epoch, event.loss)
                accuracy_plot.add_point("accuracy", event.epoch, event.accuracy)

        page = status = None
        if follow:
            page, status = _follow(folder, folder / "run", config)
        tab_runner = JobRunner("Train (tab path)")
        tab_runner.progress.connect(on_gui_event)
        plain_runner = JobRunner("Train (plain fit)")

        # the tab's callbacks are made once per run; each epoch job hands them its own
        # on_event/should_stop (the runner's, which cross to the GUI thread as signals)
        job: dict[str, Callable] = {}
        tab_callbacks, _ = callbacks.training_callbacks(
            config,
            folder / "run",
            lambda event: job["on_event"](event),
            lambda: job["should_stop"](),
            n,
        )
        plain_marks: list[Mark] = []
        tab_marks: list[Mark] = []
        plain_clock, tab_clock = _epoch_clock(plain_marks), _epoch_clock(tab_marks)

        def tab_epoch(epoch: int, *, on_event, should_stop) -> None:
            job.update(on_event=on_event, should_stop=should_stop)
            tab_model.fit(
                tab_pipes["train"],
                validation_data=tab_pipes["val"],
                initial_epoch=epoch,
                epochs=epoch + 1,
                steps_per_epoch=tab_pipes["steps_per_epoch"],
                callbacks=[*tab_callbacks, tab_clock],
                verbose=0,
                shuffle=False,
            )

        def plain_epoch(epoch: int) -> None:
            plain_model.fit(
                plain_pipes["train"],
                validation_data=plain_pipes["val"],
                initial_epoch=epoch,
                epochs=epoch + 1,
                steps_per_epoch=plain_pipes["steps_per_epoch"],
                callbacks=[plain_clock],
                verbose=0,
                shuffle=False,
            )

        for epoch in range(total_epochs):
            sides = [
                (plain_runner, plain_runner.run_function, plain_epoch),
                (tab_runner, tab_runner.run_callbacks, tab_epoch),
            ]
            for runner, start, fn in sides if epoch % 2 == 0 else sides[::-1]:
                _run_job(runner, start, fn, epoch)
            p, t = plain_marks[-1], tab_marks[-1]
            print(
                f"epoch {epoch + 1}{' (warm-up)' if epoch == 0 else ''}: plain fit "
                f"{n / (p[1] - p[0]):.0f} / {n / (p[2] - p[0]):.0f} images/s "
                f"({p[4] - p[3]:.1f} s CPU), tab path {n / (t[1] - t[0]):.0f} / "
                f"{n / (t[2] - t[0]):.0f} images/s ({t[4] - t[3]:.1f} s CPU) "
                "(batch loop / whole epoch)",
                flush=True,
            )
        tab_runner.shutdown()
        plain_runner.shutdown()
        if page is not None:
            followed = page.curves.curve_values(page.curves._runs["run"], "loss")[0]
            status.finish("finished")
            page.shutdown()
            print(f"the Runs page followed the run: {len(followed)} epochs drawn live")
            assert len(followed) >= TIMED_EPOCHS, "the browser did not follow the run"
    batch_events = [e for e in received if isinstance(e, BatchEnd)]
    assert batch_events, "no events reached the GUI thread through the JobRunner"

    def rate(marks: list[Mark], stop: int) -> float:
        return n * TIMED_EPOCHS / sum(m[stop] - m[0] for m in marks[1:])

    def cpu(marks: list[Mark]) -> float:
        return sum(m[4] - m[3] for m in marks[1:])

    plain = [rate(plain_marks, 1), rate(plain_marks, 2)]
    tab = [rate(tab_marks, 1), rate(tab_marks, 2)]
    ratios = [tab[i] / plain[i] for i in (0, 1)]
    paired = [
        statistics.median(
            (p[stop] - p[0]) / (t[stop] - t[0])
            for p, t in zip(plain_marks[1:], tab_marks[1:], strict=True)
        )
        for stop in (1, 2)
    ]
    cpu_ratio = cpu(plain_marks) / cpu(tab_marks)  # > 1: the tab path costs less CPU
    cpu_paired = statistics.median(
        (p[4] - p[3]) / (t[4] - t[3]) for p, t in zip(plain_marks[1:], tab_marks[1:], strict=True)
    )
    print(
        f"cifar-cnn, {n} images 32x32, batch {BATCH}, {TIMED_EPOCHS} timed epochs per side; "
        f"{len(batch_events)} batch events reached the GUI thread"
    )
    for label, i in (("batch loop: ", 0), ("whole epoch:", 1)):
        print(
            f"{label} plain fit {plain[i]:.0f} images/s, tab path {tab[i]:.0f} images/s, "
            f"wall ratio {ratios[i]:.3f} (median of epoch pairs {paired[i]:.3f}; target >= 0.95)"
        )
    print(
        f"CPU time per epoch: plain fit {cpu(plain_marks) / TIMED_EPOCHS:.2f} s, tab path "
        f"{cpu(tab_marks) / TIMED_EPOCHS:.2f} s, ratio {cpu_ratio:.3f} (median of epoch "
        f"pairs {cpu_paired:.3f}; target >= 0.95)"
    )
    path = record(
        "train_follow" if follow else "train",
        {
            "runs_browser_following": follow,
            "model": "cifar-cnn",
            "train_images": n,
            "batch_size": BATCH,
            "timed_epochs_per_side": TIMED_EPOCHS,
            "tab_path": "JobRunner worker thread, events as Qt signals into LossPlots",
            "gui_batch_events": len(batch_events),
            "plain_fit_images_per_s": {"batch_loop": plain[0], "whole_epoch": plain[1]},
            "tab_path_images_per_s": {"batch_loop": tab[0], "whole_epoch": tab[1]},
            "ratio_batch_loop": ratios[0],
            "ratio_whole_epoch": ratios[1],
            "median_pair_ratio_batch_loop": paired[0],
            "median_pair_ratio_whole_epoch": paired[1],
            "cpu_seconds_per_epoch": {
                "plain_fit": cpu(plain_marks) / TIMED_EPOCHS,
                "tab_path": cpu(tab_marks) / TIMED_EPOCHS,
            },
            "cpu_ratio_whole_epoch": cpu_ratio,
            "median_pair_cpu_ratio": cpu_paired,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
