"""PresetBox: a Presets list that never lies.

It shows the preset the controls match, and "Custom" as soon as any control differs from
it (after a manual edit, a restore, another preset's change); choosing an entry applies it
every time, the one shown included (``activated``, not only a change of index: choosing
"Quick look" again after an edit must really make it quick).

The form owns the meaning: it gives ``matches(key)`` (do the controls show preset
``key``?) and applies the preset when :attr:`preset_chosen` fires; it calls
:meth:`PresetBox.refresh` whenever a control changes (:func:`watch_controls` connects them
all).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QSpinBox,
    QTableWidget,
    QWidget,
)

CUSTOM_TEXT = "Custom"


class PresetBox(QComboBox):
    """ "Custom" first, then the presets; ``current_preset()`` is a key or ""."""

    #: a preset chosen by the user (also the one already shown): apply it
    preset_chosen = Signal(str)

    def __init__(
        self,
        labels: Mapping[str, str],
        matches: Callable[[str], bool],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._matches = matches
        self.addItem(CUSTOM_TEXT, "")
        self.setItemData(0, "The controls differ from every preset", 3)  # Qt.ToolTipRole
        for key, label in labels.items():
            self.addItem(label, key)
        self.activated.connect(self._on_activated)
        self._refreshing = False

    def keys(self) -> list[str]:
        return [str(self.itemData(i)) for i in range(1, self.count())]

    def current_preset(self) -> str:
        """The key of the preset shown, "" for Custom."""
        return str(self.currentData() or "")

    def _on_activated(self, index: int) -> None:
        key = str(self.itemData(index) or "")
        if key:
            self.preset_chosen.emit(key)
        self.refresh()  # Custom chosen by hand: show what the controls really are

    def refresh(self) -> None:
        """Show the preset the controls match (the one shown first, if it still does),
        else Custom."""
        if self._refreshing:
            return
        self._refreshing = True
        try:
            shown = self.current_preset()
            candidates = ([shown] if shown else []) + [k for k in self.keys() if k != shown]
            chosen = next((key for key in candidates if self._matches(key)), "")
            index = self.findData(chosen) if chosen else 0
            if index != self.currentIndex():
                self.blockSignals(True)
                self.setCurrentIndex(max(index, 0))
                self.blockSignals(False)
        finally:
            self._refreshing = False


def watch_controls(root: QWidget, changed: Callable[[], None], skip: tuple = ()) -> None:
    """Call ``changed`` whenever a value control under ``root`` changes (spin boxes,
    combo boxes, check and radio buttons, tables; widgets in ``skip`` left out).
    Controls made later (a table's rows for a new network) need their own signal."""
    for widget in root.findChildren(QWidget):
        if widget in skip or any(_inside(widget, s) for s in skip):
            continue
        if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            widget.valueChanged.connect(lambda *_: changed())
        elif isinstance(widget, QAbstractSpinBox):
            continue
        elif isinstance(widget, QComboBox):
            widget.currentIndexChanged.connect(lambda *_: changed())
        elif isinstance(widget, QAbstractButton) and widget.isCheckable():
            widget.toggled.connect(lambda *_: changed())
        elif isinstance(widget, QTableWidget):
            widget.itemChanged.connect(lambda *_: changed())


def _inside(widget: QWidget, ancestor: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parentWidget()
    return False
