"""The view's right side: the channels with their objective values, and the chosen
channel's visualisation next to its dataset examples (each with its region outlined).

The examples are drawn from their files on the panel's own worker (no TensorFlow: the
files are read and outlined by ``core.visualize.pictures``); only the latest choice is
drawn when the choice moves on meanwhile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.gui.visualize.work import example_pictures
from cnnstudio.gui.widgets.image_view import ImageView, array_to_qimage
from cnnstudio.gui.workers import JobRunner

ICON_SIDE = 120
_RECORD_ROLE = Qt.ItemDataRole.UserRole


class ChannelPanel(QWidget):
    """A table of the finished channels (sortable by objective), the chosen channel's
    image and its examples, and Send to Dream."""

    #: a row was chosen: the index of its record (in the order the grid has them)
    chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.records: list[Any] = []
        self._chosen: int | None = None
        self._pending: int | None = None  # examples to draw once the worker is free
        self.examples_runner = JobRunner("Dataset examples", self, imports_tensorflow=False)
        self.examples_runner.finished.connect(self._on_examples)
        self.examples_runner.failed.connect(self.set_examples_note)
        self.examples_runner.done.connect(self._on_examples_done)

        self.table = QTableWidget(0, 2, objectName="visualizeChannelTable")
        self.table.setHorizontalHeaderLabels(["Channel", "Objective"])
        self.table.setToolTip(
            "Each finished channel and its objective: how strongly its image excites it "
            "(click a header to sort; choose a row to see the channel)"
        )
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.itemSelectionChanged.connect(self._on_row_chosen)

        self.title = QLabel(
            "Choose a channel in the grid or the table", objectName="visualizeChosen"
        )
        self.title.setWordWrap(True)
        self.image_view = ImageView(placeholder="The chosen channel")
        self.image_view.setObjectName("visualizeChannelImage")
        self.image_view.setToolTip("What the chosen channel looks for (its optimised images)")
        self.image_view.show_zoom = False
        self.examples_list = QListWidget(objectName="visualizeExamplesList")
        self.examples_list.setToolTip(
            "The pictures of the examples folder that excite the channel most, best first; "
            "the outline is the region that excites it"
        )
        self.examples_list.setViewMode(QListView.ViewMode.IconMode)
        self.examples_list.setIconSize(QSize(ICON_SIDE, ICON_SIDE))
        self.examples_list.setResizeMode(QListView.ResizeMode.Adjust)
        self.examples_list.setMovement(QListView.Movement.Static)
        self.examples_list.setWordWrap(True)
        self.examples_note = QLabel("", objectName="visualizeExamplesNote")
        self.examples_note.setWordWrap(True)
        self.examples_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.send_button = QPushButton("Send to Dream", objectName="visualizeSendDream")
        self.send_button.setToolTip(
            "Dream with this channel: the Dream tab maximises it alone (One channel only), "
            "on this model (Ctrl+D)"
        )

        chosen = QWidget()
        row = QHBoxLayout(chosen)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.image_view, 2)
        row.addWidget(self.examples_list, 3)
        lower = QWidget()
        column = QVBoxLayout(lower)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.title)
        column.addWidget(chosen, 1)
        column.addWidget(self.examples_note)
        column.addWidget(self.send_button)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(lower)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    # -- the table ----------------------------------------------------------------------

    def clear(self) -> None:
        self.records = []
        self._chosen = None
        self.table.setRowCount(0)
        self.title.setText("Choose a channel in the grid or the table")
        self.image_view.set_image(None)
        self.examples_list.clear()
        self.examples_note.setText("")

    def set_records(self, records: list[Any]) -> None:
        """The finished channels (all of them so far, in the grid's order)."""
        self.records = list(records)
        self.table.setSortingEnabled(False)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.records))
        for row, record in enumerate(self.records):
            channel = QTableWidgetItem()
            channel.setData(Qt.ItemDataRole.DisplayRole, int(record.channel))
            channel.setData(_RECORD_ROLE, row)
            value = QTableWidgetItem()
            value.setData(Qt.ItemDataRole.DisplayRole, round(float(record.objective), 4))
            value.setData(_RECORD_ROLE, row)
            self.table.setItem(row, 0, channel)
            self.table.setItem(row, 1, value)
        self.table.setSortingEnabled(True)
        self._select_row_of(self._chosen)
        self.table.blockSignals(False)

    def _select_row_of(self, index: int | None) -> None:
        self.table.clearSelection()
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if index is not None and item is not None and item.data(_RECORD_ROLE) == index:
                self.table.selectRow(row)
                return

    def _on_row_chosen(self) -> None:
        items = self.table.selectedItems()
        if items:
            self.chosen.emit(int(items[0].data(_RECORD_ROLE)))

    # -- the chosen channel -------------------------------------------------------------

    def chosen_record(self) -> Any | None:
        return self.records[self._chosen] if self._chosen is not None else None

    def show_channel(self, index: int, image: np.ndarray | None, label: str) -> None:
        """Show record ``index``: its tile(s) ``image`` and a title, and draw its
        examples."""
        self._chosen = index
        record = self.records[index]
        self.table.blockSignals(True)
        self._select_row_of(index)
        self.table.blockSignals(False)
        self.title.setText(f"{label} #{record.channel}: objective {record.objective:.4g}")
        self.image_view.set_image(image)
        self.examples_list.clear()
        if record.examples:
            self._draw_examples(index)

    def _draw_examples(self, index: int) -> None:
        if self.examples_runner.running:
            self._pending = index  # latest wins
            return
        self.examples_runner.run_function(example_pictures, self.records[index].examples)

    def _on_examples(self, pictures: object) -> None:
        record = self.chosen_record()
        if record is None or [p[0] for p in pictures] != list(record.examples):
            return  # drawn for a choice that has moved on
        self.examples_list.clear()
        for rank, (example, picture, reason) in enumerate(pictures, 1):
            name = Path(example.file).name
            item = QListWidgetItem(f"{rank}. {name}\n{example.score:.3g}")
            x, y, w, h = example.region
            item.setToolTip(
                f"{example.file}\nactivation {example.score:.4g}; region {w}x{h} at ({x}, {y})"
            )
            if picture is not None:
                item.setIcon(QIcon(QPixmap.fromImage(array_to_qimage(picture))))
                item.setData(_RECORD_ROLE, picture)
            else:
                item.setText(f"{rank}. {name}\n{reason}")
            self.examples_list.addItem(item)

    def _on_examples_done(self) -> None:
        if self._pending is not None:
            index, self._pending = self._pending, None
            if index == self._chosen:
                self._draw_examples(index)

    def example_picture(self, row: int) -> np.ndarray | None:
        """The drawn example in row ``row`` (its region outlined), or None."""
        item = self.examples_list.item(row)
        return None if item is None else item.data(_RECORD_ROLE)

    def set_examples_note(self, text: str) -> None:
        self.examples_note.setText(text)

    def shutdown(self) -> None:
        self._pending = None
        self.examples_runner.shutdown()
