"""The photos a style network learns from: any folder of pictures, flat or with one
subfolder per class (subfolders are simply searched), read through
:mod:`cnnstudio.core.images` and cropped to training squares. Files that cannot be read
are listed with their reason and skipped; fewer than :data:`.params.MIN_PHOTOS` readable
pictures is an error that says how many were found and why the others failed.

No TensorFlow: plain numpy and Pillow.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnstudio.core import images
from cnnstudio.core.errors import InputError
from cnnstudio.core.faststyle.params import MAX_PHOTOS, MIN_PHOTOS

#: how many unreadable files a message names before it says "and N more"
_LISTED = 3


@dataclass
class Photos:
    """Training squares (N, S, S, 3) uint8 in a fixed order, and what was skipped."""

    pictures: np.ndarray
    paths: list[Path]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    found: int = 0  # image files found in the folder (before the MAX_PHOTOS choice)

    def __len__(self) -> int:
        return len(self.paths)


def find_photos(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files in ``folder`` and its subfolders (hidden ones left out), sorted.
    InputError when it is not a folder or holds no image files."""
    path = Path(folder).expanduser()
    if not path.exists():
        raise InputError(f"photo folder not found: {path}", param="data")
    if not path.is_dir():
        raise InputError(f"{path} is not a folder; give a folder of photos", param="data")
    found = list(images.iter_image_files([path]))
    if not found:
        raise InputError(
            f"{path} holds no pictures ({', '.join(images.IMAGE_SUFFIXES[:5])}, ...); give a "
            f"folder with at least {MIN_PHOTOS} photos",
            param="data",
        )
    return found


def square(image: np.ndarray, size: int) -> np.ndarray:
    """The centre square of ``image`` resized to ``size`` x ``size`` (uint8 RGB)."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return images.resize_to(image[top : top + side, left : left + side], size, size)


def load_photos(
    folder: str | os.PathLike[str],
    size: int,
    *,
    seed: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Photos | None:
    """Read the folder's pictures as ``size`` x ``size`` squares (at most
    :data:`MAX_PHOTOS`: a choice fixed by ``seed``, in file order). ``on_progress(done,
    total)`` every few files; None when ``should_stop()`` turned true. InputError when
    fewer than :data:`MIN_PHOTOS` can be read, naming the first unreadable files."""
    found = find_photos(folder)
    chosen = found
    if len(found) > MAX_PHOTOS:
        keep = np.random.default_rng(seed).choice(len(found), MAX_PHOTOS, replace=False)
        chosen = [found[i] for i in sorted(keep)]

    def read(path: Path) -> np.ndarray | str:
        try:
            # decoded at a reduced scale when big (JPEG draft mode): the square is small
            picture = images.load_image(path, max_side=max(4 * size, 512))
            return square(picture, size)
        except InputError as error:
            return str(error)

    pictures: list[np.ndarray] = []
    paths: list[Path] = []
    skipped: list[tuple[str, str]] = []
    # Pillow releases the GIL while decoding: a few threads read a big folder faster
    with ThreadPoolExecutor(max_workers=4) as pool:
        for done, (path, result) in enumerate(
            zip(chosen, pool.map(read, chosen), strict=True), start=1
        ):
            if isinstance(result, str):
                skipped.append((str(path), result))
            else:
                pictures.append(result)
                paths.append(path)
            if on_progress is not None and (done % 20 == 0 or done == len(chosen)):
                on_progress(done, len(chosen))
            if should_stop is not None and should_stop():
                pool.shutdown(wait=True, cancel_futures=True)
                return None
    if len(pictures) < MIN_PHOTOS:
        raise InputError(
            f"{Path(folder).expanduser()} has {len(pictures)} readable picture(s); training "
            f"needs at least {MIN_PHOTOS} (add photos to it, or choose another folder)"
            f"{describe_skipped(skipped, ': ')}",
            param="data",
            skipped=skipped,
        )
    return Photos(np.stack(pictures), paths, skipped, found=len(found))


def describe_skipped(skipped: list[tuple[str, str]], lead: str = "") -> str:
    """``"3 unreadable files skipped: a.jpg (reason), ..."``; "" when none were."""
    if not skipped:
        return ""
    named = "; ".join(f"{Path(path).name} ({_short(reason)})" for path, reason in skipped[:_LISTED])
    more = f"; and {len(skipped) - _LISTED} more" if len(skipped) > _LISTED else ""
    return f"{lead}{len(skipped)} unreadable file(s) skipped: {named}{more}"


def _short(reason: str) -> str:
    """An ImageLoadError's text without the file name it starts with."""
    _, sep, rest = reason.partition(": ")
    return rest if sep else reason
