"""The mouse wheel changes a value only in the control that has the keyboard focus.

Scrolling a panel full of spin boxes must scroll the panel: a spin box, a combo box or a
slider that merely sits under the pointer would otherwise take the wheel and change its
value without the user noticing (Octave scale 1.30 became 1.00 that way). Image editors
(Krita, darktable) and Qt Creator do what this does: such controls get ``StrongFocus``
(a wheel turn does not focus them) and an application-wide event filter hands a wheel
event over an unfocused one to its parent, so the scroll area around it scrolls. Click or
Tab into a control and the wheel steps it as before.

One mechanism for the whole application: :func:`install` puts the filter on the
QApplication (the window does it when it is built), so every form, dialog and table cell
widget is covered, today's and tomorrow's.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollBar,
    QWidget,
)

#: the controls whose value a wheel turn changes
GUARDED = (QAbstractSpinBox, QComboBox, QAbstractSlider)


def guarded_control(widget: QObject | None) -> QWidget | None:
    """The value control that ``widget`` is (or is part of: a spin box's line edit), or
    None. Scroll bars are not guarded: the wheel is what they are for."""
    while isinstance(widget, QWidget):
        if isinstance(widget, QScrollBar):
            return None
        if isinstance(widget, GUARDED):
            return widget
        if widget.isWindow():
            return None
        widget = widget.parentWidget()
    return None


class WheelGuard(QObject):
    """The application-wide filter (see the module's docstring)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind == QEvent.Type.Polish and isinstance(watched, GUARDED):
            if not isinstance(watched, QScrollBar):
                # WheelFocus (the spin boxes' default) would focus the control on the
                # first wheel turn, and the turn would then change it
                if watched.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                    watched.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            return False
        if kind != QEvent.Type.Wheel or not isinstance(watched, QWidget):
            return False
        control = guarded_control(watched)
        if control is None or control.hasFocus() or control.isWindow():
            return False
        parent = control.parentWidget()
        if parent is None:
            return False
        _pass_up(parent, watched, event)  # type: ignore[arg-type]
        event.accept()  # handled: Qt must not offer it to the control (or its parents) again
        return True  # the control itself never sees it


def _pass_up(first: QWidget, source: QWidget, wheel: QWheelEvent) -> None:
    """Offer the wheel turn to ``first`` and its parents, at the same place on screen,
    until one takes it (the nearest scroll area). Qt does this itself only for the events
    that come from the system, so the guard does it for the turns it takes away."""
    widget: QWidget | None = first
    point = wheel.position().toPoint()
    while widget is not None:
        forwarded = QWheelEvent(
            source.mapTo(widget, point).toPointF()
            if _is_ancestor(widget, source)
            else widget.mapFromGlobal(wheel.globalPosition().toPoint()).toPointF(),
            wheel.globalPosition(),
            wheel.pixelDelta(),
            wheel.angleDelta(),
            wheel.buttons(),
            wheel.modifiers(),
            wheel.phase(),
            wheel.inverted(),
            wheel.source(),
            wheel.pointingDevice(),
        )
        QApplication.sendEvent(widget, forwarded)
        if forwarded.isAccepted() or widget.isWindow():
            return
        widget = widget.parentWidget()


def _is_ancestor(widget: QWidget, child: QWidget) -> bool:
    parent = child.parentWidget()
    while parent is not None:
        if parent is widget:
            return True
        parent = parent.parentWidget()
    return False


_guard: WheelGuard | None = None


def install(app: QApplication | None = None) -> WheelGuard:
    """Put the guard on the application (once; later calls return it)."""
    global _guard
    app = app or QApplication.instance()
    if _guard is None:
        _guard = WheelGuard()
    if app is not None and not app.property("cnnstudioWheelGuard"):
        app.installEventFilter(_guard)
        app.setProperty("cnnstudioWheelGuard", True)
    return _guard
