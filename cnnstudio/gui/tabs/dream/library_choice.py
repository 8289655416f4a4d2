"""The library's models in the Dream form's network box, and the layers of the chosen one.

The models are listed after the backbones (item data :data:`LIBRARY_PREFIX` + path).
Choosing one reads its dreamable layers on a worker (``runner``); the form fills its
layer table when :attr:`LibraryChoice.layers_read` arrives.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox

from cnnstudio.core.backbones import BACKBONE_NAMES
from cnnstudio.core.dream.params import model_default_layers
from cnnstudio.core.errors import StudioError
from cnnstudio.core.faststyle.params import is_style_model
from cnnstudio.gui.tabs.dream.library_model import LIBRARY_PREFIX, library_layers
from cnnstudio.gui.workers import JobRunner

log = logging.getLogger(__name__)


class LibraryChoice(QObject):
    """Library models in ``combo`` (a backbone box) and the reading of their layers."""

    #: a line for the status bar
    status = Signal(str)
    #: reading a model failed: (message, details)
    failed = Signal(str, str)
    #: the chosen model's layers: (names, {name: weight} to tick, {name: channels})
    layers_read = Signal(list, dict, dict)

    def __init__(self, combo: QComboBox, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.combo = combo
        self.runner = JobRunner("Loading the model", self)
        self.stale = False  # a model was chosen while hidden: read its layers when shown
        self._pending_weights: dict[str, float] | None = None  # for a model still loading
        self._loading: str | None = None  # the model whose layers are being read
        self.runner.finished.connect(self._on_layers)
        self.runner.failed.connect(
            lambda message: self.failed.emit(message, self.runner.error_details)
        )

    def path(self) -> str | None:
        """The .keras file of the chosen library model, or None for a backbone."""
        data = str(self.combo.currentData())
        return data[len(LIBRARY_PREFIX) :] if data.startswith(LIBRARY_PREFIX) else None

    def name(self) -> str:
        """The chosen library model's name ("" for a backbone)."""
        text = self.combo.currentText()
        return text.removeprefix("Library: ") if self.path() is not None else ""

    def preprocessing(self) -> str:
        """The chosen model's input convention: "none" (0..255 pixels, it rescales
        itself) or a backbone name; "" when a backbone is chosen."""
        path = self.path()
        if path is None:
            return ""
        from cnnstudio.core.library import read_sidecar

        return str(read_sidecar(path).get("preprocessing", "none"))

    def layers_pending(self) -> bool:
        """Whether the chosen model's layers are still to come."""
        return self.path() is not None and (self.runner.running or self.stale)

    def keep_weights(self, weights: dict[str, float]) -> None:
        """Tick ``weights`` when the layers being read arrive."""
        self._pending_weights = dict(weights)

    def refresh(self) -> bool:
        """List the library's models after the backbones, keeping the choice; True when
        the chosen model has left the library (the choice moved to the first backbone)."""
        from cnnstudio.core import library

        chosen = self.combo.currentData()
        combo = self.combo
        combo.blockSignals(True)
        try:
            while combo.count() > len(BACKBONE_NAMES):
                combo.removeItem(combo.count() - 1)
            try:
                entries = library.list_models()
            except (OSError, StudioError) as error:
                log.warning("model library not listed: %s", error)
                entries = []
            for entry in entries:
                if is_style_model(entry.meta):
                    continue  # a style network paints pictures: nothing to dream with
                damaged = " (damaged)" if entry.damaged else ""  # the tooltip says why
                combo.addItem(f"Library: {entry.name}{damaged}", LIBRARY_PREFIX + str(entry.path))
                combo.setItemData(combo.count() - 1, entry.describe(), Qt.ItemDataRole.ToolTipRole)
            combo.setCurrentIndex(max(combo.findData(chosen), 0))
        finally:
            combo.blockSignals(False)
        return combo.currentData() != chosen

    def select(self, name: str) -> bool:
        """Choose the listed library model called ``name``; False if there is none."""
        for index in range(len(BACKBONE_NAMES), self.combo.count()):
            if self.combo.itemText(index) == f"Library: {name}":
                self.combo.setCurrentIndex(index)
                return True
        return False

    def select_path(self, path: str) -> bool:
        """Choose the listed library model stored at ``path`` (restored settings)."""
        index = self.combo.findData(LIBRARY_PREFIX + path)
        if index >= 0:
            self.combo.setCurrentIndex(index)
        return index >= 0

    def read_layers(self) -> None:
        """Read the chosen model's layers on the worker (nothing for a backbone)."""
        path = self.path()
        self.stale = False
        if path is None or self.runner.running:
            return
        self._loading = path
        self.status.emit(f"Loading the layers of {Path(path).stem}...")
        self.runner.run_function(library_layers, path)

    def _on_layers(self, result: tuple[list[str], dict[str, int]]) -> None:
        names, channels = result
        weights = self._pending_weights
        self._pending_weights = None
        if not weights or not any(name in names for name in weights):
            weights = model_default_layers(names)  # the deepest spatial layer
        if self.path() != self._loading:
            # another model was chosen while this one loaded: read that one's layers
            self._pending_weights = weights
            QTimer.singleShot(0, self.read_layers)
            return
        self.layers_read.emit(list(names), weights, dict(channels))
        self.status.emit(f"{Path(self._loading).stem}: {len(names)} layers to dream on")
