"""The files behind the datasets: MNIST and CIFAR-10 as Keras ships them, and ``.npz``
files in the Keras layout (``x_train``, ``y_train``, optionally ``x_test``, ``y_test``).

MNIST and CIFAR-10 are never downloaded here: the files are looked for in the Keras cache
and in the app's data folder, and a missing one raises :class:`ResourceMissingError`
naming the file, its size and the folders (``remedy``: supply the dataset, which
:func:`import_dataset_file` installs). Keras itself is not asked to load them because it
would try a download (and hang offline) when its file is missing or differs from its hash.
Untrusted bytes are never unpickled: ``.npz`` files are read without pickles, and the
CIFAR-10 archive (whose batches are pickles) must match its official SHA-256 first.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnstudio.core import files, npz_files, paths
from cnnstudio.core.errors import InputError, Remedy, ResourceMissingError

BUILTIN_DATASETS = ("mnist", "cifar10")
MAX_CLASSES = 10_000  # labels of a dataset file (a label of 10^9 would mean 10^9 names)
MAX_CLASS_NAME = 200  # characters
MNIST_CLASSES = [str(i) for i in range(10)]
CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


@dataclass(frozen=True)
class DatasetFile:
    """A file Keras downloads for a built-in dataset (names and hashes from keras/src/datasets)."""

    dataset: str
    file_name: str  # the name the user downloads
    size_bytes: int
    sha256: str
    url: str
    keras_names: tuple[str, ...]  # names it has inside the Keras cache's datasets/ folder


DATASET_FILES = {
    "mnist": DatasetFile(
        "mnist",
        "mnist.npz",
        11_490_434,
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        ("mnist.npz",),
    ),
    "cifar10": DatasetFile(
        "cifar10",
        "cifar-10-python.tar.gz",
        170_498_071,
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        # Keras 3 stores the archive as "<fname>_archive"; older Keras kept the original name
        ("cifar-10-batches-py-target_archive", "cifar-10-python.tar.gz"),
    ),
}


def dataset_dirs() -> list[Path]:
    """Folders searched for the built-in datasets' files, in order."""
    return [paths.data_dir() / "datasets", paths.keras_cache_dir() / "datasets"]


def _missing(dataset: str) -> ResourceMissingError:
    info = DATASET_FILES[dataset]
    folders = " or ".join(str(d) for d in dataset_dirs())
    return ResourceMissingError(
        f"the {dataset.upper()} dataset is not on this machine and cannot be downloaded "
        f"here: {info.file_name} ({info.size_bytes / 2**20:.0f} MB, from {info.url}) was "
        f"looked for in {folders}",
        param="data",
        remedy=Remedy.SUPPLY_DATASET,
        dataset=dataset,
        file_name=info.file_name,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_dataset_file(dataset: str) -> Path | None:
    """The local file of a built-in dataset (converted ``.npz`` first), or None."""
    if dataset == "mnist":
        for folder in dataset_dirs():
            if (folder / "mnist.npz").is_file():
                return folder / "mnist.npz"
        return None
    if dataset == "cifar10":
        converted = paths.data_dir() / "datasets" / "cifar10.npz"
        if converted.is_file():
            return converted
        for folder in dataset_dirs():
            for name in DATASET_FILES["cifar10"].keras_names:
                if (folder / name).is_file():
                    return folder / name
        return None
    raise InputError(f"unknown dataset '{dataset}': choose from {', '.join(BUILTIN_DATASETS)}")


def _cifar_arrays_from_archive(archive: Path) -> dict[str, np.ndarray]:
    """Read the CIFAR-10 python archive. The batches are pickles, so the archive must match
    the official SHA-256 first: unpickling anything else could run code."""
    info = DATASET_FILES["cifar10"]
    if _sha256(archive) != info.sha256:
        raise InputError(
            f"{archive} is not the official {info.file_name} (its SHA-256 differs); "
            f"download it again from {info.url}"
        )
    xs = []
    test: tuple[np.ndarray, np.ndarray] | None = None
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            base = Path(member.name).name
            if not (base.startswith("data_batch_") or base == "test_batch"):
                continue
            handle = tar.extractfile(member)
            batch = pickle.load(io.BytesIO(handle.read()), encoding="bytes")  # noqa: S301 (hash-checked)
            data = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32)
            data = data.transpose(0, 2, 3, 1)
            labels = np.asarray(batch[b"labels"], np.int64)
            if base == "test_batch":
                test = (data, labels)
            else:
                xs.append((base, data, labels))
    if test is None or len(xs) != 5:
        raise InputError(f"{archive} does not contain the five CIFAR-10 batches and test_batch")
    xs.sort(key=lambda item: item[0])
    return {
        "x_train": np.concatenate([d for _, d, _ in xs]),
        "y_train": np.concatenate([lab for _, _, lab in xs]),
        "x_test": test[0],
        "y_test": test[1],
    }


