"""Training data from a folder with one subfolder of images per class, and the grey/RGB
conversions every loader shares.

Every image goes through :mod:`cnnstudio.core.images` (decompression bombs refused, EXIF
orientation, any mode to RGB) and is resized to the recipe's input size; a file that
cannot be read is listed with its reason, not fatal.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from cnnstudio.core import images as image_io
from cnnstudio.core.errors import InputError


def read_folder_image(path: str | Path, image_size: tuple[int, int], channels: int) -> np.ndarray:
    """One image of a class folder as training sees it: uint8 (h, w, channels), resized
    to ``image_size`` (h, w). Raises what :func:`cnnstudio.core.images.load_image` raises."""
    height, width = image_size
    image = image_io.load_image(path, max_side=max(4 * max(height, width), 256))
    image = image_io.resize_to(image, width, height)
    if channels == 1:
        image = to_grey(image[None])[0]
    return image


def load_image_folder(
    folder: str | Path,
    image_size: tuple[int, int],
    channels: int = 3,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str], list[tuple[str, str]], list[str]]:
    """Images of a folder with one subfolder per class, resized to ``image_size`` (h, w).
    Returns (x uint8 (N,h,w,channels), y, class names, skipped (path, reason), the
    files of x relative to ``folder``)."""
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
            # not is_file(): a FIFO named like a picture is listed as skipped, not dropped
            if not path.is_dir() and path.suffix.lower() in suffixes:
                files.append((path, index))

    def read(item: tuple[Path, int]) -> np.ndarray | str:
        try:
            return read_folder_image(item[0], image_size, channels)
        except Exception as error:  # noqa: BLE001 - any unreadable file is listed, not fatal
            return str(error) or type(error).__name__

    x_list, y_list, skipped, paths = [], [], [], []
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
                paths.append(item[0].relative_to(folder).as_posix())
            if on_progress is not None and (done % 50 == 0 or done == len(files)):
                on_progress(done, len(files))
    names = [c.name for c in classes]
    present = set(y_list)
    empty = [names[i] for i in range(len(names)) if i not in present]
    if not x_list:
        raise InputError(f"{folder} has no readable images in its class subfolders")
    if empty:
        raise InputError(f"{folder}: class folder(s) {', '.join(empty)} have no readable images")
    return np.stack(x_list), np.asarray(y_list, np.int64), names, skipped, paths


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
