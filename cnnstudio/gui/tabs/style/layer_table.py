"""StyleLayerTable: every VGG19 convolution with its weight in the content and style loss."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from cnnstudio.core.style import params as style_params
from cnnstudio.gui.widgets.spin_boxes import double_spin_box

#: the VGG19 layers offered in the table: every convolution
CONV_LAYERS = tuple(n for n in style_params.VGG19_LAYER_NAMES if "conv" in n)
_KINDS = ((1, "content"), (2, "style"))


class StyleLayerTable(QTableWidget):
    """A row per convolution, a content and a style weight in each (0: unused). The spin
    boxes are named ``style_<kind>_<layer>``."""

    #: the user changed a weight
    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(len(CONV_LAYERS), 3, parent)
        self.setHorizontalHeaderLabels(["Layer", "Content", "Style"])
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setMinimumHeight(160)
        self.setToolTip("Weight of each layer in the content and style loss (0: unused)")
        self.spins: dict[tuple[str, str], QDoubleSpinBox] = {}
        for row, name in enumerate(CONV_LAYERS):
            item = QTableWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.setItem(row, 0, item)
            for column, kind in _KINDS:
                spin = double_spin_box(
                    0.0, 100.0, 0.0, 0.5, 2, f"style_{kind}_{name}",
                    f"How much {name} counts in the {kind} loss (0 or '-': not used)",
                )  # fmt: skip
                spin.setSpecialValueText("-")
                spin.valueChanged.connect(lambda _value: self.edited.emit())
                self.setCellWidget(row, column, spin)
                self.spins[(kind, name)] = spin

    def layer_weights(self) -> tuple[dict[str, float], dict[str, float]]:
        """({content layer: weight}, {style layer: weight}) of the non-zero cells."""
        content: dict[str, float] = {}
        style: dict[str, float] = {}
        for name in CONV_LAYERS:
            for kind, target in (("content", content), ("style", style)):
                value = float(self.spins[(kind, name)].value())
                if value > 0:
                    target[name] = value
        return content, style

    def set_layer_weights(self, content: dict[str, float], style: dict[str, float]) -> None:
        """Show these weights (every other cell 0), without :attr:`edited`."""
        for name in CONV_LAYERS:
            for kind, weights in (("content", content), ("style", style)):
                spin = self.spins[(kind, name)]
                spin.blockSignals(True)
                spin.setValue(float(weights.get(name, 0.0)))
                spin.blockSignals(False)
