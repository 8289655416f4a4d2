"""The wheel scrolls a panel and never changes a control that merely sits under the pointer
(Octave scale went from 1.30 to 1.00 while a user scrolled the Dream panel)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QScrollArea


def wheel(widget, notches: int = -1) -> QWheelEvent:
    """A real wheel turn over the middle of ``widget`` (negative: towards the user)."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)
    return event


def scroll_area_of(widget) -> QScrollArea:
    parent = widget.parentWidget()
    while not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    return parent


def test_wheel_over_an_unfocused_spin_box_scrolls_the_panel(qtbot, active_window):
    window = active_window
    dream = window.tab_by_key("dream")
    window.tabs.setCurrentWidget(dream)
    window.resize(1000, 420)  # the Dream panel does not fit: it scrolls
    spin = dream.form.octave_scale_spin
    assert spin.value() == 1.30
    bar = scroll_area_of(spin).verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    bar.setValue(bar.maximum() // 2)
    spin.ensurePolished()
    assert spin.focusPolicy() == Qt.FocusPolicy.StrongFocus  # the wheel does not focus it
    dream.run_button.setFocus()
    before = bar.value()

    wheel(spin.lineEdit(), notches=-1)  # the pointer is over its text, as it usually is
    assert spin.value() == 1.30
    assert bar.value() > before  # the panel scrolled instead
    for combo in (dream.form.objective_combo, dream.form.backbone_combo):
        index = combo.currentIndex()
        wheel(combo, notches=-1)
        assert combo.currentIndex() == index

    spin.setFocus()  # clicked or tabbed into: now the wheel steps it
    qtbot.waitUntil(spin.hasFocus)
    wheel(spin, notches=-1)
    assert round(spin.value(), 2) == 1.25


def test_the_guard_covers_table_cell_widgets(qtbot, window):
    style = window.tab_by_key("style")
    import numpy as np

    style.add_style(np.full((40, 40, 3), 100, np.uint8), "grey")
    blend = style.pictures.style_table.cellWidget(0, 1)
    wheel(blend, notches=1)
    assert blend.value() == 1.0