def import_dataset_file(path: str | Path) -> tuple[str, Path]:
    """Install a dataset file the user brings (``mnist.npz`` or ``cifar-10-python.tar.gz``)
    into the app's data folder. Returns (dataset name, installed path)."""
    path = Path(path)
    if not os.path.lexists(path):
        raise InputError(f"dataset file not found: {path}")
    files.check_regular_file(path, what="dataset file", max_bytes=npz_files.MAX_FILE_BYTES)
    target_dir = paths.data_dir() / "datasets"
    if tarfile.is_tarfile(path):
        arrays = _cifar_arrays_from_archive(path)
        target = target_dir / "cifar10.npz"
        _save_npz(target, arrays)
        return "cifar10", target
    if path.suffix.lower() == ".npz":
        arrays = _read_npz(path)
        if arrays["x_train"].shape[1:3] == (28, 28) and len(arrays["x_train"]) == 60000:
            target = target_dir / "mnist.npz"
            with (
                files.open_regular(path, what="dataset file") as source,
                files.atomic_write(target, overwrite=True, param=None) as copy,
            ):
                shutil.copyfileobj(source, copy, 1 << 20)
            return "mnist", target
        raise InputError(
            f"{path.name} is not MNIST (60000 images of 28x28); use your own .npz files "
            "directly as the training data instead of importing them"
        )
    raise InputError(
        f"{path.name} is neither mnist.npz nor cifar-10-python.tar.gz; import one of those"
    )


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """A Keras-layout ``.npz`` checked for keys, shapes and sizes (npz_files.read_npz:
    regular files, bounded, no pickles) and labels below MAX_CLASSES."""
    arrays = npz_files.read_npz(path)
    missing = [k for k in ("x_train", "y_train") if k not in arrays]
    if missing:
        raise InputError(
            f"{path.name} lacks {', '.join(missing)}: a dataset .npz needs x_train and "
            f"y_train (and optionally x_test, y_test); it has {', '.join(arrays) or 'nothing'}"
        )
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise InputError(f"{path.name} has only one of x_test and y_test; give both or neither")
    for split in ("train", "test"):
        if f"x_{split}" not in arrays:
            continue
        x = _as_images(arrays[f"x_{split}"], path.name, f"x_{split}")
        y = np.asarray(arrays[f"y_{split}"])
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1 or len(y) != len(x):
            raise InputError(
                f"{path.name}: y_{split} must hold one label per image ({len(x)}), "
                f"but has shape {y.shape}"
            )
        if not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
            if np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)) and y.min() >= 0:
                y = y.astype(np.int64)
            else:
                raise InputError(f"{path.name}: y_{split} must be integer class indices >= 0")
        if len(y) and y.max() >= MAX_CLASSES:
            raise InputError(
                f"{path.name}: y_{split} holds label {int(y.max())}, more than the limit of "
                f"{MAX_CLASSES} classes",
                param="data",
            )
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, y.astype(np.int64)
    return arrays


def _as_images(x: np.ndarray, file_name: str, key: str) -> np.ndarray:
    """(N,H,W), (N,H,W,1) or (N,H,W,3) of any numeric type -> uint8 (N,H,W,C)."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or min(x.shape[1:3]) < 1 or len(x) == 0:
        raise InputError(
            f"{file_name}: {key} must be images of shape (N, H, W), (N, H, W, 1) or "
            f"(N, H, W, 3), but has shape {x.shape}"
        )
    if x.dtype == np.uint8:
        return x
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise InputError(f"{file_name}: {key} must be numeric, not {x.dtype}")
    was_float = np.issubdtype(x.dtype, np.floating)
    x = x.astype(np.float32)
    if was_float and x.size and float(x.max()) <= 1.0:
        x = x * 255.0  # images stored as 0..1 floats
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _save_npz(target: Path, arrays: dict[str, np.ndarray]) -> None:
    """Arrays into ``target`` (.npz), whole or not at all (core.files)."""
    with files.atomic_write(target, overwrite=True, param=None) as handle:
        np.savez(handle, **arrays)


def load_arrays(dataset: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """Arrays (x_train, y_train[, x_test, y_test]) and class names of a built-in dataset
    or an ``.npz`` file."""
    if dataset in BUILTIN_DATASETS:
        found = find_dataset_file(dataset)
        if found is None:
            raise _missing(dataset)
        if found.suffix == ".npz":
            arrays = _read_npz(found)
        else:  # a CIFAR-10 archive in the Keras cache: convert once, keep the .npz
            arrays = _cifar_arrays_from_archive(found)
            _save_npz(paths.data_dir() / "datasets" / "cifar10.npz", arrays)
        names = MNIST_CLASSES if dataset == "mnist" else CIFAR10_CLASSES
        return arrays, list(names)
    path = Path(dataset)
    if not os.path.lexists(path):  # a broken link or a loop is named by read_npz
        raise InputError(
            f"dataset '{dataset}' not found: use mnist, cifar10, a .npz file or a folder "
            "with one subfolder per class"
        )
    arrays = _read_npz(path)
    if "class_names" in arrays and arrays["class_names"].dtype.kind in "US":
        names = [str(n)[:MAX_CLASS_NAME] for n in arrays["class_names"].ravel()[: MAX_CLASSES + 1]]
        if len(names) > MAX_CLASSES:
            raise InputError(
                f"{path.name}: class_names holds more than the limit of {MAX_CLASSES} names",
                param="data",
            )
    else:
        labels = [arrays["y_train"]] + ([arrays["y_test"]] if "y_test" in arrays else [])
        count = int(max(int(lab.max()) for lab in labels if len(lab))) + 1
        names = [str(i) for i in range(count)]
    top = max(int(arrays["y_train"].max()), int(arrays.get("y_test", np.zeros(1, int)).max()))
    if top >= len(names):
        raise InputError(f"{path.name}: label {top} has no class name ({len(names)} given)")
    return arrays, names
