"""StylePictures: the content picture and the weighted style pictures of a style transfer.

The pictures are what the job paints, not parameters: the tab loads files (and reports
the unreadable ones) and hands the arrays here; this group shows them, keeps the blend
weight of each style and announces drops and button clicks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.gui.widgets.image_view import ImageView
from cnnstudio.gui.widgets.spin_boxes import double_spin_box
from cnnstudio.gui.widgets.thumbnails import thumbnail_icon

_THUMB = 48


@dataclass
class StyleImage:
    """A style picture (uint8 RGB) and the name it came with."""

    name: str
    image: np.ndarray


class StylePictures(QGroupBox):
    """Content and style slots (drop targets), "Open content...", "Add style...", and the
    list of styles with their blend weights."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Pictures", parent)
        self.content: np.ndarray | None = None
        self.content_name = ""
        self.styles: list[StyleImage] = []
        layout = QVBoxLayout(self)
        slots = QHBoxLayout()
        slots.addLayout(self._build_content_slot())
        slots.addLayout(self._build_style_slot())
        layout.addLayout(slots)
        self.style_table = QTableWidget(0, 2)
        self.style_table.setObjectName("styleStyleList")
        self.style_table.setHorizontalHeaderLabels(["Style picture", "Weight"])
        self.style_table.verticalHeader().setVisible(False)
        self.style_table.setIconSize(QSize(_THUMB, _THUMB))
        header = self.style_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.style_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.style_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.style_table.setMinimumHeight(90)
        self.style_table.setToolTip("Several styles are blended by their weights")
        layout.addWidget(self.style_table)
        self.remove_style_button = QPushButton("Remove style")
        self.remove_style_button.setObjectName("styleRemoveStyleButton")
        self.remove_style_button.setToolTip("Take the selected style picture out of the list")
        layout.addWidget(self.remove_style_button)
        self.style_table.currentCellChanged.connect(self._style_row_changed)

    def _build_content_slot(self) -> QVBoxLayout:
        column = QVBoxLayout()
        column.addWidget(QLabel("Content"))
        self.content_slot = ImageView(placeholder="Drop the content picture")
        self.content_slot.setObjectName("styleContentSlot")
        self.content_slot.setToolTip(
            "The picture to repaint: drop one here (a folder: a batch over its pictures)"
        )
        self.content_slot.setMinimumSize(140, 110)
        self.content_slot.show_zoom = False
        column.addWidget(self.content_slot, 1)
        self.open_content_button = QPushButton("Open content...")
        self.open_content_button.setObjectName("styleOpenContentButton")
        self.open_content_button.setToolTip("Choose the picture to repaint (Ctrl+O)")
        column.addWidget(self.open_content_button)
        return column

    def _build_style_slot(self) -> QVBoxLayout:
        column = QVBoxLayout()
        column.addWidget(QLabel("Style (drop to add)"))
        self.style_slot = ImageView(placeholder="Drop style pictures")
        self.style_slot.setObjectName("styleStyleSlot")
        self.style_slot.setToolTip("Drop one or more style pictures here: each is added")
        self.style_slot.setMinimumSize(140, 110)
        self.style_slot.show_zoom = False
        column.addWidget(self.style_slot, 1)
        self.add_style_button = QPushButton("Add style...")
        self.add_style_button.setObjectName("styleAddStyleButton")
        self.add_style_button.setToolTip("Choose style pictures to add (several at once)")
        column.addWidget(self.add_style_button)
        return column

    def set_content(self, image: np.ndarray, name: str) -> None:
        """Show ``image`` (uint8 RGB) as the content picture."""
        self.content = np.ascontiguousarray(image)
        self.content_name = name
        self.content_slot.set_image(self.content)
        self.content_slot.setToolTip(name)

    def add_style(self, image: np.ndarray, name: str = "style", weight: float = 1.0) -> None:
        """Add a style picture (uint8 RGB) with a blend weight."""
        self.styles.append(StyleImage(name, np.ascontiguousarray(image)))
        table = self.style_table
        row = table.rowCount()
        table.insertRow(row)
        item = QTableWidgetItem(thumbnail_icon(image, _THUMB), name)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        item.setToolTip(f"{name} ({image.shape[1]}x{image.shape[0]})")
        table.setItem(row, 0, item)
        table.setCellWidget(
            row,
            1,
            double_spin_box(
                0.0, 100.0, weight, 0.1, 2, f"styleBlend{row}",
                "Blend weight: how much of this style goes into the picture",
            ),
        )  # fmt: skip
        table.setRowHeight(row, _THUMB + 4)
        table.setCurrentCell(row, 0)
        self.style_slot.set_image(image)

    def remove_selected_style(self) -> None:
        """Drop the style picture selected in the list."""
        row = self.style_table.currentRow()
        if row < 0 or row >= len(self.styles):
            return
        del self.styles[row]
        self.style_table.removeRow(row)
        self._style_row_changed(self.style_table.currentRow())

    def _style_row_changed(self, row: int, *_: object) -> None:
        if 0 <= row < len(self.styles):
            self.style_slot.set_image(self.styles[row].image)
        elif not self.styles:
            self.style_slot.set_image(None)

    def style_blend(self) -> list[float]:
        """The blend weight of each style picture, in order."""
        return [float(self.style_table.cellWidget(r, 1).value()) for r in range(len(self.styles))]
