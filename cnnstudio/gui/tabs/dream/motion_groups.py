"""Two parts of the Dream form that go beyond one picture: the zoom animation (a checkable
group: frames, zoom, turn and shift per frame, frame rate) and the guide picture (a slot
that the "Guide picture" objective dreams toward)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.video.params import ZoomParams
from cnnstudio.gui.settings import read_bool, read_float, read_int
from cnnstudio.gui.widgets.elided_label import ElidedLabel
from cnnstudio.gui.widgets.image_view import ImageView
from cnnstudio.gui.widgets.spin_boxes import double_spin_box, spin_box

_ZOOM = ZoomParams()


class ZoomGroup(QGroupBox):
    """ "Zoom animation": when ticked, Run makes N frames, each the previous one zoomed
    (turned, shifted) and dreamed again, from the picture or the noise above."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Zoom animation", parent)
        self.setObjectName("dreamZoomGroup")
        self.setCheckable(True)
        self.setChecked(False)
        self.setToolTip(
            "Make a zoom: every frame is the previous one zoomed in and dreamed for a few "
            "steps (the Motion frames preset suits it), saved as an MP4 or a GIF"
        )
        layout = QFormLayout(self)
        self.frames_spin = spin_box(1, 100_000, 60, "dreamZoomFrames", "frames to make")
        self.zoom_spin = double_spin_box(
            0.5, 2.0, _ZOOM.zoom, 0.01, 3, "dreamZoomFactor", "zoom per frame (1: none)"
        )
        self.rotate_spin = double_spin_box(
            -45.0, 45.0, 0.0, 0.5, 1, "dreamZoomRotate", "degrees turned per frame"
        )
        self.shift_x = double_spin_box(-256, 256, 0.0, 1.0, 1, "dreamZoomShiftX", "px right")
        self.shift_y = double_spin_box(-256, 256, 0.0, 1.0, 1, "dreamZoomShiftY", "px down")
        self.fps_spin = double_spin_box(
            1.0, 60.0, _ZOOM.fps, 1.0, 1, "dreamZoomFps", "frames per second of the video"
        )
        shift = QHBoxLayout()
        shift.addWidget(self.shift_x)
        shift.addWidget(self.shift_y)
        layout.addRow("Frames", self.frames_spin)
        layout.addRow("Zoom per frame", self.zoom_spin)
        layout.addRow("Turn per frame", self.rotate_spin)
        layout.addRow("Shift per frame", shift)
        layout.addRow("Frame rate", self.fps_spin)

    def zoom_params(self) -> ZoomParams | None:
        """The zoom to make, or None when the box is not ticked."""
        if not self.isChecked():
            return None
        return ZoomParams(
            frames=int(self.frames_spin.value()),
            zoom=float(self.zoom_spin.value()),
            rotate=float(self.rotate_spin.value()),
            shift_x=float(self.shift_x.value()),
            shift_y=float(self.shift_y.value()),
            fps=float(self.fps_spin.value()),
        )

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("zoom_on", self.isChecked())
        for key, box in self._boxes().items():
            settings.setValue(key, box.value())

    def restore_settings(self, settings: QSettings) -> None:
        for key, box in self._boxes().items():
            read = read_int if key == "zoom_frames" else read_float
            box.setValue(read(settings, key, box.value()))
        self.setChecked(read_bool(settings, "zoom_on", False))

    def _boxes(self) -> dict:
        return {
            "zoom_frames": self.frames_spin,
            "zoom_factor": self.zoom_spin,
            "zoom_rotate": self.rotate_spin,
            "zoom_shift_x": self.shift_x,
            "zoom_shift_y": self.shift_y,
            "zoom_fps": self.fps_spin,
        }


class GuideSlot(QWidget):
    """The guide picture: a drop target with its name, Choose... and Clear."""

    #: the guide changed (a path, or "" when cleared)
    changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = ""
        self.view = ImageView(placeholder="Drop a guide picture")
        self.view.setObjectName("dreamGuideSlot")
        self.view.setToolTip("The picture the 'Guide picture' objective dreams toward")
        self.view.setFixedHeight(90)
        self.view.show_zoom = False
        self.name_label = ElidedLabel("No guide picture", elide_mode=Qt.TextElideMode.ElideMiddle)
        self.name_label.setObjectName("dreamGuideLabel")
        self.choose_button = QPushButton("Choose guide...")
        self.choose_button.setObjectName("dreamGuideChoose")
        self.choose_button.setToolTip("Choose a picture to dream toward")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("dreamGuideClear")
        self.clear_button.setToolTip("No guide picture")
        buttons = QVBoxLayout()
        buttons.addWidget(QLabel("Guide"))
        buttons.addWidget(self.choose_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addLayout(buttons)
        column = QVBoxLayout()
        column.addWidget(self.view)
        column.addWidget(self.name_label)
        row.addLayout(column, 1)
        self.clear_button.clicked.connect(lambda: self.set_path(""))
        self.choose_button.clicked.connect(self._choose)
        self.view.image_dropped.connect(self.set_path)
        self.clear_button.setEnabled(False)

    def ask_path(self) -> str | None:
        """A picture from a dialog (replaced in tests)."""
        from cnnstudio.gui.widgets import dialogs

        return dialogs.ask_open_image(self, "Guide picture")

    def _choose(self) -> None:
        path = self.ask_path()
        if path:
            self.set_path(path)

    def set_path(self, path: str, picture: np.ndarray | None = None) -> None:
        """Guide with the picture at ``path`` (shown when given or readable), or none."""
        self.path = path
        if picture is None and path:
            from cnnstudio.core import images
            from cnnstudio.core.errors import StudioError

            try:
                picture = images.load_image(path, max_side=256)
            except (StudioError, OSError):
                picture = None  # said when a dream needs it: the job names the file
        self.view.set_image(picture)
        self.name_label.setText(Path(path).name if path else "No guide picture")
        self.clear_button.setEnabled(bool(path))
        self.changed.emit(path)
