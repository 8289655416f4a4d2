"""Small pictures in lists and tables (style pictures, training samples, classified files)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QPixmap

from cnnstudio.gui.widgets.image_view import array_to_qimage


def thumbnail_icon(image: np.ndarray, side: int | None = None, smooth: bool = True) -> QIcon:
    """``image`` (uint8 RGB) as an icon, shrunk to fit ``side`` x ``side`` when given
    (``smooth=False`` for many small pictures at once: a training run's samples)."""
    pixmap = QPixmap.fromImage(array_to_qimage(image))
    if side is not None:
        mode = (
            Qt.TransformationMode.SmoothTransformation
            if smooth
            else Qt.TransformationMode.FastTransformation
        )
        pixmap = pixmap.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, mode)
    return QIcon(pixmap)
