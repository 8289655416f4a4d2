"""Train tab path vs plain ``model.fit``: images per second, same model and data, one run.

The tab trains through :func:`cnnstudio.core.training.trainer.train`, i.e. ``model.fit``
with :func:`~cnnstudio.core.training.trainer.training_callbacks`: the event callback
(throttled batch events, stop polling), BackupAndRestore, ModelCheckpoint (best model),
the CSV log (and TensorBoard when installed). The reference is ``model.fit`` on the same
cifar-cnn model (built by the same recipe) and the same tf.data pipeline, no callbacks.

The machine is shared, so its speed drifts by 2x within minutes. To cancel that, the two
sides train one epoch at a time in alternation (plain, tab, plain, tab, ...), each
``fit`` continuing its own model; the first epoch of each side (tracing) is not counted.
Both sides carry the same epoch clock (epoch hooks only, so fit keeps its fast batch
path) that times:
- the batch loop (epoch begin -> validation begin): training images per second;
- the whole epoch (begin -> end, with validation and the callbacks' end-of-epoch work:
  backup, checkpoint, CSV), as images per second.
Target: the tab path within 5% of plain fit.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
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


def _epoch_clock(marks: list[tuple[float, float, float]]):
    import keras

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.begin = time.perf_counter()
            self.loop_end = None

        def on_test_begin(self, logs=None):  # the epoch's batch loop is over
            if self.loop_end is None:
                self.loop_end = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            marks.append((self.begin, self.loop_end, time.perf_counter()))

    return EpochClock()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["CNNSTUDIO_HOME"] = str(folder / "home")
        from cnnstudio.core.training import trainer

        npz = _data(folder)
        total_epochs = TIMED_EPOCHS + 1
        # val_split 0: validate on the test set, so every training image is trained on
        config = trainer.TrainConfig(
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
        batch_events = []
        tab_callbacks, _ = trainer.training_callbacks(
            config, folder / "run", batch_events.append, lambda: False, n
        )
        plain_marks: list[tuple[float, float, float]] = []
        tab_marks: list[tuple[float, float, float]] = []
        plain_clock, tab_clock = _epoch_clock(plain_marks), _epoch_clock(tab_marks)
        for epoch in range(total_epochs):
            plain_model.fit(
                plain_pipes["train"],
                validation_data=plain_pipes["val"],
                initial_epoch=epoch,
                epochs=epoch + 1,
                callbacks=[plain_clock],
                verbose=0,
                shuffle=False,
            )
            tab_model.fit(
                tab_pipes["train"],
                validation_data=tab_pipes["val"],
                initial_epoch=epoch,
                epochs=epoch + 1,
                callbacks=[*tab_callbacks, tab_clock],
                verbose=0,
                shuffle=False,
            )
            p, t = plain_marks[-1], tab_marks[-1]
            print(
                f"epoch {epoch + 1}{' (warm-up)' if epoch == 0 else ''}: plain fit "
                f"{n / (p[1] - p[0]):.0f} / {n / (p[2] - p[0]):.0f} images/s, tab path "
                f"{n / (t[1] - t[0]):.0f} / {n / (t[2] - t[0]):.0f} images/s "
                "(batch loop / whole epoch)",
                flush=True,
            )
    assert len(batch_events) > 0, "the tab path sent no events"

    def rate(marks, stop: int) -> float:
        return n * TIMED_EPOCHS / sum(m[stop] - m[0] for m in marks[1:])

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
    print(f"cifar-cnn, {n} images 32x32, batch {BATCH}, {TIMED_EPOCHS} timed epochs per side")
    for label, i in (("batch loop: ", 0), ("whole epoch:", 1)):
        print(
            f"{label} plain fit {plain[i]:.0f} images/s, tab path {tab[i]:.0f} images/s, "
            f"ratio {ratios[i]:.3f} (median of epoch pairs {paired[i]:.3f}; target >= 0.95)"
        )
    path = record(
        "train",
        {
            "model": "cifar-cnn",
            "train_images": n,
            "batch_size": BATCH,
            "timed_epochs_per_side": TIMED_EPOCHS,
            "plain_fit_images_per_s": {"batch_loop": plain[0], "whole_epoch": plain[1]},
            "tab_path_images_per_s": {"batch_loop": tab[0], "whole_epoch": tab[1]},
            "ratio_batch_loop": ratios[0],
            "ratio_whole_epoch": ratios[1],
            "median_pair_ratio_batch_loop": paired[0],
            "median_pair_ratio_whole_epoch": paired[1],
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
