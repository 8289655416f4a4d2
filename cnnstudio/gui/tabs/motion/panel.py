"""MotionPanel: under the preview of the Dream and Style tabs while a video (or a zoom)
is the job: what the video is, the frame strip, the options of a video job (temporal
consistency and its strength, the size of the frames) and Save video."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.style.params import DEFAULT_TEMPORAL_WEIGHT
from cnnstudio.core.video.params import VideoParams
from cnnstudio.gui.settings import read_bool, read_float
from cnnstudio.gui.tabs.motion.strip import FrameStrip
from cnnstudio.gui.widgets.elided_label import ElidedLabel
from cnnstudio.gui.widgets.spin_boxes import double_spin_box, spin_box


class MotionPanel(QWidget):
    """The strip and the video options; ``kind`` "dream" (blend) or "style" (weight)."""

    def __init__(self, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.source_label = ElidedLabel("", elide_mode=Qt.TextElideMode.ElideMiddle)
        self.source_label.setObjectName("motionSourceLabel")
        self.close_button = QPushButton("Close video")
        self.close_button.setObjectName("motionCloseVideo")
        self.close_button.setToolTip("Back to pictures (the frames made stay until saved)")
        self.strip = FrameStrip()
        self.temporal_check = QCheckBox("Temporal consistency")
        self.temporal_check.setObjectName("motionTemporal")
        self.temporal_check.setChecked(True)
        self.temporal_check.setToolTip(
            "Each frame starts from the previous result warped by the optical flow, so the "
            "picture follows the motion instead of flickering (off: every frame alone)"
        )
        if kind == "dream":
            self.strength = double_spin_box(
                0.0, 1.0, VideoParams().blend, 0.05, 2, "motionBlend",
                "Share of the warped previous dream blended into each frame",
            )  # fmt: skip
            strength_label = "Blend"
        else:
            self.strength = double_spin_box(
                0.0, 1e6, DEFAULT_TEMPORAL_WEIGHT, 100.0, 0, "motionTemporalWeight",
                "How strongly a frame keeps to the warped previous result where the flow "
                "is reliable",
            )  # fmt: skip
            strength_label = "Weight"
        self.size_spin = spin_box(
            0, 8192, 0, "motionFrameSize", "Longest side of the frames (0: the video's own)"
        )
        self.size_spin.setSpecialValueText("own size")
        self.save_button = QPushButton("Save video...")
        self.save_button.setObjectName("motionSaveVideo")
        self.save_button.setToolTip("Save the finished frames as an MP4 or a GIF (Ctrl+S)")
        top = QHBoxLayout()
        top.addWidget(self.source_label, 1)
        top.addWidget(self.close_button)
        options = QHBoxLayout()
        options.addWidget(self.temporal_check)
        options.addWidget(QLabel(strength_label))
        options.addWidget(self.strength)
        options.addWidget(QLabel("Size"))
        options.addWidget(self.size_spin)
        options.addStretch(1)
        options.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.strip)
        layout.addLayout(options)
        self.temporal_check.toggled.connect(self.strength.setEnabled)
        self.set_video_mode(False)

    def set_video_mode(self, video: bool) -> None:
        """A video in (its options shown) or a zoom (no flow, no size: the picture's)."""
        for widget in (self.temporal_check, self.strength, self.size_spin, self.close_button):
            widget.setVisible(video)
        for label in self.findChildren(QLabel):
            if label.text() in ("Blend", "Weight", "Size"):
                label.setVisible(video)

    def video_params(self) -> VideoParams:
        """The options as the video job's parameters."""
        size = int(self.size_spin.value()) or None
        params = VideoParams(temporal=self.temporal_check.isChecked(), size=size)
        if self.kind == "dream":
            params.blend = float(self.strength.value())
        return params

    def temporal_weight(self) -> float:
        return float(self.strength.value())

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("video_temporal", self.temporal_check.isChecked())
        settings.setValue("video_strength", self.strength.value())

    def restore_settings(self, settings: QSettings) -> None:
        self.temporal_check.setChecked(read_bool(settings, "video_temporal", True))
        self.strength.setValue(read_float(settings, "video_strength", self.strength.value()))
