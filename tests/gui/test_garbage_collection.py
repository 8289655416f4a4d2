"""Python's cycle collector runs only in the GUI thread (cnnstudio.gui.app): collected in a
job's worker thread, a cycle holding Qt widgets is destroyed off the GUI thread and Qt
deadlocks (a full test run hung that way once)."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QWidget

from cnnstudio.gui.garbage import collect_garbage_in_gui_thread


class _Holder:
    pass


def test_cycles_holding_widgets_are_collected_by_the_gui_thread(qtbot):
    collect_garbage_in_gui_thread()
    assert not gc.isenabled()  # no automatic collection in whatever thread allocates
    # start from a quiet heap: widgets earlier tests left to deleteLater would otherwise
    # be freed while we wait below, and their deallocations lower the young count that
    # the churn must keep over its threshold (the test failed after the fault tests)
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()

    collected_in = []
    holder = _Holder()
    holder.widget = QWidget()
    holder.self = holder  # a reference cycle only the collector can free
    weakref.finalize(holder, lambda: collected_in.append(threading.current_thread().name))
    del holder

    def busy_worker():  # allocates plenty, as a job does; must not collect the cycle
        junk = [[] for _ in range(50_000)]
        del junk

    worker = threading.Thread(target=busy_worker)
    worker.start()
    worker.join()
    assert collected_in == []

    # push generation 0 over its threshold, and keep it there until the GUI timer looks
    # (freeing the lists first would bring the count back down; so would the objects an
    # earlier test left for Qt to delete, which the wait frees: a margin of many times
    # the threshold keeps the count above it)
    churn = [[] for _ in range(20_000)]
    qtbot.waitUntil(lambda: bool(collected_in), timeout=10_000)
    del churn
    assert collected_in == [threading.main_thread().name]


def test_no_full_collection_while_a_job_runs(qtbot, monkeypatch):
    """A full collection scans all a session built since the freeze (networks, compiled
    steps): it waits until no job runs, so it cannot stall a job's start or run."""
    from cnnstudio.gui import garbage

    collector = garbage.GuiGarbageCollector(interval_ms=10_000)
    calls = []
    monkeypatch.setattr(garbage.gc, "get_count", lambda: (5_000, 50, 50))  # all over
    monkeypatch.setattr(garbage.gc, "collect", lambda generation=2: calls.append(generation))
    garbage.job_started()
    try:
        collector.check()
    finally:
        garbage.job_ended()
    collector.check()
    assert calls == [1, 2]
    assert garbage.jobs_running() == 0
