"""A finished run explains itself: the images of a confusion-matrix cell with their
Grad-CAM (:func:`cell_job`), and the predictions of a split made on request
(:func:`predictions_job`: the validation set, or the test set of a run from before runs
kept their predictions), both from the run's ``checkpoints/best.keras``.

Both are generator jobs (docs/ARCHITECTURE.md): they yield events and can be closed at
any ``yield``. Imports TensorFlow at its top: imported lazily, on a worker.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from cnnstudio.core import backbones, library
from cnnstudio.core.classify import explain
from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Notice, Progress
from cnnstudio.core.training import predictions as preds
from cnnstudio.core.training.params import TrainConfig, get_recipe
from cnnstudio.core.training.runs import load_run_config

BEST_MODEL = Path("checkpoints") / "best.keras"
#: pictures smaller than this are enlarged (nearest neighbour) before the heat map is laid
#: over them, so a 28x28 digit's heat map is not a blur of a few pixels
MIN_SIDE = 112

_model_lock = threading.Lock()
_model_cache: dict[tuple, Any] = {}


def run_model(run_dir: str | Path) -> Any:
    """The run's best model (``checkpoints/best.keras``, loaded safely); the last one
    loaded is kept while its file does not change."""
    path = Path(run_dir) / BEST_MODEL
    try:
        info = path.stat()
    except OSError:
        raise InputError(
            f"run {Path(run_dir).name} has no {BEST_MODEL.as_posix()} (no epoch finished "
            "with a validation), so there is no model to explain its predictions",
            param="run",
        ) from None
    key = (str(path), info.st_mtime_ns, info.st_size)
    with _model_lock:
        if key not in _model_cache:
            _model_cache.clear()
            _model_cache[key] = library.load_model_file(path)
        return _model_cache[key]


def prepare(images: np.ndarray, config: TrainConfig) -> tf.Tensor:
    """uint8 images (n, h, w, c) -> the model's input, as the run's pipeline made it:
    float32, resized to the input size, the backbone's preprocessing for transfer."""
    batch = tf.cast(tf.convert_to_tensor(images), tf.float32)
    size = (config.image_size, config.image_size)
    if tuple(images.shape[1:3]) != size:
        batch = tf.image.resize(batch, size)
    if config.recipe == "transfer":
        batch = backbones.preprocess(config.backbone, batch)
    return batch


def _enlarged(image: np.ndarray) -> np.ndarray:
    side = max(image.shape[:2])
    factor = math.ceil(MIN_SIDE / side) if side < MIN_SIDE else 1
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1) if factor > 1 else image


def cell_job(
    run_dir: str | Path,
    split: str,
    true: int,
    predicted: int,
    *,
    start: int = 0,
    count: int = 48,
    gradcam: bool = True,
) -> Generator[object, None, int]:
    """The images ``start .. start + count`` of the cell (true class ``true``, predicted
    ``predicted``) of the run's stored predictions of ``split``, one
    :class:`~.predictions.CellPicture` each, with the Grad-CAM of the predicted class
    from ``checkpoints/best.keras`` when ``gradcam``. Returns the cell's image count."""
    config = load_run_config(run_dir).resolved()
    stored = preds.load_predictions(run_dir, split)
    if stored is None:
        raise InputError(f"run {Path(run_dir).name} has no {split} predictions yet", param="run")
    rows = stored.cell(true, predicted)
    chosen = rows[start : start + count]
    yield Progress(0, max(len(chosen), 1), math.nan, message="reading the pictures")
    pictures = preds.cell_pictures(config, stored, chosen)
    model, note = None, ""
    if gradcam and len(chosen):
        try:
            model = run_model(run_dir)
        except InputError as error:
            note = str(error)
            yield Notice(note)
    names = stored.class_names
    for position, (row, (image, path, why)) in enumerate(zip(chosen, pictures, strict=True)):
        overlay, text = None, why or note
        shown = None if image is None else _enlarged(preds.rgb(image))
        if image is not None and model is not None:
            try:
                cam = explain.gradcam(model, prepare(image[None], config)[0].numpy(), predicted)
                overlay = explain.heatmap_overlay(shown, cam.heatmap)
            except (InputError, ValueError) as error:
                text = f"no Grad-CAM: {error}"
        yield preds.CellPicture(
            position=start + position,
            index=int(stored.index[row]),
            true=names[int(stored.true[row])],
            predicted=names[int(stored.predicted[row])],
            confidence=float(stored.confidence[row]),
            image=shown,
            overlay=overlay,
            path=path,
            note=text,
        )
        yield Progress(position + 1, len(chosen), math.nan)
    return len(rows)


def predictions_job(run_dir: str | Path, split: str) -> Generator[object, None, preds.Predictions]:
    """Predict the run's ``split`` with ``checkpoints/best.keras`` and keep the result
    in the run folder (:func:`~.predictions.save_predictions`)."""
    config = load_run_config(run_dir).resolved()
    yield Progress(0, 1, math.nan, message=f"loading {config.data}")
    sets = preds.split_data(config)
    x, y = sets[split]  # type: ignore[misc]
    model = run_model(run_dir)
    batch_size = get_recipe(config.recipe).eval_batch_size
    batches = max(math.ceil(len(x) / batch_size), 1)
    outputs = []
    for number in range(batches):
        chunk = x[number * batch_size : (number + 1) * batch_size]
        if len(chunk):
            outputs.append(np.asarray(model(prepare(chunk, config), training=False), np.float32))
        yield Progress(number + 1, batches, math.nan, message=f"predicting the {split} images")
    probabilities = np.concatenate(outputs) if outputs else np.zeros((0, 1), np.float32)
    predicted = probabilities.argmax(axis=1).astype(np.int64)
    result = preds.Predictions(
        split=split,
        class_names=tuple(sets["class_names"]),  # type: ignore[arg-type]
        index=np.arange(len(x), dtype=np.int64),
        true=np.asarray(y, np.int64),
        predicted=predicted,
        confidence=probabilities[np.arange(len(x)), predicted],
        total=len(x),
        model=f"{BEST_MODEL.as_posix()} (the epoch of the best validation accuracy)",
        paths=tuple(sets["paths"]),  # type: ignore[arg-type]
    )
    preds.save_predictions(run_dir, result)
    return result
