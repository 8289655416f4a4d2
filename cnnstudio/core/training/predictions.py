"""Every prediction of a run's test (or validation) set, kept in its run folder, so a
confusion-matrix cell can be opened long after the run: which images, how sure.

``predictions-test.npz`` is written by the test at the end of a run (the model the run
ended with); ``predictions-validation.npz``, or the test file of a run from before they
existed, is made on request from ``checkpoints/best.keras`` (:mod:`.explain_run`). Each
holds, per image: its position in the split, true and predicted class, the predicted
class's probability, and for a class folder the image's file (relative to the folder).
The pictures themselves come back from the dataset (:func:`cell_pictures`). Files are
read within a size limit and without pickles: a run folder may come from anywhere.
Imports no TensorFlow.
"""

from __future__ import annotations

import io
import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnstudio.core import files
from cnnstudio.core.errors import InputError
from cnnstudio.core.training.data_files import BUILTIN_DATASETS
from cnnstudio.core.training.image_folders import read_folder_image, to_channels
from cnnstudio.core.training.params import TrainConfig, get_recipe

SPLITS = ("test", "validation")
FILES = {split: f"predictions-{split}.npz" for split in SPLITS}
MAX_BYTES = 256 << 20


@dataclass(frozen=True, eq=False)
class Predictions:
    """The predictions of one split; ``index[i]`` is the image's position in the split."""

    split: str
    class_names: tuple[str, ...]
    index: np.ndarray  # int64
    true: np.ndarray  # int64
    predicted: np.ndarray  # int64
    confidence: np.ndarray  # float32: the predicted class's probability
    total: int  # images in the split (more than len(index) when a stopped run tested part)
    model: str  # which model made them, in words
    paths: tuple[str, ...] = ()  # class folders: each image's file, relative to the folder

    def __len__(self) -> int:
        return len(self.index)

    def confusion(self) -> np.ndarray:
        """(classes, classes) counts: rows true, columns predicted."""
        classes = len(self.class_names)
        matrix = np.zeros((classes, classes), np.int64)
        np.add.at(matrix, (self.true, self.predicted), 1)
        return matrix

    @property
    def misclassified(self) -> int:
        return int(np.count_nonzero(self.true != self.predicted))

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.true == self.predicted)) if len(self) else float("nan")

    def cell(self, true: int, predicted: int) -> np.ndarray:
        """Rows (into these arrays) of the images of a cell: mistakes most confident
        first, right answers least confident first (the close calls)."""
        rows = np.flatnonzero((self.true == true) & (self.predicted == predicted))
        key = -self.confidence[rows] if true != predicted else self.confidence[rows]
        return rows[np.argsort(key, kind="stable")]


def predictions_path(run_dir: str | Path, split: str) -> Path:
    if split not in FILES:
        raise InputError(f"unknown split '{split}': choose {' or '.join(SPLITS)}")
    return Path(run_dir) / FILES[split]


