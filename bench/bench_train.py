"""Train tab path vs plain ``model.fit``: images per second, same model and data, one run.

The tab trains through :func:`cnnstudio.core.training.trainer.train`: the event callback
(throttled batch events, stop polling), BackupAndRestore, two ModelCheckpoints, the CSV
log (and TensorBoard when installed). The reference is ``model.fit`` on the same
cifar-cnn model and the same tf.data pipeline with no callbacks at all.

Two numbers, each the best of two alternating rounds (the machine is shared):
- batch-loop throughput: training images per second, first epoch (tracing) excluded;
- whole-epoch wall clock including validation and everything the callbacks do at the
  end of an epoch (checkpoints, logs), as images per second.
Target: the tab path within 5% of plain fit.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import record

TRAIN_IMAGES = 2048
TEST_IMAGES = 256
EPOCHS = 4  # the first is a warm-up (tracing) and is not counted
BATCH = 128  # the recipe's batch size
ROUNDS = 2


def _data(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    n = TRAIN_IMAGES + TEST_IMAGES
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    path = folder / "bench_cifar.npz"
    np.savez(path, x_train=x[:TRAIN_IMAGES], y_train=y[:TRAIN_IMAGES],
             x_test=x[TRAIN_IMAGES:], y_test=y[TRAIN_IMAGES:])
    return path


def _config(npz: Path, run_dir: Path):
    from cnnstudio.core.training.trainer import TrainConfig

    # val_split 0: validate on the test set, so every training image is used
    return TrainConfig(recipe="cifar-cnn", data=str(npz), epochs=EPOCHS, batch_size=BATCH,
                       val_split=0.0, run_dir=str(run_dir), seed=0)


def _plain_fit(npz: Path, folder: Path) -> tuple[float, float]:
    """(batch-loop images/s, whole-epoch images/s) of model.fit with no callbacks."""
    import keras

    from cnnstudio.core.training import trainer

    config = _config(npz, folder / "unused").resolved()
    dataset, model, pipes = trainer.prepare(config)
    n = len(dataset.x_train)
    marks: list[tuple[float, float]] = []  # (epoch begin, epoch end)

    class EpochClock(keras.callbacks.Callback):  # epoch hooks only: fit stays as plain
        def on_epoch_begin(self, epoch, logs=None):
            self.begin = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            marks.append((self.begin, time.perf_counter()))

    # batch loop: fit without validation; whole epochs: fit with the same validation data
    model.fit(pipes["train"], epochs=EPOCHS, callbacks=[EpochClock()], verbose=0,
              shuffle=False)
    loop = n * (EPOCHS - 1) / sum(end - begin for begin, end in marks[1:])
    marks.clear()
    model.fit(pipes["train"], validation_data=pipes["val"], epochs=EPOCHS,
              callbacks=[EpochClock()], verbose=0, shuffle=False)
    whole = n * (EPOCHS - 1) / (marks[-1][1] - marks[0][1])
    return loop, whole


def _tab_path(npz: Path, folder: Path, round_index: int) -> tuple[float, float]:
    """The same through trainer.train (as the tab runs it), from its EpochEnd events."""
    from cnnstudio.core.training import trainer

    epochs: list[tuple[float, trainer.EpochEnd]] = []

    def on_event(event: object) -> None:  # like the GUI: hand the event over, return
        if isinstance(event, trainer.EpochEnd):
            epochs.append((time.perf_counter(), event))

    run = folder / f"run-{round_index}"
    result = trainer.train(_config(npz, run), on_event=on_event, should_stop=lambda: False)
    n = TRAIN_IMAGES
    loop = n * (EPOCHS - 1) / sum(n / e.images_per_second for _, e in epochs[1:])
    whole = n * (EPOCHS - 1) / (epochs[-1][0] - epochs[0][0])
    # the whole-epoch reference validates as well, so the comparison is like for like
    return loop, whole


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["CNNSTUDIO_HOME"] = str(folder / "home")
        npz = _data(folder)
        plain, tab = [], []
        for index in range(ROUNDS):
            plain.append(_plain_fit(npz, folder))
            tab.append(_tab_path(npz, folder, index))
            print(f"round {index + 1}: plain fit {plain[-1][0]:.0f} / {plain[-1][1]:.0f} "
                  f"images/s, tab path {tab[-1][0]:.0f} / {tab[-1][1]:.0f} images/s "
                  "(batch loop / whole epoch)", flush=True)
    best_plain = [max(r[i] for r in plain) for i in (0, 1)]
    best_tab = [max(r[i] for r in tab) for i in (0, 1)]
    ratios = [best_tab[i] / best_plain[i] for i in (0, 1)]
    print(f"cifar-cnn, {TRAIN_IMAGES} images 32x32, batch {BATCH}, {EPOCHS - 1} timed epochs")
    print(f"batch loop:  plain fit {best_plain[0]:.0f} images/s, tab path {best_tab[0]:.0f} "
          f"images/s, ratio {ratios[0]:.3f} (target >= 0.95)")
    print(f"whole epoch: plain fit {best_plain[1]:.0f} images/s, tab path {best_tab[1]:.0f} "
          f"images/s, ratio {ratios[1]:.3f} (target >= 0.95)")
    path = record("train", {
        "model": "cifar-cnn", "train_images": TRAIN_IMAGES, "batch_size": BATCH,
        "timed_epochs": EPOCHS - 1, "rounds": ROUNDS,
        "plain_fit_images_per_s": best_plain, "tab_path_images_per_s": best_tab,
        "ratio_batch_loop": ratios[0], "ratio_whole_epoch": ratios[1],
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
