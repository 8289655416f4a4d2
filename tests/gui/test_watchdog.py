"""The stall watchdog sees GUI-thread gaps and says what the GUI thread was doing."""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QTimer

from cnnstudio.gui.watchdog import StallWatchdog


def _blocks_the_gui_thread() -> None:
    time.sleep(0.3)


def test_a_blocked_gui_thread_is_a_stall_with_its_stack(qtbot):
    with StallWatchdog(threshold_ms=100) as dog:
        qtbot.wait(30)
        QTimer.singleShot(0, _blocks_the_gui_thread)
        qtbot.waitUntil(lambda: bool(dog.stalls), timeout=5000)
    stall = max(dog.stalls, key=lambda s: s.seconds)
    assert stall.milliseconds >= 290
    assert dog.longest_ms >= stall.milliseconds
    assert any("_blocks_the_gui_thread" in sample["MainThread"] for sample in stall.samples)
    assert "stall of" in dog.report() and "time.sleep(0.3)" in stall.describe()


def test_collections_are_recorded_with_their_thread(qtbot):
    with StallWatchdog(threshold_ms=100) as dog:
        gc.collect()
    assert any(c.generation == 2 and c.thread == "MainThread" for c in dog.collections)
    assert gc.callbacks.count(dog._on_gc) == 0  # stop() unhooks it


def _works_the_gui_thread() -> None:
    start = time.thread_time()
    while time.thread_time() - start < 0.3:  # 0.3 s of this thread's own CPU time
        sum(range(1000))


def test_a_stall_says_whether_the_gui_thread_worked_or_waited(qtbot):
    with StallWatchdog(threshold_ms=100) as dog:
        qtbot.wait(30)
        QTimer.singleShot(0, _works_the_gui_thread)
        qtbot.waitUntil(lambda: bool(dog.stalls), timeout=10_000)
        QTimer.singleShot(0, _blocks_the_gui_thread)  # sleeping: waiting, not working
        qtbot.waitUntil(lambda: len(dog.stalls) >= 2, timeout=10_000)
    worked = max(dog.stalls, key=lambda s: s.gui_cpu_seconds)
    assert worked.gui_cpu_seconds >= 0.29
    slept = [s for s in dog.stalls if s is not worked]
    assert slept and min(s.gui_busy for s in slept) < 0.5


def test_a_gui_thread_blocked_on_a_lock_is_told_from_one_waiting_for_a_cpu(qtbot):
    """The GUI thread waits for a lock a worker holds (as it waits for the interpreter
    lock while a worker holds it): the stall is 'blocked', not 'working' nor 'waiting
    for a CPU', which is what the regression test bounds tightly."""
    import threading

    lock = threading.Lock()
    taken = threading.Event()

    def holder() -> None:
        with lock:
            taken.set()
            time.sleep(0.3)

    def waits_for_the_lock() -> None:
        with lock:
            pass

    with StallWatchdog(threshold_ms=100) as dog:
        qtbot.wait(30)
        threading.Thread(target=holder, daemon=True).start()
        assert taken.wait(5)
        QTimer.singleShot(0, waits_for_the_lock)
        qtbot.waitUntil(lambda: bool(dog.stalls), timeout=5000)
    stall = max(dog.stalls, key=lambda s: s.seconds)
    assert stall.gui_blocked > 0.5 and stall.gui_busy < 0.5
    assert "blocked on a lock" in stall.describe()
