"""A dataset example as a picture: the file, shrunk, with the region that excites the
channel outlined (the window shows it next to the channel's visualisation).

No TensorFlow here: the GUI draws examples without it. :func:`oriented_size` is also what
:mod:`.examples` measures regions against (the file's pixels as shown, EXIF orientation
applied).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from cnnstudio.core import images
from cnnstudio.core.visualize.grid import Box, Example

_ORIENTATION_TAG = 0x0112
#: the outline: a bright yellow, three pixels of a 256 px picture (at least two)
OUTLINE = (255, 214, 0)
OUTLINE_SHARE = 1 / 80


def oriented_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of the file as shown (EXIF orientation applied), header only."""
    with Image.open(path) as img:
        width, height = img.size
        orientation = img.getexif().get(_ORIENTATION_TAG, 1)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def scaled_region(region: Box, full_size: tuple[int, int], shown: tuple[int, int]) -> Box:
    """``region`` (x, y, width, height in a picture of ``full_size`` = (width, height))
    in the pixels of the same picture shown at ``shown`` = (width, height)."""
    fx, fy = shown[0] / max(full_size[0], 1), shown[1] / max(full_size[1], 1)
    x, y, w, h = region
    left, top = int(x * fx), int(y * fy)
    right = min(max(left + 1, int(round((x + w) * fx))), shown[0])
    bottom = min(max(top + 1, int(round((y + h) * fy))), shown[1])
    return left, top, right - left, bottom - top


def outline(image: np.ndarray, box: Box, colour=OUTLINE, thickness: int | None = None):
    """A copy of ``image`` (uint8 RGB) with a rectangle drawn along the inside of ``box``."""
    marked = np.array(image, np.uint8, copy=True)
    height, width = marked.shape[:2]
    if thickness is None:
        thickness = max(2, int(round(max(height, width) * OUTLINE_SHARE)))
    x, y, w, h = box
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x1 <= x0 or y1 <= y0:
        return marked
    t = max(1, min(thickness, (x1 - x0) // 2 or 1, (y1 - y0) // 2 or 1))
    marked[y0 : y0 + t, x0:x1] = colour
    marked[y1 - t : y1, x0:x1] = colour
    marked[y0:y1, x0 : x0 + t] = colour
    marked[y0:y1, x1 - t : x1] = colour
    return marked


def example_picture(example: Example, max_side: int = 256) -> np.ndarray:
    """The example's file at most ``max_side`` pixels long, its region outlined.
    ImageLoadError (or OSError) when the file can no longer be read."""
    picture = images.load_image(example.file, max_side=max_side)
    full = oriented_size(example.file)
    shown = (picture.shape[1], picture.shape[0])
    return outline(picture, scaled_region(example.region, full, shown))
