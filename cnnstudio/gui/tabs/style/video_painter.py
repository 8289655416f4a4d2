"""What paints a video in the Style tab: the Gatys optimisation (the settings on the left)
or a fast style model of the library, one pass per frame.

:class:`VideoPainter` is the "Paint with" row of the Style tab's motion panel: the
choice, remembered by the model's name, and "Keep the video's colours" for a model. It
switches the panel's strength box between the temporal weight (Gatys) and the blend of
the warped previous frame (a fast model). :class:`EveryFrameNote` sits under the content
of "Use a fast style model": it says when the content is a video's first frame and
offers to style every frame.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.errors import StudioError
from cnnstudio.gui.settings import read_bool, read_str
from cnnstudio.gui.tabs.motion.panel import MotionPanel
from cnnstudio.gui.tabs.style.fast_models import model_icon

OPTIMISATION = "Optimisation (the settings on the left)"
_ICON_SIDE = 24
_TIP = (
    "What paints every frame: the optimisation with the style pictures and settings on "
    "the left (minutes per frame), or a fast style model of the library (one pass per "
    "frame: no style pictures needed)"
)


class VideoPainter(QWidget):
    """ "Paint with": optimisation or one of the library's style models."""

    #: the choice or its colours option changed
    changed = Signal()
    status = Signal(str)

    def __init__(self, panel: MotionPanel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stylePainterRow")
        self.panel = panel
        self.entries: dict[str, object] = {}  # name -> the library entry of a style model
        self.combo = QComboBox()
        self.combo.setObjectName("stylePaintWith")
        self.combo.setToolTip(_TIP)
        self.combo.addItem(OPTIMISATION, "")
        label = QLabel("Paint with")
        label.setToolTip(_TIP)
        self.colors_check = QCheckBox("Keep the video's colours")
        self.colors_check.setObjectName("styleVideoColors")
        self.colors_check.setToolTip(
            "The styled luminance on each frame's own colours (always so for a model "
            "trained on luminance)"
        )
        self.colors_check.hide()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(label)
        row.addWidget(self.combo, 1)
        row.addWidget(self.colors_check)
        self.combo.currentIndexChanged.connect(self._chosen)
        self.colors_check.toggled.connect(self.changed)
        self.refresh()

    # ------------------------------------------------------------------ the choice

    def model_name(self) -> str:
        """The chosen style model's library name ("" for the optimisation)."""
        return str(self.combo.currentData() or "")

    def model_entry(self):
        """The chosen style model's library entry (as listed), or None."""
        return self.entries.get(self.model_name())

    def choose(self, name: str) -> bool:
        """Paint with the style model ``name`` ("": the optimisation); False when the
        library lists no such style model (the choice stays)."""
        index = self.combo.findData(name)
        if index < 0:
            return False
        self.combo.setCurrentIndex(index)
        return True

    def refresh(self) -> None:
        """List the library's style models again (damaged ones are left out: the library
        dialog says why), keeping the choice; a chosen model gone from the library gives
        way to the optimisation, and the status line says so."""
        from cnnstudio.core.faststyle import models

        chosen = self.model_name()
        try:
            entries = [e for e in models.style_entries() if not getattr(e, "damaged", "")]
        except (OSError, StudioError) as error:
            self.status.emit(f"The model library could not be listed: {error}")
            entries = []
        self.entries = {entry.name: entry for entry in entries}
        self.combo.blockSignals(True)
        try:
            while self.combo.count() > 1:
                self.combo.removeItem(1)
            for entry in entries:
                icon = model_icon(models.thumbnail(entry.meta), _ICON_SIDE)
                self.combo.addItem(icon, entry.name, entry.name)
                styles = ", ".join(str(s) for s in entry.meta.get("styles") or []) or "?"
                self.combo.setItemData(
                    self.combo.count() - 1,
                    f"Style model '{entry.name}': {styles}",
                    Qt.ItemDataRole.ToolTipRole,
                )
            self.combo.setCurrentIndex(max(0, self.combo.findData(chosen)))
        finally:
            self.combo.blockSignals(False)
        if chosen and self.model_name() != chosen:
            self.status.emit(
                f"The style model '{chosen}' is not in the model library any more: videos "
                "are painted by the optimisation until you choose another in 'Paint with'"
            )
            self._chosen()

    def _chosen(self, *_args) -> None:
        fast = bool(self.model_name())
        self.panel.use_strength("style-blend" if fast else "style-weight")
        self.colors_check.setVisible(fast)
        self.changed.emit()

    # ------------------------------------------------------------------ settings

    def save_settings(self, settings) -> None:
        settings.setValue("video_painter", self.model_name())
        settings.setValue("video_fast_colors", self.colors_check.isChecked())

    def restore_settings(self, settings) -> None:
        self.colors_check.setChecked(read_bool(settings, "video_fast_colors", False))
        name = read_str(settings, "video_painter", "")
        if name and not self.choose(name):
            self.status.emit(
                f"The style model '{name}' that painted your last video is not in the model "
                "library: videos are painted by the optimisation"
            )


class EveryFrameNote(QWidget):
    """Under the content of "Use a fast style model" while it is a video's first frame."""

    #: "Style every frame" pressed
    requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("")
        self.label.setObjectName("fastVideoNote")
        self.label.setWordWrap(True)
        self.button = QPushButton("Style every frame")
        self.button.setObjectName("fastEveryFrameButton")
        self.button.setToolTip(
            "Paint every frame of the video with the chosen model (F5): the frames appear "
            "in 'Optimise a picture', where Stop keeps them and Save video writes the video"
        )
        self.button.clicked.connect(self.requested)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.label)
        column.addWidget(self.button)
        self.hide()

    def set_video(self, name: str) -> None:
        """The content is the first frame of the video ``name`` ("": a picture)."""
        self.label.setText(
            f"The content is the first frame of {name}. Style every frame (F5) paints the "
            "whole video with the chosen model."
            if name
            else ""
        )
        self.setVisible(bool(name))
