"""Training data: MNIST, CIFAR-10, ``.npz`` files in the Keras layout, class folders.

Everything is loaded into uint8 arrays ``(N, H, W, C)`` with integer labels, split into
training, validation and test sets, and fed to Keras through :func:`make_pipeline`
(tf.data: cache, shuffle, augmentation, batch, prefetch).

MNIST and CIFAR-10 are never downloaded here: the files are looked for in the Keras cache
and in the app's data folder, and a missing one raises :class:`ResourceMissingError`
naming the file, its size, the folders and how to import it (:func:`import_dataset_file`).
Keras itself is not asked to load them because it would try a download (and hang
offline) when its file is missing or differs from its hash.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core import paths
from cnnstudio.core.errors import InputError, ResourceMissingError

BUILTIN_DATASETS = ("mnist", "cifar10")
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
        return text


@dataclass(frozen=True)
class Augment:
    """The CIFAR-10 augmentation of the TF2 recipe, each part switchable."""

    crop: bool = True  # pad by `pad` pixels, then crop back at a random offset
    pad: int = 4
    flip: bool = True  # random horizontal flip
    brightness: float = 0.1  # max delta as a fraction of the full range; 0 = off
    contrast: tuple[float, float] | None = (0.5, 0.8)  # random contrast factor range

    @property
    def active(self) -> bool:
        return self.crop or self.flip or self.brightness > 0 or self.contrast is not None


# ----------------------------------------------------------------------------- files


def dataset_dirs() -> list[Path]:
    """Folders searched for the built-in datasets' files, in order."""
    return [paths.data_dir() / "datasets", paths.keras_cache_dir() / "datasets"]


