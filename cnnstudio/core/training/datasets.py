"""A dataset ready to train on: ``mnist``, ``cifar10``, an ``.npz`` file or a class folder,
loaded into uint8 arrays ``(N, H, W, C)`` with integer labels and split into training,
validation and test sets (:func:`load_dataset`). The files are read by
:mod:`.data_files` and :mod:`.image_folders`; :mod:`.pipeline` feeds the arrays to Keras.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnstudio.core.errors import InputError
from cnnstudio.core.training.data_files import BUILTIN_DATASETS, load_arrays
from cnnstudio.core.training.image_folders import load_image_folder, to_channels
from cnnstudio.core.training.survey import balance_text

#: the summary lists the images of each class when there are at most this many classes
_LISTED_CLASSES = 20


@dataclass
class Dataset:
    """Images as uint8 ``(N, H, W, C)`` and int labels, split three ways."""

    name: str
    class_names: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    #: files that could not be read (class folders): (path, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: True when the test set is the validation set (class folders have no test split)
    test_is_val: bool = False
    #: class folders: the files of x_test, relative to the folder (() for arrays)
    test_paths: tuple[str, ...] = ()

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def summary(self) -> str:
        h, w, c = self.image_shape
        text = (
            f"{self.name}: {len(self.x_train)} training, {len(self.x_val)} validation, "
            f"{len(self.x_test)} test images of {w}x{h}x{c}, {self.num_classes} classes"
        )
        if self.skipped:
            text += f"; {len(self.skipped)} unreadable file(s) skipped"
        counts = np.bincount(self.y_train.astype(np.int64), minlength=self.num_classes)
        if self.num_classes <= _LISTED_CLASSES:
            text += "\ntraining images per class: " + ", ".join(
                f"{name} {int(count)}"
                for name, count in zip(self.class_names, counts, strict=False)
            )
        largest = int(counts.max()) if len(counts) else 0
        if largest:
            text += f"\nbalance: {balance_text(int(counts.min()) / largest)}"
        return text


def _split_order(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The positions kept and held out by a random (seeded) split of ``fraction``."""
    order = np.random.default_rng(seed).permutation(count)
    held = min(max(int(round(count * fraction)), 1), count - 1)
    return order[held:], order[:held]


def _split(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random (seeded) split off ``fraction`` of the samples: (x_a, y_a, x_b, y_b)."""
    kept, held = _split_order(len(x), fraction, seed)
    return x[kept], y[kept], x[held], y[held]


def load_dataset(
    spec: str | Path,
    *,
    image_size: tuple[int, int] | None = None,
    channels: int | None = None,
    val_split: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Dataset:
    """Load ``mnist``, ``cifar10``, a ``.npz`` file or a class folder.

    ``image_size`` (h, w) is needed for class folders (their images come in any size);
    arrays keep their own size (the pipeline resizes). ``channels`` converts to grey or
    RGB. ``val_split`` of the training images become the validation set; 0 validates on
    the test set. ``limit`` caps the training images (quick tries, tests).
    """
    if not 0.0 <= val_split < 1.0:
        raise InputError(f"validation split {val_split} must be between 0 and 1 (exclusive)")
    spec_text = str(spec)
    path = Path(spec_text)
    skipped: list[tuple[str, str]] = []
    test_is_val = False
    test_paths: tuple[str, ...] = ()
    if spec_text not in BUILTIN_DATASETS and path.is_dir():
        if image_size is None:
            raise InputError("an image folder needs an input size; pick a recipe first")
        x, y, names, skipped, files = load_image_folder(
            path, image_size, channels or 3, on_progress
        )
        if len(x) < 2:
            raise InputError(f"{path} has only {len(x)} readable image; it needs at least 2")
        kept, held = _split_order(len(x), val_split or 0.2, seed)
        x_train, y_train, x_val, y_val = x[kept], y[kept], x[held], y[held]
        test_paths = tuple(files[i] for i in held)
        x_test, y_test, test_is_val = x_val, y_val, True
        name = path.name
    else:
        arrays, names = load_arrays(spec_text)
        x_train, y_train = arrays["x_train"], arrays["y_train"]
        if "x_test" in arrays:
            x_test, y_test = arrays["x_test"], arrays["y_test"]
            if x_test.shape[1:3] != x_train.shape[1:3]:
                raise InputError(
                    f"{path.name}: x_test images are {x_test.shape[1:3]}, x_train "
                    f"{x_train.shape[1:3]}; they must have the same size"
                )
        else:  # no test set in the file: hold out a part of the training set
            x_train, y_train, x_test, y_test = _split(x_train, y_train, 0.1, seed + 1)
        if val_split > 0:
            x_train, y_train, x_val, y_val = _split(x_train, y_train, val_split, seed)
        else:
            x_val, y_val = x_test, y_test
        name = spec_text if spec_text in BUILTIN_DATASETS else path.name
        if channels is not None:
            x_train, x_val, x_test = (to_channels(a, channels) for a in (x_train, x_val, x_test))
    if limit is not None and limit > 0:
        x_train, y_train = x_train[:limit], y_train[:limit]
        x_val, y_val = x_val[: max(limit // 4, 1)], y_val[: max(limit // 4, 1)]
        if not test_is_val:
            x_test, y_test = x_test[: max(limit // 4, 1)], y_test[: max(limit // 4, 1)]
        else:
            x_test, y_test = x_val, y_val
            test_paths = test_paths[: len(x_test)]
    return Dataset(
        name,
        list(names),
        x_train,
        y_train,
        x_val,
        y_val,
        x_test,
        y_test,
        skipped,
        test_is_val,
        test_paths,
    )
