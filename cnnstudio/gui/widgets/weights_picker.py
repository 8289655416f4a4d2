"""WeightsPicker: where a pretrained network's weights come from (ImageNet, random, a file)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QWidget

from cnnstudio.gui.settings import app_settings, last_folder, read_list, remember_folder

IMAGENET_TEXT = "ImageNet (pretrained)"
RANDOM_TEXT = "Untrained (random weights)"
FILE_TEXT = "Weights file..."
MODEL_TEXT = "Model's own weights: {name}"
_TOOLTIP = (
    "Where the network's weights come from. 'Untrained' works with a randomly initialised "
    "network: results are labelled as such."
)
_RECENT_KEY = "weights/recent_files"
_MAX_RECENT = 8
_FILE_ITEM = "__choose_file__"
_MODEL_ITEM = "__model__"


class WeightsPicker(QComboBox):
    """A combo box whose :meth:`value` is ``"imagenet"``, ``"random"`` or a file path.

    "Weights file..." opens a file dialog (through :meth:`ask_weights_file`, which tests
    replace); chosen files are remembered across runs and tabs. A model of the library
    brings its own weights: :meth:`set_model_label` shows its name (and disables the
    picker) instead of a choice that does not apply to it.
    """

    #: the new value ("imagenet" | "random" | path) after the user changed it
    value_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.setToolTip(_TOOLTIP)
        self._held: str | None = None  # the choice kept while a model's name is shown
        self.addItem(IMAGENET_TEXT, "imagenet")
        self.addItem(RANDOM_TEXT, "random")
        self.addItem(FILE_TEXT, _FILE_ITEM)
        self.refresh_files()
        self._last_index = 0
        self.activated.connect(self._on_activated)
        self.currentIndexChanged.connect(self._on_index_changed)

    def value(self) -> str:
        """``"imagenet"``, ``"random"`` or the path of a weights file (while a model's
        own weights are shown: the choice that comes back for a backbone)."""
        if self._held is not None:
            return self._held
        data = self.currentData()
        return "imagenet" if data in (None, _FILE_ITEM) else str(data)

    def set_model_label(self, name: str | None) -> None:
        """Show "Model's own weights: NAME" and disable the picker (a library model or a
        .keras file has its weights); None brings the choice back for a backbone."""
        index = self.findData(_MODEL_ITEM)
        self.blockSignals(True)
        try:
            if name:
                text = MODEL_TEXT.format(name=name)
                if index < 0:
                    self._held = self.value()
                    self.insertItem(0, text, _MODEL_ITEM)
                else:
                    self.setItemText(index, text)
                self.setCurrentIndex(0)
                self.setEnabled(False)
                self.setToolTip(f"{name} is a trained model: it brings its own weights")
            elif index >= 0:
                held, self._held = self._held, None
                self.removeItem(index)
                self.setEnabled(True)
                self.setToolTip(_TOOLTIP)
                self.set_value(held or "imagenet")
                self._last_index = self.currentIndex()
        finally:
            self.blockSignals(False)

    def model_label(self) -> str:
        """The text shown for a model's own weights, or "" for a backbone's choice."""
        index = self.findData(_MODEL_ITEM)
        return self.itemText(index) if index >= 0 else ""

    def setEnabled(self, enabled: bool) -> None:  # noqa: N802 - Qt's name
        # a model's own weights are not a choice: the picker stays disabled for it
        super().setEnabled(enabled and self._held is None)

    def set_value(self, value: str) -> None:
        """Select ``value``; a path not listed yet is added (if the file exists)."""
        value = (value or "imagenet").strip()
        if self._held is not None:  # shown again when a backbone is chosen
            if value.lower() in ("imagenet", "random") or os.path.isfile(value):
                self._held = value.lower() if value.lower() in ("imagenet", "random") else value
            return
        lowered = value.lower()
        if lowered in ("imagenet", "random"):
            self.setCurrentIndex(self.findData(lowered))
            return
        index = self.findData(value)
        if index < 0:
            if not os.path.isfile(value):
                return  # a remembered file that is gone: keep the current choice
            index = self._add_path_item(value)
            self._remember(value)
        self.setCurrentIndex(index)

    def refresh_files(self) -> None:
        """List the custom weights imported (File > Import weights...) and the files
        chosen lately that are still there; the current choice stays. Called again
        each time the list opens, so a file imported meanwhile is offered at once."""
        from cnnstudio.core.weights_import import custom_weights_files

        listed = {str(self.itemData(i)) for i in range(self.count())}
        wanted = [str(p) for p in custom_weights_files()]
        wanted += [p for p in read_list(app_settings(), _RECENT_KEY) if os.path.isfile(p)]
        self.blockSignals(True)
        try:
            for path in dict.fromkeys(wanted):
                if path not in listed:
                    self._add_path_item(path)
        finally:
            self.blockSignals(False)

    def showPopup(self) -> None:  # noqa: N802 - Qt's name
        self.refresh_files()
        super().showPopup()

    def ask_weights_file(self) -> str | None:
        """Ask for a weights file (replaced in tests)."""
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Choose a weights file",
            last_folder(),
            "Keras weights (*.weights.h5 *.h5);;All files (*)",
        )
        return path or None

    # -- internals ----------------------------------------------------------------------

    def _add_path_item(self, path: str) -> int:
        index = self.findData(_FILE_ITEM)  # files go just above "Weights file..."
        if index < 0:
            index = self.count()
        self.insertItem(index, f"Custom: {Path(path).name}", path)
        self.setItemData(index, path, Qt.ItemDataRole.ToolTipRole)
        return index

    def _remember(self, path: str) -> None:
        settings = app_settings()
        recent = [p for p in read_list(settings, _RECENT_KEY) if p != path]
        settings.setValue(_RECENT_KEY, [path, *recent][:_MAX_RECENT])
        settings.sync()

    def _on_activated(self, index: int) -> None:
        if self.itemData(index) != _FILE_ITEM:
            return
        path = self.ask_weights_file()
        if not path:
            self.setCurrentIndex(self._last_index)  # cancelled: back to the previous choice
            return
        remember_folder(path)
        self.set_value(path)

    def _on_index_changed(self, index: int) -> None:
        if self.itemData(index) == _FILE_ITEM:
            return  # wait for the dialog (activated) before announcing anything
        self._last_index = index
        self.value_changed.emit(self.value())
