"""Pictures that come in as QImages (the clipboard): the one conversion to an RGB array.

It goes through Pillow and :func:`cnnstudio.core.images.image_from_pil`, the path a file
takes when it is opened, so a pasted picture is exactly what opening the same picture
from disk gives: transparency composited over white, any format converted to RGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from cnnstudio.core import images
from cnnstudio.gui.widgets.drop_area import mime_paths


def qimage_to_array(qimage: QImage, max_side: int | None = None) -> np.ndarray:
    """uint8 RGB (H, W, 3) of ``qimage``, as :func:`core.images.load_image` would read
    the same picture from a file (shrunk to ``max_side`` when given). Raises
    :class:`~cnnstudio.core.errors.InputError` for a picture over the pixel limit."""
    if qimage.hasAlphaChannel():
        # straight (not premultiplied) alpha: what a PNG file stores
        pixels = qimage.convertToFormat(QImage.Format.Format_RGBA8888)
        channels = 4
    else:
        pixels = qimage.convertToFormat(QImage.Format.Format_RGB888)
        channels = 3
    width, height = pixels.width(), pixels.height()
    line = pixels.bytesPerLine()  # rows are padded to 4 bytes
    buffer = np.frombuffer(pixels.constBits(), np.uint8, count=line * height)
    array = buffer.reshape(height, line)[:, : width * channels].reshape(height, width, channels)
    return images.image_from_pil(Image.fromarray(np.ascontiguousarray(array)), max_side=max_side)


@dataclass(frozen=True)
class Pasted:
    """What the clipboard holds: files or folders copied in a file manager, or a picture."""

    paths: list[str]
    image: np.ndarray | None = None

    @property
    def empty(self) -> bool:
        return not self.paths and self.image is None


def read_clipboard(max_side: int | None = None) -> Pasted:
    """The clipboard's copied files (first) or picture (uint8 RGB, see
    :func:`qimage_to_array`)."""
    clipboard = QApplication.clipboard()
    paths = mime_paths(clipboard.mimeData())
    if paths:
        return Pasted(paths)
    qimage = clipboard.image()
    if qimage.isNull():
        return Pasted([])
    return Pasted([], qimage_to_array(qimage, max_side))
