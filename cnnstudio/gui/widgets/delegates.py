"""Table delegates of the Classify tab's results: probabilities as bars, a file name over
its folder."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

#: the item data role holding [(label, probability), ...] best first, for TopKDelegate
TOPK_ROLE = Qt.ItemDataRole.UserRole + 2
#: the item data role holding the folder shown under a file name, for FileDelegate
FOLDER_ROLE = Qt.ItemDataRole.UserRole + 3
BAR_COLOUR = QColor(70, 130, 220)


class ProbabilityDelegate(QStyledItemDelegate):
    """Paints a probability (0..1 in the display role) as a bar with its percentage; a
    negative value (a file that could not be classified) paints nothing."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        value = index.data(Qt.ItemDataRole.DisplayRole)
        if not isinstance(value, (int, float)):
            super().paint(painter, option, index)
            return
        if value < 0:
            return
        painter.save()
        rect = option.rect.adjusted(3, 4, -3, -4)
        painter.fillRect(rect, option.palette.base())
        filled = QRect(rect.left(), rect.top(), int(rect.width() * float(value)), rect.height())
        painter.fillRect(filled, BAR_COLOUR)
        painter.setPen(option.palette.text().color())
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{float(value):.1%}")
        painter.restore()


class TopKDelegate(QStyledItemDelegate):
    """Paints a result's top-k labels (:data:`TOPK_ROLE`) as stacked bars, each as long
    as its probability, with the label and percentage on it when the row is tall enough.
    At most :attr:`max_bars` are drawn (bars too thin to label are unreadable); the
    item's tooltip lists them all."""

    #: the most bars a cell shows (the best ones)
    max_bars = 3

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        predictions = index.data(TOPK_ROLE)
        if not predictions:
            super().paint(painter, option, index)
            return
        predictions = list(predictions)[: self.max_bars]
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        area = option.rect.adjusted(3, 2, -3, -2)
        count = len(predictions)
        height = max(1, (area.height() - (count - 1)) // count)  # a 1-pixel gap between bars
        text_fits = height >= painter.fontMetrics().height() - 4
        for rank, (label, probability) in enumerate(predictions):
            top = area.top() + rank * (height + 1)
            bar = QRect(area.left(), top, area.width(), height)
            painter.fillRect(bar, option.palette.base())
            length = int(round(area.width() * min(max(float(probability), 0.0), 1.0)))
            painter.fillRect(QRect(bar.left(), top, length, height), BAR_COLOUR)
            if text_fits:
                text = f"{label} {float(probability):.1%}"
                painter.setPen(option.palette.text().color())
                elided = painter.fontMetrics().elidedText(
                    text, Qt.TextElideMode.ElideRight, bar.width() - 4
                )
                painter.drawText(
                    bar.adjusted(2, 0, -2, 0),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    elided,
                )
        painter.restore()


class FileDelegate(QStyledItemDelegate):
    """Paints a file name (the display role) over its folder (:data:`FOLDER_ROLE`, in a
    quieter colour), both elided in the middle, so two files of the same name differ."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        folder = index.data(FOLDER_ROLE)
        if not folder:
            super().paint(painter, option, index)
            return
        name = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        painter.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(option.rect, option.palette.highlight())
        area = option.rect.adjusted(4, 2, -4, -2)
        metrics = option.fontMetrics
        line = metrics.height()
        top = area.top() + max(0, (area.height() - 2 * line) // 2)
        text = option.palette.highlightedText() if selected else option.palette.text()
        painter.setPen(text.color())
        elide = Qt.TextElideMode.ElideMiddle
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(
            QRect(area.left(), top, area.width(), line),
            align,
            metrics.elidedText(name, elide, area.width()),
        )
        quiet = text.color() if selected else option.palette.placeholderText().color()
        painter.setPen(quiet)
        painter.drawText(
            QRect(area.left(), top + line, area.width(), line),
            align,
            metrics.elidedText(str(folder), elide, area.width()),
        )
        painter.restore()


#: the item data role holding a bar's length as a share of the column's longest (0..1)
SHARE_ROLE = Qt.ItemDataRole.UserRole + 4


class ShareDelegate(QStyledItemDelegate):
    """Paints a bar as long as the item's :data:`SHARE_ROLE` with the item's text on it
    (a count beside the largest: a class's images in a dataset)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        share = index.data(SHARE_ROLE)
        if not isinstance(share, (int, float)):
            super().paint(painter, option, index)
            return
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        rect = option.rect.adjusted(3, 4, -3, -4)
        painter.fillRect(rect, option.palette.base())
        length = int(round(rect.width() * min(max(float(share), 0.0), 1.0)))
        painter.fillRect(QRect(rect.left(), rect.top(), length, rect.height()), BAR_COLOUR)
        painter.setPen(option.palette.text().color())
        painter.drawText(
            rect.adjusted(4, 0, -4, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            str(index.data(Qt.ItemDataRole.DisplayRole) or ""),
        )
        painter.restore()
