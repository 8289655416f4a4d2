"""A look at a dataset before training on it: how many images each class has (and how
balanced they are), a few samples of each class, and files that cannot be read.

:func:`survey` is a generator job (``Progress`` events, the :class:`DatasetSurvey` as its
return value), so the window runs it on a worker and a Stop ends it at once. It is bounded
for any folder: images are *counted by listing* (a folder of 100,000 pictures is listed in
about a second, nothing is decoded), and only a sample is opened: :data:`SAMPLES_PER_CLASS`
thumbnails per class and at most :data:`CHECK_LIMIT` files in all checked for
readability, spread evenly over the classes. The training run itself still lists every
file it cannot read. Arrays (``mnist``, ``cifar10``, ``.npz``) are counted from their
labels. No TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnstudio.core import images
from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Progress
from cnnstudio.core.training.data_files import BUILTIN_DATASETS, load_arrays

#: thumbnails shown per class
SAMPLES_PER_CLASS = 8
#: files opened to check they are readable images, at most (spread over the classes)
CHECK_LIMIT = 300
#: the side of a thumbnail, pixels
THUMB_SIDE = 48


@dataclass
class DatasetSurvey:
    """What :func:`survey` found."""

    name: str
    class_names: list[str]
    counts: list[int]  # images per class (the training images of arrays)
    test_counts: list[int] | None = None  # arrays with a test split: its images per class
    #: up to SAMPLES_PER_CLASS thumbnails (uint8 RGB, THUMB_SIDE square) per class
    samples: list[list[np.ndarray]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    checked: int = 0  # files opened to check them (folders)
    is_folder: bool = False

    @property
    def total(self) -> int:
        return int(sum(self.counts))

    @property
    def balance(self) -> float:
        """The smallest class's images over the largest's (1.0: balanced)."""
        largest = max(self.counts, default=0)
        return min(self.counts, default=0) / largest if largest else 0.0

    def unreadable_text(self) -> str:
        """How many files could not be read, and of how many checked."""
        if not self.is_folder:
            return "every image is an array entry: nothing to check"
        found = len(self.unreadable)
        of = (
            f"all {self.checked} files"
            if self.checked >= self.total
            else f"{self.checked} of {self.total} files (a sample)"
        )
        return f"{found or 'no'} unreadable file{'s' if found != 1 else ''} among {of}"

    def lines(self, bar_width: int = 30) -> list[str]:
        """The survey as text: a line per class with a bar, the balance, the checks."""
        width = max((len(n) for n in self.class_names), default=5)
        largest = max(self.counts, default=0) or 1
        what = "images" if self.is_folder else "training images"
        out = [f"{self.name}: {self.total} {what} in {len(self.class_names)} classes"]
        for name, count in zip(self.class_names, self.counts, strict=True):
            bar = "#" * max(int(round(bar_width * count / largest)), 1 if count else 0)
            share = count / self.total if self.total else 0.0
            out.append(f"  {name:<{width}}  {count:>7}  {share:6.1%}  {bar}")
        out.append(f"balance: {balance_text(self.balance)}")
        out.append(self.unreadable_text())
        out.extend(f"  {path}: {reason}" for path, reason in self.unreadable)
        return out

    def sample_strip(self, index: int, gap: int = 2) -> np.ndarray:
        """The thumbnails of class ``index`` side by side (uint8 RGB, THUMB_SIDE high)."""
        return self.sample_grid(gap, rows=[index])

    def sample_grid(self, gap: int = 2, rows: list[int] | None = None) -> np.ndarray:
        """The thumbnails as one picture, a row per class (grey where a class has fewer)."""
        chosen = list(range(len(self.samples))) if rows is None else rows
        side = THUMB_SIDE + gap
        grid = np.full((max(len(chosen), 1) * side, SAMPLES_PER_CLASS * side, 3), 235, np.uint8)
        for row, index in enumerate(chosen):
            for column, thumb in enumerate(self.samples[index][:SAMPLES_PER_CLASS]):
                h, w = thumb.shape[:2]
                top, left = (
                    row * side + (THUMB_SIDE - h) // 2,
                    column * side + (THUMB_SIDE - w) // 2,
                )
                grid[top : top + h, left : left + w] = thumb
        return grid


def balance_text(balance: float) -> str:
    """``0.84`` -> "the smallest class has 84% of the images of the largest"."""
    if balance >= 0.999:
        return "every class has the same number of images"
    note = "" if balance >= 0.5 else " (unbalanced: accuracy may hide the small classes)"
    return f"the smallest class has {balance:.0%} of the images of the largest{note}"


def survey(spec: str | os.PathLike[str], seed: int = 0) -> Generator[Progress, None, DatasetSurvey]:
    """Survey ``mnist``, ``cifar10``, an ``.npz`` file or a folder of class folders."""
    text = str(spec).strip()
    if not text:
        raise InputError("no dataset chosen", param="data")
    path = Path(text).expanduser()
    if text not in BUILTIN_DATASETS and path.is_dir():
        return (yield from _survey_folder(path, seed))
    yield Progress(0, 1, 0.0, message=f"reading {Path(text).name}")
    arrays, names = load_arrays(text)
    return _survey_arrays(Path(text).name, arrays, names, seed)


def _survey_arrays(name: str, arrays: dict, names: list[str], seed: int) -> DatasetSurvey:
    y = np.asarray(arrays["y_train"]).reshape(-1).astype(np.int64)
    counts = np.bincount(y, minlength=len(names))[: len(names)]
    test_counts = None
    if "y_test" in arrays:
        y_test = np.asarray(arrays["y_test"]).reshape(-1).astype(np.int64)
        test_counts = [int(c) for c in np.bincount(y_test, minlength=len(names))[: len(names)]]
    rng = np.random.default_rng(seed)
    x = arrays["x_train"]
    samples = []
    for index in range(len(names)):
        where = np.flatnonzero(y == index)
        chosen = np.sort(rng.choice(where, min(SAMPLES_PER_CLASS, len(where)), replace=False))
        samples.append([_thumb(_as_rgb(x[i])) for i in chosen])
    return DatasetSurvey(
        name, list(names), [int(c) for c in counts], test_counts, samples, is_folder=False
    )


def _survey_folder(folder: Path, seed: int) -> Generator[Progress, None, DatasetSurvey]:
    classes = sorted(
        entry.name
        for entry in os.scandir(folder)
        if entry.is_dir() and not entry.name.startswith(".")
    )
    if len(classes) < 2:
        raise InputError(
            f"{folder} needs one subfolder per class (at least two); it has {len(classes)}",
            param="data",
        )
    listed: list[list[str]] = []
    for number, name in enumerate(classes):
        yield Progress(number, len(classes) + 1, 0.0, message=f"listing {name}")
        listed.append(sorted(_image_files(folder / name)))
    total = sum(len(files) for files in listed)
    rng = np.random.default_rng(seed)
    share = max(CHECK_LIMIT // len(classes), SAMPLES_PER_CLASS)
    picked = [_spread(files, share, rng) for files in listed]
    to_check = sum(len(p) for p in picked)
    samples: list[list[np.ndarray]] = []
    unreadable: list[tuple[str, str]] = []
    done = 0
    for files in picked:
        thumbs: list[np.ndarray] = []
        for file in files:
            done += 1
            if done % 10 == 0:
                yield Progress(done, to_check, 0.0, message="checking files")
            try:
                image = images.load_image(file, max_side=THUMB_SIDE)
            except Exception as error:  # noqa: BLE001 - any unreadable file is listed
                reason = str(error) or type(error).__name__
                # the path is listed beside the reason: no need to name the file twice
                unreadable.append((file, reason.removeprefix(f"{Path(file).name}: ")))
                continue
            if len(thumbs) < SAMPLES_PER_CLASS:
                thumbs.append(_thumb(image))
        samples.append(thumbs)
    return DatasetSurvey(
        folder.name,
        classes,
        [len(files) for files in listed],
        None,
        samples,
        unreadable,
        checked=min(to_check, total),
        is_folder=True,
    )


def _image_files(folder: Path) -> list[str]:
    """Image files under ``folder`` (hidden ones left out), by listing only."""
    found: list[str] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif os.path.splitext(entry.name)[1].lower() in images.IMAGE_SUFFIXES:
                found.append(entry.path)
    return found


def _spread(files: list[str], count: int, rng: np.random.Generator) -> list[str]:
    """Up to ``count`` of ``files``, chosen at random (seeded), in their order."""
    if len(files) <= count:
        return list(files)
    return [files[i] for i in np.sort(rng.choice(len(files), count, replace=False))]


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return image


def _thumb(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    if max(h, w) == THUMB_SIDE:
        return image
    scale = THUMB_SIDE / max(h, w)
    return images.resize_to(image, max(1, round(w * scale)), max(1, round(h * scale)))
