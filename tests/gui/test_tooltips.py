"""Every control in the window has a tooltip: a test walks the widget tree of every tab
and names the controls without one (about 87 of 141 had none)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QScrollBar,
    QTabBar,
    QWidget,
)

from cnnstudio.gui.widgets.image_view import ImageView

CONTROLS = (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QAbstractSlider,
    QLineEdit,
    QAbstractItemView,
    ImageView,
)

#: controls whose tooltips are still to be written, as "tab/objectName" (or
#: "tab/Class:text" for a control without a name). Keep it empty: it exists so that a tab
#: another branch is finishing can be listed for a while (the second assertion below says
#: when an entry is done and must go).
TO_DO: set[str] = set()


def _inside(widget: QWidget, kinds: tuple) -> bool:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, kinds):
            return True
        parent = parent.parentWidget()
    return False


def controls_without_tooltip(root: QWidget) -> list[str]:
    missing = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, CONTROLS) or isinstance(widget, QScrollBar):
            continue
        # parts of another control: a spin box's line edit, a combo box's list, a
        # table's own buttons, the tab bar's scroll arrows, a line edit's clear button
        if _inside(widget, (QAbstractSpinBox, QComboBox, QTabBar, QLineEdit)):
            continue
        if isinstance(widget, QHeaderView) or widget.objectName().startswith("qt_"):
            continue  # Qt's own parts: table headers and corner buttons, the menu arrow
        if widget.toolTip().strip():
            continue
        missing.append(_name(widget))
    return sorted(missing)


def _tab_of(widget: QWidget) -> str:
    parent = widget
    while parent is not None:
        key = getattr(parent, "settings_key", None)
        if isinstance(key, str) and key:
            return key
        parent = parent.parentWidget()
    return "window"


def _name(widget: QWidget) -> str:
    label = widget.objectName() or (
        f"{type(widget).__name__}:{widget.text()}"
        if hasattr(widget, "text")
        else type(widget).__name__
    )
    return f"{_tab_of(widget)}/{label}"


def test_every_control_has_a_tooltip(window):
    window.show()
    missing = [name for name in controls_without_tooltip(window) if name not in TO_DO]
    assert missing == [], f"{len(missing)} controls without a tooltip: {missing}"
    fixed = TO_DO - set(controls_without_tooltip(window))
    assert not fixed, f"these have tooltips now: take them off TO_DO: {sorted(fixed)}"


def test_the_walk_finds_a_control_without_a_tooltip(qtbot):
    from PySide6.QtWidgets import QPushButton, QVBoxLayout

    root = QWidget()
    qtbot.addWidget(root)
    layout = QVBoxLayout(root)
    with_tip = QPushButton("Run")
    with_tip.setToolTip("Start")
    layout.addWidget(with_tip)
    bare = QPushButton("Bare")
    bare.setObjectName("bareButton")
    layout.addWidget(bare)
    assert controls_without_tooltip(root) == ["window/bareButton"]
