"""The view's layer list: the chosen model's layers with feature maps and their channel
counts, read on a worker (the latest model wins), and a field that takes any layer path.

Before the model is read (and for a backbone, at once) the list shows the backbone's
layers worth looking at, from the registry: nothing loads TensorFlow until the view
shows. A backbone is read untrained (the shapes are the same; nothing is downloaded).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QCompleter, QLabel, QLineEdit, QListWidget, QVBoxLayout, QWidget

from cnnstudio.core.backbones import BACKBONE_NAMES, get_backbone
from cnnstudio.gui.visualize.work import read_layers
from cnnstudio.gui.workers import JobRunner

_NAME_ROLE = Qt.ItemDataRole.UserRole


class LayerPicker(QWidget):
    """The layer field over its channel count and the model's layer list."""

    #: the model's layers were read (a :class:`~cnnstudio.gui.visualize.work.ModelLayers`)
    layers_read = Signal(object)
    #: a line for the status line
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = JobRunner("Reading the model's layers", self)
        self.channels: dict[str, int] = {}  # channels per layer of the model read
        self.classes: int | None = None
        self.model_name = ""
        self._model: tuple[str, str] = ("", "")  # (model, weights) shown
        self._read_for: tuple[str, str] | None = None
        self._stale = False  # read when shown
        self.edit = QLineEdit(objectName="visualizeLayer")
        self.edit.setToolTip(
            "The layer whose channels to show: pick one in the list, or type any layer "
            "path (a nested model's layer as outer/inner)"
        )
        self.info = QLabel("", objectName="visualizeLayerInfo")
        self.list = QListWidget(objectName="visualizeLayerList")
        self.list.setToolTip("The model's layers with feature maps, and their channels")
        self.list.setMinimumHeight(120)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        layout.addWidget(self.info)
        layout.addWidget(self.list, 1)
        self.list.currentItemChanged.connect(self._on_picked)
        self.edit.textChanged.connect(self._show_info)
        self.runner.finished.connect(self._on_read)
        self.runner.failed.connect(self._on_failed)
        self.runner.done.connect(self._on_done)

    def layer(self) -> str:
        return self.edit.text().strip()

    def set_layer(self, layer: str) -> None:
        self.edit.setText(layer)

    # -- the model ----------------------------------------------------------------------

    def set_model(self, model: str, weights: str, name: str) -> None:
        """Show ``model``'s layers: a backbone's from the registry at once, then (as
        for any model) the ones read from the network, with their channels."""
        self._model = (model, weights)
        self.model_name = name
        suggested = list(get_backbone(model).conv_layers) if model in BACKBONE_NAMES else []
        self.show_layers(suggested, {}, None)
        if self.isVisible():
            self.read()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.read()

    def read(self) -> None:
        """Read the model's layers on the worker (the latest model wins)."""
        self._stale = False
        if not self._model[0] or self._model == self._read_for or self.runner.running:
            return
        self._read_for = self._model
        self.info.setText("Reading the model's layers...")
        self.runner.run_function(read_layers, *self._model)

    def _on_read(self, layers: Any) -> None:
        if layers.model != self._model[0]:
            return  # another model was chosen meanwhile: it is read next
        self.show_layers(list(layers.suggested), layers.channels, layers.classes)
        self.layers_read.emit(layers)
        self.status.emit(f"{layers.label}: {len(layers.channels)} layers with feature maps")

    def _on_failed(self, message: str) -> None:
        self._read_for = None
        self.info.setText("The layers could not be read")
        self.status.emit(message)

    def _on_done(self) -> None:
        if self._read_for != self._model:
            self.read()

    # -- the list -----------------------------------------------------------------------

    def show_layers(self, names: list[str], channels: dict[str, int], classes: int | None):
        """List ``names`` (with their channels where known); the field completes any
        layer of ``channels``."""
        self.channels = dict(channels)
        self.classes = classes
        self.list.blockSignals(True)
        self.list.clear()
        for name in names:
            count = channels.get(name)
            self.list.addItem(f"{name}  ({count} channels)" if count else name)
            self.list.item(self.list.count() - 1).setData(_NAME_ROLE, name)
        self.list.blockSignals(False)
        completer = QCompleter(sorted(set(names) | set(channels)), self.edit)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.edit.setCompleter(completer)
        self._show_info()

    def _on_picked(self, item, _previous=None) -> None:
        if item is not None:
            self.edit.setText(str(item.data(_NAME_ROLE)))

    def _show_info(self, *_args) -> None:
        layer = self.layer()
        for row in range(self.list.count()):
            if self.list.item(row).data(_NAME_ROLE) == layer:
                self.list.blockSignals(True)
                self.list.setCurrentRow(row)
                self.list.blockSignals(False)
                break
        count = self.channels.get(layer)
        if count:
            text = f"{count} channels (0-{count - 1})"
        elif self.channels and layer:
            text = f"{self.model_name} has no layer '{layer}' with a feature map"
        else:
            text = ""
        self.info.setText(text)

    def shutdown(self) -> None:
        self.runner.shutdown()
