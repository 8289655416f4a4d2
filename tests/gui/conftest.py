"""Helpers for GUI tests: drag and drop files the way a file manager does."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget


def _drop_files(widget: QWidget, paths) -> QDropEvent:
    """A drag entering ``widget`` with file URLs, then the drop (Qt delivers a drop only
    to the widget that accepted the drag)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the QPoint overload is fine
        enter = QDragEnterEvent(
            QPoint(10, 10),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
    QApplication.sendEvent(widget, enter)
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    drop.setAccepted(False)
    QApplication.sendEvent(widget, drop)
    return drop


@pytest.fixture
def drop_files():
    """``drop_files(widget, [paths])``: returns the QDropEvent (``isAccepted()``)."""
    return _drop_files


@pytest.fixture
def digits_npz(tmp_path):
    """``digits_npz(train, test, classes)``: a .npz of random 28x28 "digits" (x_train,
    y_train, x_test, y_test) in the test's folder, for runs that only need to train."""

    def make(train: int, test: int, classes: int) -> Path:
        rng = np.random.default_rng(0)
        path = tmp_path / "digits.npz"
        np.savez(
            path,
            x_train=rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
            y_train=rng.integers(0, classes, train),
            x_test=rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
            y_test=rng.integers(0, classes, test),
        )
        return path

    return make


@pytest.fixture
def stop_motion_at_first(monkeypatch):
    """``stop_motion_at_first(runner, kind, press_stop)``: the next motion job (Dream or
    Style over frames) waits after its first event of ``kind`` (FrameSaved, FrameProgress)
    until ``press_stop()`` has run in the GUI thread, as a person pressing Stop at that
    moment would. Returns ``undo()``: the real job again, and no more stopping."""
    import threading

    from cnnstudio.gui.tabs.motion import jobs

    def hold(runner, kind, press_stop):
        released = threading.Event()
        real_job = jobs.motion_events

        def held(*args, **kwargs):
            job = real_job(*args, **kwargs)
            try:
                event = next(job)
                while True:
                    yield event
                    if isinstance(event, kind):
                        released.wait(30)
                    event = next(job)
            except StopIteration as stop:
                return stop.value
            finally:
                job.close()

        def stop_there(event):
            if isinstance(event, kind):
                press_stop()
                released.set()

        def undo():
            runner.progress.disconnect(stop_there)
            monkeypatch.setattr(jobs, "motion_events", real_job)

        monkeypatch.setattr(jobs, "motion_events", held)
        runner.progress.connect(stop_there)
        return undo

    return hold


@pytest.fixture(scope="session", autouse=True)
def garbage_collected_in_gui_thread(qapp):
    """As in the app (cnnstudio.gui.app.create_app): cycles holding Qt objects left by one
    test must not be collected later by a job's worker thread, which deadlocks Qt."""
    from cnnstudio.gui.app import favour_the_gui_thread
    from cnnstudio.gui.garbage import collect_garbage_in_gui_thread

    collect_garbage_in_gui_thread()
    favour_the_gui_thread()  # the app's interpreter switch interval, for the stall tests


@pytest.fixture
def window(qtbot):
    """The main window as the app opens it, without the background device detection."""
    from cnnstudio.gui.main_window import MainWindow

    win = MainWindow(detect_device=False)
    qtbot.addWidget(win)
    yield win
    win.close()


@pytest.fixture
def active_window(qtbot, window):
    """The main window shown and active: key presses go through its shortcuts."""
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    return window


def _press_paste(qtbot, widget: QWidget) -> None:
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)


@pytest.fixture
def press_paste(qtbot):
    """``press_paste(widget)``: a real Ctrl+V on ``widget`` (focused first), as a person
    presses it: it reaches the tab through the window's shortcut map."""
    return lambda widget: _press_paste(qtbot, widget)


@pytest.fixture(autouse=True)
def unsaved_questions(monkeypatch):
    """The Save / Discard / Cancel question never blocks a test: it is recorded as
    ``(message, can_save)`` and answered from ``answers`` (default: discard). A test that
    checks the question reads the list and may push answers."""
    from cnnstudio.gui.widgets import dialogs

    class Questions(list):
        answers: list[str]

    asked = Questions()
    asked.answers = []

    def ask(parent, message, can_save, title=dialogs.APP_TITLE):
        asked.append((message, can_save))
        return asked.answers.pop(0) if asked.answers else dialogs.DISCARD

    monkeypatch.setattr(dialogs, "ask_unsaved_work", ask)
    return asked