def _missing(dataset: str) -> ResourceMissingError:
    info = DATASET_FILES[dataset]
    folders = " or ".join(str(d) for d in dataset_dirs())
    return ResourceMissingError(
        f"the {dataset.upper()} dataset is not on this machine and cannot be downloaded "
        f"here: {info.file_name} ({info.size_bytes / 2**20:.0f} MB, from {info.url}) was "
        f"looked for in {folders}; get the file and install it with Train > 'Import dataset "
        f"file...' or `cnnstudio train --import-dataset {info.file_name}`"
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
    if not path.is_file():
        raise InputError(f"dataset file not found: {path}")
    target_dir = paths.data_dir() / "datasets"
    target_dir.mkdir(parents=True, exist_ok=True)
    if tarfile.is_tarfile(path):
        arrays = _cifar_arrays_from_archive(path)
        target = target_dir / "cifar10.npz"
        np.savez(target, **arrays)
        return "cifar10", target
    if path.suffix.lower() == ".npz":
        arrays = _read_npz(path)
        if arrays["x_train"].shape[1:3] == (28, 28) and len(arrays["x_train"]) == 60000:
            target = target_dir / "mnist.npz"
            target.write_bytes(path.read_bytes())
            return "mnist", target
        raise InputError(
            f"{path.name} is not MNIST (60000 images of 28x28); use your own .npz files "
            "directly as the dataset (--data FILE.npz or drop it on the dataset field)"
        )
    raise InputError(
        f"{path.name} is neither mnist.npz nor cifar-10-python.tar.gz; import one of those"
    )


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """A Keras-layout ``.npz`` checked for keys and shapes; pickles are never loaded."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except ValueError as error:
        if "pickle" in str(error):
            raise InputError(
                f"{path.name} holds Python objects (pickles), which are refused; save "
                "plain numeric arrays with numpy.savez"
            ) from None
        raise InputError(f"{path.name} is not a readable .npz file: {error}") from None
    except (OSError, EOFError) as error:
        raise InputError(f"{path.name} is not a readable .npz file: {error}") from None
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


# ----------------------------------------------------------------------------- loaders


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
            target = paths.data_dir() / "datasets" / "cifar10.npz"
            target.parent.mkdir(parents=True, exist_ok=True)
            np.savez(target, **arrays)
        names = MNIST_CLASSES if dataset == "mnist" else CIFAR10_CLASSES
        return arrays, list(names)
    path = Path(dataset)
    if not path.exists():
        raise InputError(
            f"dataset '{dataset}' not found: give mnist, cifar10, a .npz file or a folder "
            "with one subfolder per class"
        )
    arrays = _read_npz(path)
    if "class_names" in arrays and arrays["class_names"].dtype.kind in "US":
        names = [str(n) for n in arrays["class_names"].tolist()]
    else:
        labels = [arrays["y_train"]] + ([arrays["y_test"]] if "y_test" in arrays else [])
        count = int(max(int(lab.max()) for lab in labels if len(lab))) + 1
        names = [str(i) for i in range(count)]
    top = max(int(arrays["y_train"].max()), int(arrays.get("y_test", np.zeros(1, int)).max()))
    if top >= len(names):
        raise InputError(f"{path.name}: label {top} has no class name ({len(names)} given)")
    return arrays, names


def load_image_folder(
    folder: str | Path,
    image_size: tuple[int, int],
    channels: int = 3,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str], list[tuple[str, str]]]:
    """Images of a folder with one subfolder per class, resized to ``image_size`` (h, w).
    Returns (x uint8 (N,h,w,channels), y, class names, skipped (path, reason))."""
    from cnnstudio.core import images as image_io

    folder = Path(folder)
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise InputError(
            f"{folder} needs one subfolder per class (at least two); it has "
            f"{len(classes)}. Put each class's images in its own subfolder."
        )
    suffixes = tuple(s.lower() for s in image_io.IMAGE_SUFFIXES)
    files: list[tuple[Path, int]] = []
    for index, class_dir in enumerate(classes):
        for path in sorted(class_dir.rglob("*")):
            if path.is_file() and path.suffix.lower() in suffixes:
                files.append((path, index))
    height, width = image_size

    def read(item: tuple[Path, int]) -> np.ndarray | str:
        try:
            image = image_io.load_image(item[0], max_side=max(4 * max(height, width), 256))
            image = image_io.resize_to(image, width, height)
        except Exception as error:  # noqa: BLE001 - any unreadable file is listed, not fatal
            return str(error) or type(error).__name__
        if channels == 1:
            image = to_grey(image[None])[0]
        return image

    x_list, y_list, skipped = [], [], []
    # Pillow releases the GIL while decoding, so a few threads speed large folders up
    with ThreadPoolExecutor(max_workers=4) as pool:
        for done, (item, result) in enumerate(
            zip(files, pool.map(read, files), strict=True), start=1
        ):
            if isinstance(result, str):
                skipped.append((str(item[0]), result))
            else:
                x_list.append(result)
                y_list.append(item[1])
            if on_progress is not None and (done % 50 == 0 or done == len(files)):
                on_progress(done, len(files))
    names = [c.name for c in classes]
    present = set(y_list)
    empty = [names[i] for i in range(len(names)) if i not in present]
    if not x_list:
        raise InputError(f"{folder} has no readable images in its class subfolders")
    if empty:
        raise InputError(f"{folder}: class folder(s) {', '.join(empty)} have no readable images")
    return np.stack(x_list), np.asarray(y_list, np.int64), names, skipped


def to_grey(x: np.ndarray) -> np.ndarray:
    """uint8 (N,H,W,3) -> (N,H,W,1) by ITU-R 601 luma; (N,H,W,1) unchanged."""
    if x.shape[-1] == 1:
        return x
    luma = x[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.clip(np.round(luma), 0, 255).astype(np.uint8)[..., None]


def to_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Convert images to 1 (grey) or 3 (RGB) channels."""
    if x.shape[-1] == channels:
        return x
    if channels == 1:
        return to_grey(x)
    return np.repeat(x, 3, axis=-1)


def _split(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random (seeded) split off ``fraction`` of the samples: (x_a, y_a, x_b, y_b)."""
    order = np.random.default_rng(seed).permutation(len(x))
    count = int(round(len(x) * fraction))
    count = min(max(count, 1), len(x) - 1)
    held, kept = order[:count], order[count:]
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
    if spec_text not in BUILTIN_DATASETS and path.is_dir():
        if image_size is None:
            raise InputError("an image folder needs an input size; pick a recipe first")
        x, y, names, skipped = load_image_folder(path, image_size, channels or 3, on_progress)
        if len(x) < 2:
            raise InputError(f"{path} has only {len(x)} readable image; it needs at least 2")
        x_train, y_train, x_val, y_val = _split(x, y, val_split or 0.2, seed)
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
    return Dataset(
        name, list(names), x_train, y_train, x_val, y_val, x_test, y_test, skipped, test_is_val
    )


# ----------------------------------------------------------------------------- tf.data


def make_pipeline(
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    image_size: tuple[int, int] | None = None,
    training: bool = False,
    augment: Augment | None = None,
    seed: int = 0,
    preprocess: Callable[[Any], Any] | None = None,
) -> Any:
    """A ``tf.data.Dataset`` of (float32 images 0..255 or preprocessed, int labels).

    cache -> shuffle (training) -> augment per image (training) -> batch -> resize to
    ``image_size`` and preprocess per batch -> prefetch(AUTOTUNE). Resizing after the
    cache keeps the cache at the source size (CIFAR at 75x75 would take 0.8 GB).
    """
    import tensorflow as tf

    height, width = int(x.shape[1]), int(x.shape[2])
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32))).cache()
    if training:
        ds = ds.shuffle(min(len(x), 20_000), seed=seed, reshuffle_each_iteration=True)
    if training and augment is not None and augment.active:
        ds = ds.map(
            _augment_fn(augment, height, width, int(x.shape[3])),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    ds = ds.batch(batch_size)
    resize = image_size is not None and tuple(image_size) != (height, width)

    def finish(images, labels):
        images = tf.cast(images, tf.float32)
        if resize:
            images = tf.image.resize(images, image_size)
        if preprocess is not None:
            images = preprocess(images)
        return images, labels

    ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _augment_fn(options: Augment, height: int, width: int, channels: int) -> Callable:
    import tensorflow as tf

    def augment(image, label):
        image = tf.cast(image, tf.float32)
        if options.crop and options.pad > 0:
            image = tf.image.resize_with_crop_or_pad(
                image, height + 2 * options.pad, width + 2 * options.pad
            )
            image = tf.image.random_crop(image, [height, width, channels])
        if options.flip:
            image = tf.image.random_flip_left_right(image)
        if options.brightness > 0:
            image = tf.image.random_brightness(image, options.brightness * 255.0)
        if options.contrast is not None:
            low, high = options.contrast
            image = tf.image.random_contrast(image, low, high)
        return tf.clip_by_value(image, 0.0, 255.0), label

    return augment
