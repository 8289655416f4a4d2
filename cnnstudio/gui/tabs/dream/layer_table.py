"""LayerWeightsTable: the layers a dream amplifies, one row each: a tick and a weight; a
row's context menu (right-click, or the Menu key) asks what its layer looks for."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHeaderView,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from cnnstudio.gui.widgets.spin_boxes import double_spin_box


class LayerWeightsTable(QTableWidget):
    """One row per layer of the network: ticked rows are amplified, scaled by their
    weight (a spin box named ``weight_<layer>``)."""

    #: a tick or a weight changed (by the user or by code)
    edited = Signal()
    #: "What does LAYER look for?" was chosen in a row's context menu: the layer's name
    look_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self.setHorizontalHeaderLabels(["Layer", "Weight"])
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setMinimumHeight(150)
        self.setToolTip(
            "Tick the layers to amplify; the weight scales each one. Right-click a layer "
            "to see what its channels look for"
        )
        self.itemChanged.connect(lambda _item: self.edited.emit())
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)

    def _context_menu(self, position: QPoint) -> None:
        """The menu of the row under ``position`` (or of the current row, for the Menu
        key): what the layer's channels look for, in the feature visualisation view."""
        row = self.rowAt(position.y())
        row = row if row >= 0 else self.currentRow()
        if row < 0 or self.item(row, 0) is None:
            return
        name = self.item(row, 0).text()
        menu = QMenu(self)
        menu.setObjectName("dreamLayerMenu")
        action = menu.addAction(f"What does {name} look for?")
        action.setObjectName("dreamLookAtLayer")
        action.setToolTip("Open the feature visualisation view on this layer's channels")
        action.triggered.connect(lambda _checked=False: self.look_requested.emit(name))
        menu.popup(self.viewport().mapToGlobal(position))

    def names(self) -> list[str]:
        """Every layer listed, in order."""
        return [self.item(row, 0).text() for row in range(self.rowCount())]

    def set_names(self, names: list[str]) -> bool:
        """List ``names`` (all unticked); False when they are listed already (the rows,
        their ticks and weights stay)."""
        if self.names() == names:
            return False
        # a new network: new rows (clearing first removes the old spin boxes for good)
        self.setRowCount(0)
        self.setRowCount(len(names))
        for row, name in enumerate(names):
            item = QTableWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.setItem(row, 0, item)
            spin = double_spin_box(
                -100.0, 100.0, 1.0, 0.5, 2, f"weight_{name}", f"how much {name} counts"
            )
            spin.valueChanged.connect(lambda _value: self.edited.emit())
            self.setCellWidget(row, 1, spin)
        return True

    def weights(self, include_unchecked: bool = False) -> dict[str, float]:
        """{layer: weight} of the ticked rows (or of all rows)."""
        weights = {}
        for row in range(self.rowCount()):
            item = self.item(row, 0)
            spin = self.cellWidget(row, 1)
            if item is None or not isinstance(spin, QDoubleSpinBox):
                continue
            if include_unchecked or item.checkState() == Qt.CheckState.Checked:
                weights[item.text()] = float(spin.value())
        return weights

    def set_weights(self, weights: dict[str, float]) -> None:
        """Tick exactly the layers in ``weights``, with those weights."""
        for row in range(self.rowCount()):
            item = self.item(row, 0)
            spin = self.cellWidget(row, 1)
            checked = item.text() in weights
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            if checked and isinstance(spin, QDoubleSpinBox):
                spin.setValue(float(weights[item.text()]))
