"""ElidedLabel: one line of text that never widens its panel; what does not fit is elided
("...") and the whole text is the tooltip.

A plain QLabel asks for the width of its whole text, so a long status message or file
name widened the status bar's window or the form's column: panels jumped. This label
asks for no width of its own and draws what fits.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QSizePolicy, QWidget


class ElidedLabel(QFrame):
    """``setText``/``text`` as a QLabel; elided at ``elide_mode`` (default: the end)."""

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        elide_mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
    ) -> None:
        super().__init__(parent)
        self._text = ""
        self._elide_mode = elide_mode
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._text = str(text)
        self.setToolTip(self._text if self._text else "")
        self.update()

    def text(self) -> str:
        return self._text

    def shown_text(self) -> str:
        """What fits in the label's width now."""
        width = self.contentsRect().width()
        return self.fontMetrics().elidedText(self._text, self._elide_mode, max(width, 0))

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        return QSize(min(metrics.horizontalAdvance(self._text), 200) + 4, metrics.height() + 2)

    def minimumSizeHint(self) -> QSize:
        return QSize(0, self.fontMetrics().height() + 2)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        painter = QPainter(self)
        painter.drawText(
            self.contentsRect(),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            self.shown_text(),
        )
        painter.end()
