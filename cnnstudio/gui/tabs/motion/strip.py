"""FrameStrip: the finished frames of a motion job as thumbnails over a scrubber.

A slider picks a frame (the right end follows the job while it runs) and a row of
thumbnails shows them; clicking a thumbnail picks it too. The frames themselves stay in
the frames folder: the strip keeps their files and small pictures only.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.gui.widgets.thumbnails import thumbnail_icon

_THUMB = 56


class FrameStrip(QWidget):
    """Thumbnails of the finished frames and a slider over them."""

    #: the user picked frame ``index`` (0-based): its file is :meth:`path`
    chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.paths: list[str] = []
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("motionFrameSlider")
        self.slider.setRange(0, 0)
        self.slider.setToolTip("Scrub through the finished frames (right end: the latest)")
        self.label = QLabel("No frames yet")
        self.label.setObjectName("motionFrameLabel")
        self.thumbnails = QListWidget()
        self.thumbnails.setObjectName("motionFrameThumbnails")
        self.thumbnails.setViewMode(QListView.ViewMode.IconMode)
        self.thumbnails.setFlow(QListView.Flow.LeftToRight)
        self.thumbnails.setWrapping(False)
        self.thumbnails.setIconSize(QSize(_THUMB, _THUMB))
        self.thumbnails.setFixedHeight(_THUMB + 34)
        self.thumbnails.setMovement(QListView.Movement.Static)
        self.thumbnails.setToolTip("The finished frames: click one to show it")
        row = QHBoxLayout()
        row.addWidget(QLabel("Frames"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.thumbnails)
        self.slider.valueChanged.connect(self._moved)
        self.thumbnails.currentRowChanged.connect(self._clicked)

    def clear(self) -> None:
        self.paths = []
        self.thumbnails.clear()
        self._refresh(follow=True)

    def count(self) -> int:
        return len(self.paths)

    def add_frame(self, index: int, path: str, thumbnail: np.ndarray) -> None:
        """Frame ``index`` is done (frames come in order; one seen before is replaced)."""
        follow = self.following()
        item = QListWidgetItem(thumbnail_icon(thumbnail, _THUMB), str(index + 1))
        item.setToolTip(f"Frame {index + 1}")
        if index < len(self.paths):
            self.paths[index] = path
            self.thumbnails.takeItem(index)
            self.thumbnails.insertItem(index, item)
        else:
            self.paths.append(path)
            self.thumbnails.addItem(item)
        self._refresh(follow)

    def following(self) -> bool:
        """True when the slider sits at the latest frame (the strip follows the job)."""
        return self.slider.value() >= self.slider.maximum()

    def current(self) -> int:
        """The frame the slider is on (-1 without frames)."""
        return min(self.slider.value(), len(self.paths) - 1)

    def path(self, index: int) -> str:
        return self.paths[index]

    def select(self, index: int) -> None:
        """Show frame ``index`` (as the slider does)."""
        self.slider.setValue(index)

    def _refresh(self, follow: bool) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(self.paths) - 1, 0))
        if follow:
            self.slider.setValue(self.slider.maximum())
        self.slider.blockSignals(False)
        if follow and self.paths:
            self.thumbnails.scrollToItem(self.thumbnails.item(len(self.paths) - 1))
        self._update_label()

    def _update_label(self) -> None:
        if not self.paths:
            self.label.setText("No frames yet")
        else:
            self.label.setText(f"{self.current() + 1}/{len(self.paths)}")

    def _moved(self, index: int) -> None:
        self._update_label()
        self.thumbnails.blockSignals(True)
        self.thumbnails.setCurrentRow(index)
        self.thumbnails.blockSignals(False)
        if 0 <= index < len(self.paths):
            self.chosen.emit(index)

    def _clicked(self, row: int) -> None:
        if row >= 0 and row != self.slider.value():
            self.slider.setValue(row)