def save_predictions(run_dir: str | Path, predictions: Predictions) -> Path:
    """Write (atomically, replacing) the run folder's predictions of a split."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        split=np.array(predictions.split),
        class_names=np.array(list(predictions.class_names), dtype=str),
        index=np.asarray(predictions.index, np.int64),
        true=np.asarray(predictions.true, np.int64),
        predicted=np.asarray(predictions.predicted, np.int64),
        confidence=np.asarray(predictions.confidence, np.float32),
        total=np.array(int(predictions.total), np.int64),
        model=np.array(predictions.model),
        paths=np.array(list(predictions.paths), dtype=str),
    )
    path = predictions_path(run_dir, predictions.split)
    return files.write_bytes(path, buffer.getvalue(), overwrite=True)


def load_predictions(run_dir: str | Path, split: str) -> Predictions | None:
    """The run folder's predictions of ``split``; None when it has none. InputError
    when the file is damaged or not ours."""
    path = predictions_path(run_dir, split)
    if not path.exists():
        return None
    raw = files.read_bytes(path, MAX_BYTES, what="predictions")

    def damaged(reason: str) -> InputError:
        return files.file_error(path, "predictions", f"{reason}; make them again")

    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise damaged(f"cannot be read ({error})") from None
    needed = ("class_names", "index", "true", "predicted", "confidence", "total", "model")
    missing = [name for name in needed if name not in arrays]
    if missing:
        raise damaged(f"has no {', '.join(missing)}")
    names = tuple(str(n) for n in np.atleast_1d(arrays["class_names"]))
    columns = [np.atleast_1d(arrays[n]) for n in ("index", "true", "predicted", "confidence")]
    count = len(columns[0])
    if any(len(c) != count for c in columns) or any(c.ndim != 1 for c in columns):
        raise damaged("has columns of different lengths")
    try:
        index, true, predicted = (c.astype(np.int64, casting="same_kind") for c in columns[:3])
        confidence = columns[3].astype(np.float32)
        total = int(arrays["total"])
    except (TypeError, ValueError):
        raise damaged("has values of the wrong kind") from None
    classes = len(names)
    if count and (
        min(true.min(), predicted.min(), index.min()) < 0
        or max(true.max(), predicted.max()) >= classes
        or index.max() >= max(total, count)
    ):
        raise damaged("has classes or positions out of range")
    paths = tuple(str(p) for p in np.atleast_1d(arrays.get("paths", np.array([], str))))
    if paths and len(paths) != count:
        raise damaged("has a file list of another length")
    return Predictions(
        split=split,
        class_names=names,
        index=index,
        true=true,
        predicted=predicted,
        confidence=confidence,
        total=max(total, count),
        model=str(arrays["model"])[:300],
        paths=paths,
    )


def available_splits(run_dir: str | Path) -> list[str]:
    """The splits whose predictions the run folder holds."""
    return [split for split in SPLITS if predictions_path(run_dir, split).exists()]


# ------------------------------------------------------------------ the pictures


@dataclass(frozen=True, eq=False)
class CellPicture:
    """One image of a confusion-matrix cell (an event of :mod:`.explain_run`'s job):
    ``image`` uint8 RGB, ``overlay`` its Grad-CAM over it (None: not asked or failed,
    ``note`` says why), ``position`` its place in the cell's list."""

    position: int
    index: int  # position in the split
    true: str
    predicted: str
    confidence: float
    image: np.ndarray | None
    overlay: np.ndarray | None = None
    path: str = ""
    note: str = ""


_cache_lock = threading.Lock()
_cache: dict[tuple, dict[str, object]] = {}


def split_data(config: TrainConfig) -> dict[str, object]:
    """The run's ``test`` and ``validation`` sets as (images, labels), its class names
    and, for a class folder, ``paths`` of the test (= validation) images: loaded as
    training loaded them (same split, seed and limit). The last run's sets are kept
    for the next cell (the training images are not)."""
    from cnnstudio.core.training.datasets import load_dataset

    config = config.resolved()
    data = config.data
    try:
        stamp = None if data in BUILTIN_DATASETS else os.stat(data)[7:9]
    except OSError:
        raise InputError(
            f"the run's dataset {data} is not there any more; its pictures cannot be shown",
            param="data",
        ) from None
    spec = get_recipe(config.recipe)
    size = (config.image_size, config.image_size)
    key = (data, stamp, config.val_split, config.seed, config.limit, spec.channels, size)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    dataset = load_dataset(
        data,
        image_size=size,
        channels=spec.channels,
        val_split=config.val_split,
        seed=config.seed,
        limit=config.limit or None,
    )
    sets: dict[str, object] = {
        "test": (dataset.x_test, dataset.y_test),
        "validation": (dataset.x_val, dataset.y_val),
        "class_names": tuple(dataset.class_names),
        "paths": dataset.test_paths,
    }
    with _cache_lock:
        _cache.clear()
        _cache[key] = sets
    return sets


def rgb(image: np.ndarray) -> np.ndarray:
    """A grey (h, w, 1) picture as RGB; RGB unchanged."""
    return to_channels(image[None], 3)[0] if image.shape[-1] != 3 else image


def cell_pictures(
    config: TrainConfig, predictions: Predictions, rows: np.ndarray
) -> list[tuple[np.ndarray | None, str, str]]:
    """The pictures of ``rows`` of the predictions as the model saw them (uint8, the
    recipe's channels; arrays keep their size, files are resized to the input size):
    (image or None, file, why it is missing). Class folders: read from their files;
    arrays: the dataset is loaded again as the run loaded it, and the labels are checked
    against the stored ones."""
    config = config.resolved()
    channels = get_recipe(config.recipe).channels
    size = (config.image_size, config.image_size)
    out: list[tuple[np.ndarray | None, str, str]] = []
    if predictions.paths:
        root = Path(config.data)
        for row in rows:
            path = root / predictions.paths[int(row)]
            try:
                out.append((read_folder_image(path, size, channels), str(path), ""))
            except Exception as error:  # noqa: BLE001 - a moved or broken file, shown as such
                out.append((None, str(path), str(error) or type(error).__name__))
        return out
    x, y = split_data(config)[predictions.split]  # type: ignore[misc]
    index = predictions.index[rows]
    if len(index) and (index.max() >= len(y) or np.any(y[index] != predictions.true[rows])):
        raise InputError(
            f"the dataset {config.data} changed since the run: its {predictions.split} "
            "images no longer match the stored predictions",
            param="data",
        )
    return [(x[i], "", "") for i in index]
