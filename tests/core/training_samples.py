"""Small learnable data sets and run settings shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from cnnstudio.core.training.events import BatchEnd
from cnnstudio.core.training.params import TrainConfig


def band_images(count: int, size: int = 28, classes: int = 3, seed: int = 0, colour=False):
    """Learnable toy data: class c is a bright horizontal band at height c."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, count)
    x = rng.integers(0, 60, (count, size, size)).astype(np.uint8)
    band = size // classes
    for i, c in enumerate(y):
        x[i, c * band : (c + 1) * band, :] = rng.integers(190, 255)
    if colour:
        x = np.repeat(x[..., None], 3, axis=-1)
    return x, y


def write_npz(path: Path, train: int = 200, test: int = 40, **kwargs) -> Path:
    x_train, y_train = band_images(train, seed=1, **kwargs)
    x_test, y_test = band_images(test, seed=2, **kwargs)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def write_class_folder(root: Path, per_class: int = 10) -> Path:
    """3 class subfolders of 32x32 PNGs plus one broken file."""
    x, y = band_images(per_class * 3, size=32, colour=True, seed=3)
    for name in ("a", "b", "c"):
        (root / name).mkdir(parents=True)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        Image.fromarray(image).save(root / "abc"[label] / f"{i}.png")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return root


def run_config(npz: Path, run_dir: Path, **kwargs) -> TrainConfig:
    """A quick LeNet-5 run on ``npz``: 2 epochs of batches of 20, every batch reported."""
    values = dict(
        recipe="lenet5",
        data=str(npz),
        epochs=2,
        batch_size=20,
        run_dir=str(run_dir),
        throttle_seconds=0.0,
    )
    values.update(kwargs)
    return TrainConfig(**values)


def first_batch_loss(events: list[object]) -> float:
    return next(e.loss for e in events if isinstance(e, BatchEnd))


def write_run_folder(
    root: Path,
    name: str,
    *,
    state: str = "finished",
    epochs: int = 3,
    done: int = 3,
    updated: str | None = None,
    **status_fields,
) -> Path:
    """A run folder as a trainer leaves it (config.json, status.json, history.csv),
    written directly: quick enough to make hundreds."""
    import json

    from cnnstudio.core.training.status import now_text

    folder = root / name
    folder.mkdir(parents=True)
    config = TrainConfig(recipe="lenet5", data="mnist", epochs=epochs).resolved()
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    status = {
        "state": state,
        "recipe": "lenet5",
        "dataset": "mnist",
        "epochs": epochs,
        "epochs_completed": done,
        "started": "2026-01-02T03:04:05+00:00",
        "updated": updated or now_text(),
        "train_seconds": 12.5,
        "test_accuracy": 0.97,
        "host": "elsewhere",
        "pid": 1,
        **status_fields,
    }
    (folder / "status.json").write_text(json.dumps(status))
    rows = ["epoch,accuracy,loss,val_accuracy,val_loss,wall_time"]
    rows += [
        f"{e},{0.5 + e / 10},{1.0 - e / 10},{0.4 + e / 10},{1.1 - e / 10},{1e9 + e}"
        for e in range(done)
    ]
    (folder / "history.csv").write_text("\n".join(rows) + "\n")
    return folder
