"""Classify many files: folders expanded, images batched through the model, one result per
file (a file that cannot be read is one result with its error, never the end of the
batch), the job generator the Classify tab drives, and the CSV export.

Needs no TensorFlow itself: :func:`classify_job` loads the model (which imports it) in the
job, so the tab imports this module at start-up.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cnnstudio.core import files, images
from cnnstudio.core.classify.params import (
    BATCH_SIZE,
    THUMBNAIL_SIDE,
    WORKING_SIDE,
    ClassifierReady,
    ClassifyResult,
)
from cnnstudio.core.errors import InputError, StudioError
from cnnstudio.core.events import Notice, Progress

if TYPE_CHECKING:
    from cnnstudio.core.classify.classifier import Classifier


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files and folders -> image files (folders scanned recursively, sorted; files named
    explicitly kept whatever their suffix, so a bad one is reported, not skipped)."""
    return list(images.iter_image_files(paths, recursive=True))


def classify_paths(
    classifier: Classifier,
    paths: Iterable[str | os.PathLike[str]],
    top_k: int = 5,
    batch_size: int = BATCH_SIZE,
) -> Iterator[ClassifyResult]:
    """One result per image file (in order) for files and folders; an unreadable file
    gives a result with its error and the batch goes on."""
    pending: list[tuple[int, Path, np.ndarray | None, str | None]] = []

    def flush() -> Iterator[ClassifyResult]:
        loaded = [(i, p, x) for i, p, x, e in pending if e is None]
        probabilities = {}
        if loaded:
            batch = np.stack([x for _, _, x in loaded])
            for (i, _, _), probs in zip(loaded, classifier.predict(batch), strict=True):
                probabilities[i] = probs
        for i, path, _, error in pending:
            thumbnail = thumbnails.pop(i, None)
            if error is not None:
                yield ClassifyResult(str(path), error=error, index=i)
            else:
                yield ClassifyResult(
                    str(path),
                    classifier.top_k(probabilities[i], top_k),
                    thumbnail=thumbnail,
                    index=i,
                )
        pending.clear()

    thumbnails: dict[int, np.ndarray] = {}
    for index, path in enumerate(expand_paths(paths)):
        try:
            image = images.load_image(path, max_side=WORKING_SIDE)
            thumbnails[index] = images.resize_max_side(image, THUMBNAIL_SIDE)
            pending.append((index, path, classifier.prepare(image), None))
        except StudioError as error:
            pending.append((index, path, None, str(error)))
        except (OSError, ValueError) as error:  # anything odd in a file stays one row
            pending.append((index, path, None, f"{path.name}: {error}"))
        if len(pending) >= batch_size:
            yield from flush()
    yield from flush()


def classify_job(
    spec: Any,
    paths: Sequence[str | os.PathLike[str]],
    top_k: int = 5,
    weights: str = "imagenet",
    classifier: Classifier | None = None,
) -> Iterator[object]:
    """Job generator for the GUI: yields a Notice while the model loads (and, for a
    backbone whose ImageNet weights are not here yet, DownloadProgress events while they
    download) and a :class:`ClassifierReady`, then for each file a
    :class:`ClassifyResult` and a Progress; returns the list of results."""
    image_files = expand_paths(paths)
    if not image_files:
        raise InputError("no image files found in " + ", ".join(str(p) for p in paths))
    if classifier is None:
        # the model (and TensorFlow) is loaded here, in the job, not when the tab imports us
        from cnnstudio.core.classify.classifier import load_classifier, weights_download_events

        loading = Notice(f"Loading {Path(str(spec)).name}...")
        yield loading
        downloaded = False
        downloads = weights_download_events(spec, weights)
        try:
            for event in downloads:
                downloaded = True
                yield event
        finally:
            downloads.close()  # Stop: abandon the download now, not when collected
        if downloaded:
            yield loading  # the bar showed the download; building the model comes next
        classifier = load_classifier(spec, weights)
    yield ClassifierReady(classifier)
    results: list[ClassifyResult] = []
    for result in classify_paths(classifier, image_files, top_k):
        results.append(result)
        yield result
        name = Path(result.file).name
        yield Progress(len(results), len(image_files), 0.0, message=f"{name}")
    return results


def write_csv(
    results: Iterable[ClassifyResult],
    path: str | os.PathLike[str],
    gradcam_errors: dict[str, str] | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """One row per image: file, then label/probability pairs, best first, then the error;
    with ``gradcam_errors`` ({file: message}) a last ``gradcam_error`` column too. The
    file is written whole or not at all (an existing one only with ``overwrite``). UTF-8;
    a file name that is not UTF-8 keeps its own bytes (PEP 383), so it names the file."""
    results = list(results)
    k = max((len(r.predictions) for r in results), default=0)
    header = ["file"]
    for rank in range(1, k + 1):
        header += [f"label_{rank}", f"probability_{rank}"]
    header.append("error")
    if gradcam_errors is not None:
        header.append("gradcam_error")
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    for result in results:
        row = [result.file]
        for rank in range(k):
            if rank < len(result.predictions):
                p = result.predictions[rank]
                row += [p.label, f"{p.probability:.6f}"]
            else:
                row += ["", ""]
        row.append(result.error or "")
        if gradcam_errors is not None:
            row.append(gradcam_errors.get(result.file, ""))
        writer.writerow(row)
    path = Path(path)
    with files.atomic_write(path, overwrite=overwrite, param="csv") as handle:
        try:
            data = text.getvalue().encode("utf-8", errors="surrogateescape")
        except UnicodeEncodeError:  # a surrogate that is no file-name byte: shown escaped
            data = text.getvalue().encode("utf-8", errors="backslashreplace")
        handle.write(data)
    return path
