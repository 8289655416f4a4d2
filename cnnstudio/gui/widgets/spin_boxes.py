"""Named spin boxes: every form builds its numeric controls with these two helpers."""

from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox


def spin_box(minimum: int, maximum: int, value: int, name: str, tip: str = "") -> QSpinBox:
    """An integer spin box with an objectName (tests and settings find it by name)."""
    box = QSpinBox()
    box.setRange(minimum, maximum)
    box.setValue(value)
    box.setObjectName(name)
    box.setToolTip(tip)
    return box


def double_spin_box(
    minimum: float,
    maximum: float,
    value: float,
    step: float,
    decimals: int,
    name: str,
    tip: str = "",
) -> QDoubleSpinBox:
    """A decimal spin box with an objectName."""
    box = QDoubleSpinBox()
    box.setDecimals(decimals)  # first: Qt rounds the range to the decimals it has
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setValue(value)
    box.setObjectName(name)
    box.setToolTip(tip)
    return box
