"""MotionPanel: under the preview of the Dream and Style tabs while a video (or a zoom)
is the job: what the video is, the frame strip, the options of a video job (temporal
consistency and its strength, the size of the frames) and Save video.

The strength box means what the job in hand needs (:data:`STRENGTHS`): Dream's blend,
the temporal weight of a Gatys video, or the blend of a fast style model's video (the
Style tab switches between the last two with its "Paint with" choice,
:mod:`cnnstudio.gui.tabs.style.video_painter`); each meaning keeps its own value."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Strength:
    """One meaning of the strength box: its label, tool tip, range and settings key."""

    label: str
    tip: str
    minimum: float
    maximum: float
    step: float
    decimals: int
    default: float
    setting: str
    blend: bool  # the value is VideoParams.blend (else the Gatys temporal weight)


STRENGTHS = {
    "dream-blend": Strength(
        "Blend", "Share of the warped previous dream blended into each frame",
        0.0, 1.0, 0.05, 2, VideoParams().blend, "video_strength", True,
    ),
    "style-weight": Strength(
        "Weight", "How strongly a frame keeps to the warped previous result where the flow "
        "is reliable (the temporal loss's weight)",
        0.0, 1e6, 100.0, 0, DEFAULT_TEMPORAL_WEIGHT, "video_strength", False,
    ),
    "style-blend": Strength(
        "Blend", "Share of the previous styled frame, warped onto this one, blended into it "
        "where the flow is reliable (more: steadier; less: crisper, may flicker)",
        0.0, 1.0, 0.05, 2, VideoParams().blend, "video_fast_blend", True,
    ),
}  # fmt: skip
#: the meanings each kind of panel offers (the first is its own at the start)
KIND_STRENGTHS = {"dream": ("dream-blend",), "style": ("style-weight", "style-blend")}


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
        self.strengths = KIND_STRENGTHS[kind]
        self.meaning = self.strengths[0]
        first = STRENGTHS[self.meaning]
        self._values = {key: STRENGTHS[key].default for key in self.strengths}
        self.strength = double_spin_box(
            first.minimum, first.maximum, first.default, first.step, first.decimals,
            "motionBlend" if kind == "dream" else "motionTemporalWeight", first.tip,
        )  # fmt: skip
        self.strength_label = QLabel(first.label)
        self.strength_label.setObjectName("motionStrengthLabel")
        self.strength_label.setToolTip(first.tip)
        self.size_label = QLabel("Size")
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
        options.addWidget(self.strength_label)
        options.addWidget(self.strength)
        options.addWidget(self.size_label)
        options.addWidget(self.size_spin)
        options.addStretch(1)
        options.addWidget(self.save_button)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addLayout(top)
        self._layout.addWidget(self.strip)
        self._layout.addLayout(options)
        self._rows: list[QWidget] = []  # video options a tab added (add_row)
        self.temporal_check.toggled.connect(self.strength.setEnabled)
        self.set_video_mode(False)

    def add_row(self, row: QWidget) -> None:
        """A tab's own video options, in a row above the common ones (video mode only)."""
        self._rows.append(row)
        self._layout.insertWidget(self._layout.count() - 1, row)
        row.setVisible(self.close_button.isVisibleTo(self))

    def set_video_mode(self, video: bool) -> None:
        """A video in (its options shown) or a zoom (no flow, no size: the picture's)."""
        for widget in (
            self.temporal_check, self.strength, self.strength_label, self.size_spin,
            self.size_label, self.close_button, *self._rows,
        ):  # fmt: skip
            widget.setVisible(video)

    # ------------------------------------------------------------------ the strength

    def use_strength(self, meaning: str) -> None:
        """The strength box now means ``meaning`` (a key of :data:`STRENGTHS` this kind
        offers): its label, tool tip and range, and the value it had in that meaning."""
        if meaning == self.meaning or meaning not in self.strengths:
            return
        self._values[self.meaning] = float(self.strength.value())
        self.meaning = meaning
        strength = STRENGTHS[meaning]
        box = self.strength
        box.setDecimals(strength.decimals)  # first: Qt rounds the range to the decimals
        box.setRange(strength.minimum, strength.maximum)
        box.setSingleStep(strength.step)
        box.setValue(self._values[meaning])
        box.setToolTip(strength.tip)
        self.strength_label.setText(strength.label)
        self.strength_label.setToolTip(strength.tip)

    def strength_value(self, meaning: str) -> float:
        """The value of the strength in ``meaning`` (shown or not)."""
        if meaning == self.meaning:
            return float(self.strength.value())
        return float(self._values.get(meaning, STRENGTHS[meaning].default))

    def video_params(self) -> VideoParams:
        """The options as the video job's parameters (the blend: the strength when it
        means a blend; otherwise VideoParams' own, which no job of that kind reads)."""
        size = int(self.size_spin.value()) or None
        params = VideoParams(temporal=self.temporal_check.isChecked(), size=size)
        if STRENGTHS[self.meaning].blend:
            params.blend = float(self.strength.value())
        return params

    def temporal_weight(self) -> float:
        """The Gatys video's temporal weight (whatever the box shows now)."""
        return self.strength_value("style-weight")

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("video_temporal", self.temporal_check.isChecked())
        for meaning in self.strengths:
            settings.setValue(STRENGTHS[meaning].setting, self.strength_value(meaning))

    def restore_settings(self, settings: QSettings) -> None:
        self.temporal_check.setChecked(read_bool(settings, "video_temporal", True))
        for meaning in self.strengths:
            strength = STRENGTHS[meaning]
            value = read_float(settings, strength.setting, self.strength_value(meaning))
            value = min(max(value, strength.minimum), strength.maximum)
            if meaning == self.meaning:
                self.strength.setValue(value)
            else:
                self._values[meaning] = value
