"""ResultsTable: one row per classified file (thumbnail, name over its folder, top label,
probability bar, error, top-k bars), sortable; the results keep their order of arrival
behind the rows.

Columns are sized to what they hold (measured as rows arrive: a Qt resize-to-contents
would measure every row again for each new one), so the top-k bars are wide enough to read
and the short columns stay short; the error column appears when a file could not be read.
File names are elided in the middle, with their folder under them (two ``IMG_0001.jpg``
from different folders differ) and the full path in the tooltip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from cnnstudio.gui.widgets.delegates import (
    FOLDER_ROLE,
    TOPK_ROLE,
    FileDelegate,
    ProbabilityDelegate,
    TopKDelegate,
)
from cnnstudio.gui.widgets.thumbnails import thumbnail_icon

COL_THUMB, COL_FILE, COL_LABEL, COL_PROB, COL_ERROR, COL_TOPK = range(6)
_HEADERS = ("", "File", "Top label", "Probability", "Error", "Top labels")
_TOOLTIPS = (
    "The picture",
    "The file name, its folder under it; the full path in the tooltip",
    "The label the model gives the highest probability",
    "The probability of the top label",
    "Why the file could not be classified",
    "The best labels with their probabilities (the tooltip lists all the top-k)",
)
_PATH_ROLE = Qt.ItemDataRole.UserRole
_RESULT_ROLE = Qt.ItemDataRole.UserRole + 1  # index into the results, in arrival order
_ERROR_COLOUR = QColor(200, 40, 40)

#: (least, most) width of the columns sized to their content, pixels
_WIDTHS = {
    COL_FILE: (110, 170),
    COL_LABEL: (80, 150),
    COL_PROB: (84, 84),
    COL_ERROR: (140, 140),
    COL_TOPK: (170, 280),
}
#: the columns that give up width first in a narrow table (names are elided)
_YIELDING = (COL_FILE, COL_LABEL)
_THUMB_WIDTH = 56
_PADDING = 16  # the cell's margins and the sort arrow


class ResultsTable(QTableWidget):
    """The ``ClassifyResult`` objects of ``core.classify``, one per row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(_HEADERS), parent)
        self._results: list[Any] = []  # ClassifyResult, in arrival order
        self._wanted: dict[int, int] = {}  # column -> the widest content so far
        self.setHorizontalHeaderLabels(_HEADERS)
        for column, tip in enumerate(_TOOLTIPS):
            self.horizontalHeaderItem(column).setToolTip(tip)
        self.setToolTip("Click a row to see the picture, its heat map and feature maps")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setWordWrap(True)  # an error message wraps over the row's lines
        self.setIconSize(QSize(48, 48))
        # tall enough for the thumbnail, two lines of file name and three labelled bars
        line = self.fontMetrics().height() + 1
        self.verticalHeader().setDefaultSectionSize(max(52, TopKDelegate.max_bars * line + 6))
        self.verticalHeader().setVisible(False)
        self.setItemDelegateForColumn(COL_FILE, FileDelegate(self))
        self.setItemDelegateForColumn(COL_PROB, ProbabilityDelegate(self))
        self.setItemDelegateForColumn(COL_TOPK, TopKDelegate(self))
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)  # the top-k bars take what is left
        header.setTextElideMode(Qt.TextElideMode.ElideRight)
        header.resizeSection(COL_THUMB, _THUMB_WIDTH)
        for column in _WIDTHS:
            self._fit(column, self._header_width(column))
        self.setColumnHidden(COL_ERROR, True)  # until a file fails
        self.setSortingEnabled(True)
        self.setAcceptDrops(False)  # the drop area above takes files and folders

    # -- sizes ---------------------------------------------------------------------------

    def _header_width(self, column: int) -> int:
        return self.horizontalHeader().fontMetrics().horizontalAdvance(_HEADERS[column]) + 24

    def _text_width(self, text: str) -> int:
        return self.fontMetrics().horizontalAdvance(text) + _PADDING

    def _fit(self, column: int, width: int) -> None:
        """Widen ``column`` to ``width`` (within its bounds) if it is narrower."""
        least, most = _WIDTHS[column]
        wanted = min(max(width, least, self._wanted.get(column, 0)), max(most, least))
        if wanted > self._wanted.get(column, 0):
            self._wanted[column] = wanted
            if column in _YIELDING:
                self._share_room()
            else:
                self.horizontalHeader().resizeSection(column, wanted)

    def _share_room(self) -> None:
        """Give the file name and label columns the width they want, or, in a narrow
        table, what is left beside the other columns (down to their least): names are
        elided, but the probability and the error stay in view."""
        fixed = sum(
            self.columnWidth(c)
            for c in range(COL_TOPK)
            if c not in _YIELDING and not self.isColumnHidden(c)
        )
        excess = sum(self._wanted.get(c, _WIDTHS[c][0]) for c in _YIELDING) - max(
            self.viewport().width() - fixed, 0
        )
        header = self.horizontalHeader()
        for column in _YIELDING:
            wanted = self._wanted.get(column, _WIDTHS[column][0])
            cut = min(max(excess, 0), wanted - _WIDTHS[column][0])
            excess -= cut
            header.resizeSection(column, wanted - cut)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._share_room()

    # -- rows ----------------------------------------------------------------------------

    def add_result(self, result: Any) -> None:
        """A row for ``result`` (a file classified, or one that could not be read)."""
        self._results.append(result)
        sorting = self.isSortingEnabled()
        self.setSortingEnabled(False)  # rows stay whole while they are filled in
        row = self.rowCount()
        self.insertRow(row)
        thumb = QTableWidgetItem()
        if result.thumbnail is not None:
            thumb.setIcon(thumbnail_icon(result.thumbnail))
        thumb.setData(_PATH_ROLE, result.file)
        thumb.setData(_RESULT_ROLE, len(self._results) - 1)
        thumb.setToolTip(result.file)
        self.setItem(row, COL_THUMB, thumb)
        path = Path(result.file)
        name = QTableWidgetItem(path.name)
        folder = path.parent.name or str(path.parent)
        name.setData(FOLDER_ROLE, folder)
        name.setToolTip(result.file)
        self.setItem(row, COL_FILE, name)
        self._fit(COL_FILE, max(self._text_width(path.name), self._text_width(folder)))
        if result.ok:
            self._fill_predictions(row, result)
        else:
            self._fill_error(row, result.file, result.error)
        self.setSortingEnabled(sorting)

    def _fill_predictions(self, row: int, result: Any) -> None:
        top = result.top
        label = QTableWidgetItem(top.label)
        label.setToolTip(top.label)
        self.setItem(row, COL_LABEL, label)
        self._fit(COL_LABEL, self._text_width(top.label))
        prob = QTableWidgetItem()
        prob.setData(Qt.ItemDataRole.DisplayRole, float(top.probability))
        prob.setToolTip(f"{top.label}: {top.probability:.2%}")
        self.setItem(row, COL_PROB, prob)
        texts = [f"{p.label} {p.probability:.1%}" for p in result.predictions]
        topk_item = QTableWidgetItem("; ".join(texts))  # the text sorts and copies
        topk_item.setData(TOPK_ROLE, [(p.label, p.probability) for p in result.predictions])
        topk_item.setToolTip("\n".join(texts))
        self.setItem(row, COL_TOPK, topk_item)
        self._fit(COL_TOPK, max(self._text_width(t) for t in texts) + 8)
        self.setItem(row, COL_ERROR, QTableWidgetItem(""))

    def _fill_error(self, row: int, file: str, message: str) -> None:
        for column in (COL_LABEL, COL_TOPK):
            self.setItem(row, column, QTableWidgetItem(""))
        prob = QTableWidgetItem()
        prob.setData(Qt.ItemDataRole.DisplayRole, -1.0)  # errors sort last; no bar
        self.setItem(row, COL_PROB, prob)
        # the file column names the file: the cell says what is wrong with it
        shown = message.removeprefix(f"{Path(file).name}: ")
        error = QTableWidgetItem(shown[:1].upper() + shown[1:])
        error.setForeground(_ERROR_COLOUR)
        error.setToolTip(message)
        error.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.setItem(row, COL_ERROR, error)
        if self.isColumnHidden(COL_ERROR):
            self.setColumnHidden(COL_ERROR, False)
            self._share_room()

    # -- reading -------------------------------------------------------------------------

    def results(self) -> list[Any]:
        """The results in the table's current (possibly sorted) row order."""
        ordered = []
        for row in range(self.rowCount()):
            item = self.item(row, COL_THUMB)
            if item is not None:
                ordered.append(self._results[int(item.data(_RESULT_ROLE))])
        return ordered

    def result_count(self) -> int:
        """How many results are listed."""
        return len(self._results)

    def files(self) -> list[str]:
        """The files listed, in the order they arrived."""
        return [result.file for result in self._results]

    def selected_result(self) -> Any | None:
        """The result of the selected row, or None."""
        model = self.selectionModel()
        rows = model.selectedRows() if model is not None else []
        if not rows:
            return None
        item = self.item(rows[0].row(), COL_THUMB)
        return self._results[int(item.data(_RESULT_ROLE))] if item is not None else None

    def clear_results(self) -> None:
        """No rows, no results; the columns back to their first widths."""
        self.setRowCount(0)
        self._results = []
        self._wanted = {}
        for column in _WIDTHS:
            self._fit(column, self._header_width(column))
        self.setColumnHidden(COL_ERROR, True)
