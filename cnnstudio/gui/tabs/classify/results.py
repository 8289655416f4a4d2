"""ResultsTable: one row per classified file (thumbnail, name, top label, probability bar,
top-k bars, error), sortable; the results keep their order of arrival behind the rows."""

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

from cnnstudio.gui.widgets.delegates import TOPK_ROLE, ProbabilityDelegate, TopKDelegate
from cnnstudio.gui.widgets.thumbnails import thumbnail_icon

COL_THUMB, COL_FILE, COL_LABEL, COL_PROB, COL_TOPK, COL_ERROR = range(6)
_HEADERS = ("", "File", "Top label", "Probability", "Top-k", "Error")
_PATH_ROLE = Qt.ItemDataRole.UserRole
_RESULT_ROLE = Qt.ItemDataRole.UserRole + 1  # index into the results, in arrival order
_ERROR_COLOUR = QColor(200, 40, 40)


class ResultsTable(QTableWidget):
    """The ``ClassifyResult`` objects of ``core.classify``, one per row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(_HEADERS), parent)
        self._results: list[Any] = []  # ClassifyResult, in arrival order
        self.setHorizontalHeaderLabels(_HEADERS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setIconSize(QSize(48, 48))
        self.verticalHeader().setDefaultSectionSize(52)
        self.verticalHeader().setVisible(False)
        self.setItemDelegateForColumn(COL_PROB, ProbabilityDelegate(self))
        self.setItemDelegateForColumn(COL_TOPK, TopKDelegate(self))
        header = self.horizontalHeader()
        header.setSectionResizeMode(COL_TOPK, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(COL_THUMB, 56)
        header.resizeSection(COL_PROB, 120)
        self.setSortingEnabled(True)
        self.setAcceptDrops(False)  # the drop area above takes files and folders

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
        self.setItem(row, COL_THUMB, thumb)
        name = QTableWidgetItem(Path(result.file).name)
        name.setToolTip(result.file)
        self.setItem(row, COL_FILE, name)
        if result.ok:
            self._fill_predictions(row, result)
        else:
            self._fill_error(row, result.error)
        self.setSortingEnabled(sorting)

    def _fill_predictions(self, row: int, result: Any) -> None:
        top = result.top
        self.setItem(row, COL_LABEL, QTableWidgetItem(top.label))
        prob = QTableWidgetItem()
        prob.setData(Qt.ItemDataRole.DisplayRole, float(top.probability))
        self.setItem(row, COL_PROB, prob)
        topk = "; ".join(f"{p.label} {p.probability:.1%}" for p in result.predictions)
        topk_item = QTableWidgetItem(topk)  # the text sorts and copies; the bars show
        topk_item.setData(TOPK_ROLE, [(p.label, p.probability) for p in result.predictions])
        topk_item.setToolTip(topk.replace("; ", "\n"))
        self.setItem(row, COL_TOPK, topk_item)
        self.setItem(row, COL_ERROR, QTableWidgetItem(""))

    def _fill_error(self, row: int, message: str) -> None:
        for column in (COL_LABEL, COL_TOPK):
            self.setItem(row, column, QTableWidgetItem(""))
        prob = QTableWidgetItem()
        prob.setData(Qt.ItemDataRole.DisplayRole, -1.0)  # errors sort last; no bar
        self.setItem(row, COL_PROB, prob)
        error = QTableWidgetItem(message)
        error.setForeground(_ERROR_COLOUR)
        error.setToolTip(message)
        self.setItem(row, COL_ERROR, error)

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
        """No rows, no results."""
        self.setRowCount(0)
        self._results = []
