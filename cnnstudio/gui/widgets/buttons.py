"""Named push buttons: tests and the tooltip check find every button by its objectName."""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton


def named_button(text: str, name: str, tip: str = "") -> QPushButton:
    """A push button with an objectName and a tooltip."""
    button = QPushButton(text)
    button.setObjectName(name)
    button.setToolTip(tip)
    return button
