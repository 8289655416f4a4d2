"""Helpers of the Classify tab tests: find a control, read a column, wait for a run."""

from __future__ import annotations

from PySide6.QtWidgets import QTableWidget

TIMEOUT_MS = 60_000


def child(tab, kind, name):
    widget = tab.findChild(kind, name)
    assert widget is not None, f"no {kind.__name__} named {name}"
    return widget


def column(table: QTableWidget, col: int) -> list[str]:
    return [table.item(row, col).text() for row in range(table.rowCount())]


def run_and_wait(qtbot, tab, action):
    with qtbot.waitSignal(tab.runner.done, timeout=TIMEOUT_MS):
        action()
    assert not tab.runner.running
