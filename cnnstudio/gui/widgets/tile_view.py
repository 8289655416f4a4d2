"""TileView: an ImageView over a grid of tiles (feature maps, a visualisation's channels)
where a click chooses a tile.

The owner says where the tiles are (``set_tiles``: boxes ``(x, y, width, height)`` in the
picture's pixels, as the core's grids give them); a click (a press and a release without
dragging: dragging still pans) on a tile chooses it, outlines it and emits
:attr:`TileView.tile_clicked`; ``set_labels`` names the tiles in their corners (the
channel numbers), at the same size on screen at any zoom. Zoom, pan and the rest are
ImageView's.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QMouseEvent, QPainter, QPen

from cnnstudio.gui.widgets.image_view import ImageView

Box = tuple[int, int, int, int]

#: a press and release this many screen pixels apart is still a click, not a drag
CLICK_SLOP = 4


class TileView(ImageView):
    """An :class:`ImageView` whose tiles can be chosen with a click."""

    #: a tile was clicked: its index in the boxes given to :meth:`set_tiles`
    tile_clicked = Signal(int)

    def __init__(self, parent=None, placeholder: str = "") -> None:
        super().__init__(parent, placeholder)
        self._boxes: list[Box] = []
        self._labels: list[str] = []
        self._chosen: int | None = None
        self._pressed_at: QPoint | None = None

    def set_tiles(self, boxes: Sequence[Sequence[int]]) -> None:
        """Where the tiles are, in the picture's pixels (the choice is kept if it is
        still a tile)."""
        self._boxes = [tuple(int(v) for v in box) for box in boxes]
        if self._chosen is not None and self._chosen >= len(self._boxes):
            self._chosen = None
        self.viewport().update()

    def set_labels(self, labels: Sequence[str]) -> None:
        """A short text in the top-left corner of each tile (as many as there are)."""
        self._labels = [str(label) for label in labels]
        self.viewport().update()

    def labels(self) -> list[str]:
        return list(self._labels)

    def tiles(self) -> list[Box]:
        return list(self._boxes)

    def set_chosen(self, index: int | None) -> None:
        """Outline tile ``index`` (None: no tile)."""
        self._chosen = index if index is not None and 0 <= index < len(self._boxes) else None
        self.viewport().update()

    def chosen(self) -> int | None:
        return self._chosen

    def tile_at(self, x: float, y: float) -> int | None:
        """The tile under the picture's pixel (x, y), or None (a gap, the background)."""
        for index, (left, top, width, height) in enumerate(self._boxes):
            if left <= x < left + width and top <= y < top + height:
                return index
        return None

    def tile_center(self, index: int) -> QPoint:
        """Where tile ``index``'s centre is on the viewport (tests click there)."""
        left, top, width, height = self._boxes[index]
        return self.mapFromScene(QPointF(left + width / 2, top + height / 2))

    # -- clicks -------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        left = event.button() == Qt.MouseButton.LeftButton
        self._pressed_at = event.position().toPoint() if left else None
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        pressed, self._pressed_at = self._pressed_at, None
        if pressed is None or event.button() != Qt.MouseButton.LeftButton:
            return
        position = event.position().toPoint()
        if (position - pressed).manhattanLength() > CLICK_SLOP or self.image() is None:
            return  # a drag: it panned
        point = self.mapToScene(position)
        index = self.tile_at(point.x(), point.y())
        if index is not None:
            self.set_chosen(index)
            self.tile_clicked.emit(index)

    # -- the outline --------------------------------------------------------------------

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        super().drawForeground(painter, rect)
        if self.image() is None:
            return
        self._draw_labels(painter)
        if self._chosen is None:
            return
        left, top, width, height = self._boxes[self._chosen]
        painter.save()
        for colour, px in ((QColor(0, 0, 0, 200), 5.0), (QColor(255, 214, 0), 2.5)):
            pen = QPen(colour, px)
            pen.setCosmetic(True)  # the same on screen at any zoom
            painter.setPen(pen)
            painter.drawRect(QRectF(left - 0.5, top - 0.5, width + 1, height + 1))
        painter.restore()

    def _draw_labels(self, painter: QPainter) -> None:
        """Each tile's label on a dark plate in its corner, in screen pixels; none when
        the tiles are too small on screen to carry one."""
        if not self._labels:
            return
        metrics = QFontMetrics(painter.font())
        scale = self.zoom_factor()
        painter.save()
        painter.resetTransform()  # screen pixels from here on
        for (left, top, width, _height), label in zip(self._boxes, self._labels, strict=False):
            plate = QRectF(metrics.boundingRect(label)).adjusted(-3, -1, 3, 1)
            if width * scale < plate.width() + 4:
                continue
            corner = self.mapFromScene(QPointF(left, top))
            plate.moveTopLeft(QPointF(corner.x() + 1, corner.y() + 1))
            painter.fillRect(plate, QColor(0, 0, 0, 170))
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(plate, Qt.AlignmentFlag.AlignCenter, label)
        painter.restore()
