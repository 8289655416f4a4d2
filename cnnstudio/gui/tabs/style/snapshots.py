"""Snapshots: the pictures a style run passed through, and the slider that steps back
through them (under the preview). The right end follows the run."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget


class Snapshots(QObject):
    """``items``: (iteration, picture) every N iterations of the current or last run, the
    final picture last; ``bar``: the slider and its label."""

    #: the slider moved to snapshot ``index`` (by the user or by :meth:`select`)
    chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.items: list[tuple[int, np.ndarray]] = []
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("styleSnapshotSlider")
        self.slider.setRange(0, 0)
        self.slider.setToolTip("Step back through the snapshots (right end: latest)")
        self.label = QLabel("No snapshots yet")
        self.label.setObjectName("styleSnapshotLabel")
        self.label.setToolTip("Which snapshot is shown, and its iteration")
        self.bar = QHBoxLayout()
        self.bar.addWidget(QLabel("Snapshots"))
        self.bar.addWidget(self.slider, 1)
        self.bar.addWidget(self.label)
        self.slider.valueChanged.connect(self._moved)

    def clear(self) -> None:
        self.items = []
        self.refresh(follow=True)

    def add(self, step: int, image: np.ndarray) -> None:
        """A new snapshot; the slider follows if it was at the latest."""
        follow = self.following()
        self.items.append((step, image))
        self.refresh(follow=follow)

    def keep_result(self, step: int, image: np.ndarray) -> None:
        """The run's result is the last snapshot (replacing a preview of the same step,
        so that saving it saves the result itself)."""
        if self.items and self.items[-1][0] == step:
            self.items[-1] = (step, image)
        else:
            self.items.append((step, image))
        self.refresh(follow=True)

    def following(self) -> bool:
        """True when the slider sits at the latest snapshot (the view follows the run)."""
        return self.slider.value() >= self.slider.maximum()

    def index(self) -> int:
        return min(self.slider.value(), len(self.items) - 1)

    def shown(self) -> tuple[int, np.ndarray] | None:
        """The snapshot the slider is on, or None without snapshots."""
        return self.items[self.index()] if self.items else None

    def select(self, index: int) -> None:
        self.slider.setValue(index)

    def refresh(self, follow: bool) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(self.items) - 1, 0))
        if follow:
            self.slider.setValue(self.slider.maximum())
        self.slider.blockSignals(False)
        self._update_label()

    def _update_label(self) -> None:
        if not self.items:
            self.label.setText("No snapshots yet")
            return
        index = self.slider.value()
        self.label.setText(f"{index + 1}/{len(self.items)}: iteration {self.items[index][0]}")

    def _moved(self, index: int) -> None:
        self._update_label()
        self.chosen.emit(index)
