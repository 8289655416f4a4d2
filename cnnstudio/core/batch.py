"""A picture job (dream, style) over every picture of a folder, with the same parameters.

:func:`plan_batch` lists the pictures of a folder (not its subfolders) and where each
result goes (``OUT/<name><suffix>.png``); results that exist already are left alone
unless asked to replace them, so running a batch again after a stop does only the rest.
:func:`run_batch` is a generator job like the others: for each picture it yields a
:class:`BatchImage`, then the picture job's own events (its Progress with ``fraction``
over the whole batch, so one ETA covers it), then a :class:`BatchSaved` once the result
is written with its parameters; a picture that cannot be read, or that the job refuses,
is reported (:class:`BatchSkipped`) and the batch goes on. Closing the generator stops
it: what is saved stays saved. It returns a :class:`BatchResult`.

No TensorFlow here: the picture jobs import it themselves.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core import files, images
from cnnstudio.core.errors import InputError, StudioError
from cnnstudio.core.events import Progress

RESULT_SUFFIX = ".png"


@dataclass(frozen=True)
class BatchItem:
    """One picture of the batch and the file its result goes to."""

    source: Path
    output: Path


@dataclass
class BatchPlan:
    """What a batch will do: ``items`` to make, ``existing`` results left alone (there
    already, no ``overwrite``), ``ignored`` files that are not pictures by their name."""

    folder: Path
    out_folder: Path
    items: list[BatchItem]
    existing: list[BatchItem] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)
    overwrite: bool = False


@dataclass(frozen=True)
class BatchImage:
    """Picture ``index`` of ``total`` is starting."""

    index: int
    total: int
    source: Path

    @property
    def text(self) -> str:
        return f"image {self.index} of {self.total}: {self.source.name}"


@dataclass(frozen=True, eq=False)
class BatchSaved:
    """Picture ``index``'s result is written (with its parameters)."""

    index: int
    total: int
    source: Path
    output: Path
    seconds: float
    image: np.ndarray | None = None


@dataclass(frozen=True)
class BatchSkipped:
    """Picture ``index`` was left out: it could not be read, or the job refused it."""

    index: int
    total: int
    source: Path
    reason: str


@dataclass
class BatchResult:
    """What a batch did (also after a stop: what was done until then)."""

    saved: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """ "4 saved, 1 skipped, 2 done before" (the parts that are not zero)."""
        parts = [f"{len(self.saved)} saved"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        if self.existing:
            parts.append(f"{len(self.existing)} done before")
        return ", ".join(parts)


def plan_batch(
    folder: str | os.PathLike[str],
    out_folder: str | os.PathLike[str],
    suffix: str,
    *,
    overwrite: bool = False,
) -> BatchPlan:
    """The pictures of ``folder`` (sorted by name, hidden files left out) and their
    results ``out_folder/<stem><suffix>.png``. ``out_folder`` may be ``folder`` itself:
    results made there before are then not taken as pictures to work on."""
    folder = Path(folder).expanduser()
    out_folder = Path(out_folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder: give a folder of pictures", param="input")
    if out_folder.exists() and not out_folder.is_dir():
        raise InputError(
            f"{out_folder} is a file: the results of a batch go into a folder",
            param="output",
            path=str(out_folder),
        )
    files.check_writable_folder(out_folder, param="output")
    same_folder = out_folder.resolve() == folder.resolve()
    pictures: list[Path] = []
    ignored: list[Path] = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() not in images.IMAGE_SUFFIXES:
            ignored.append(path)
        elif same_folder and path.stem.endswith(suffix):
            continue  # a result of an earlier batch into the same folder
        else:
            pictures.append(path)
    stems = [p.stem.lower() for p in pictures]
    plan = BatchPlan(folder, out_folder, [], ignored=ignored, overwrite=overwrite)
    for path in pictures:
        # cat.jpg and cat.png would both make cat-dream.png: name those by their suffix
        stem = path.stem if stems.count(path.stem.lower()) == 1 else path.name.replace(".", "_")
        item = BatchItem(path, out_folder / f"{stem}{suffix}{RESULT_SUFFIX}")
        if item.output.exists() and not overwrite:
            plan.existing.append(item)
        else:
            plan.items.append(item)
    return plan


#: the picture job: (picture, its item) -> a generator of events returning the result
PictureJob = Callable[[np.ndarray, BatchItem], Generator[Any, None, np.ndarray]]
#: the parameters to embed in a result: (item, result) -> metadata
Metadata = Callable[[BatchItem, np.ndarray], dict]


def run_batch(
    plan: BatchPlan,
    job: PictureJob,
    metadata: Metadata,
    *,
    max_side: int | None = None,
) -> Generator[Any, None, BatchResult]:
    """Run ``job`` on each picture of ``plan`` (loaded no larger than ``max_side``) and
    save each result with ``metadata`` as soon as it is made. A picture that cannot be
    read or that the job refuses (a bad value for it: InputError) is skipped and
    reported; anything else (missing weights, a bug) ends the batch."""
    result = BatchResult(existing=[item.output for item in plan.existing])
    total = len(plan.items)
    if total and not plan.out_folder.exists():
        plan.out_folder.mkdir(parents=True, exist_ok=True)
    for index, item in enumerate(plan.items, start=1):
        yield BatchImage(index, total, item.source)
        started = time.monotonic()
        try:
            picture = images.load_image(item.source, max_side=max_side)
        except (StudioError, OSError) as error:
            reason = str(error) if isinstance(error, StudioError) else error.strerror or str(error)
            result.skipped.append((item.source, reason))
            yield BatchSkipped(index, total, item.source, reason)
            continue
        try:
            made = yield from _over_the_batch(job(picture, item), index, total)
        except InputError as error:
            result.skipped.append((item.source, str(error)))
            yield BatchSkipped(index, total, item.source, str(error))
            continue
        made = np.asarray(made)
        try:
            saved = _save(item, made, metadata(item, made), plan.overwrite)
        except (StudioError, OSError) as error:
            reason = f"not saved: {error}"
            result.skipped.append((item.source, reason))
            yield BatchSkipped(index, total, item.source, reason)
            continue
        result.saved.append(saved)
        yield BatchSaved(index, total, item.source, saved, time.monotonic() - started, made)
    return result


def _over_the_batch(
    inner: Generator[Any, None, np.ndarray], index: int, total: int
) -> Generator[Any, None, np.ndarray]:
    """The picture job's events, its Progress measured over the whole batch (so the one
    ETA covers the batch); its return value."""
    while True:
        try:
            event = next(inner)
        except StopIteration as stop:
            return stop.value
        if isinstance(event, Progress):
            event = dataclasses.replace(event, fraction=(index - 1 + event.done) / total)
        try:
            yield event
        except GeneratorExit:
            inner.close()  # stopped: the picture job ends at its next step
            raise


def _save(item: BatchItem, picture: np.ndarray, meta: dict, overwrite: bool) -> Path:
    from cnnstudio.core import image_saving

    return image_saving.save_image(item.output, picture, params=meta, overwrite=overwrite)
