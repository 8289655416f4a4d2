"""Python's cycle collector, run by the GUI thread only, in small steps, over a heap whose
long-lived part is frozen.

Two reasons, both measured (``bench/bench_stalls.py``, the StallWatchdog):

- Safety. Left automatic, the collector runs in whichever thread allocates, often a job's
  worker building a network; collecting a cycle that holds Qt widgets there destroys them
  off the GUI thread, and Qt deadlocks (seen: a QMenu's destructor in the GUI thread
  waiting on a mutex while the worker, deleting a QObject, waited for the interpreter).
  So automatic collection is off and a GUI-thread timer collects.
- Stalls. A collection holds the interpreter, so the window freezes while it runs. With
  TensorFlow loaded the heap holds ~300,000 tracked objects that never become garbage: a
  full collection scanned them all (~110 ms quiet, 200+ ms on a busy machine), and a
  timer every 0.5 s let a worker's allocations pile up into 50 ms young collections. So
  the timer looks often (every 50 ms: a young collection is then small), and
  :func:`freeze_heap` moves everything alive into the permanent generation once
  TensorFlow is imported (``gc.freeze``): later collections scan only what came after.

What a freeze costs: garbage cycles that exist at that moment are never freed. Right after
importing TensorFlow there are next to none (a full collection then finds 0), which is
why that is the moment to freeze.

And no full collection while a job runs: what a session builds after the freeze (networks,
compiled steps) is scanned by a full collection, which can pass 100 ms on a busy machine;
so while any JobRunner has a job (:func:`job_started`/:func:`job_ended`) the collector
stops at the middle generation, and the oldest one waits until the jobs have ended.
"""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QTimer

#: how often the GUI thread looks whether a generation is over its threshold
INTERVAL_MS = 50

_collector: GuiGarbageCollector | None = None
_jobs_running = 0  # touched in the GUI thread only (JobRunner's start and end)
_freeze_lock = threading.Lock()
_frozen_once = False


class GuiGarbageCollector(QObject):
    """Collect on a GUI-thread timer with Python's own thresholds (700, 10, 10)."""

    def __init__(self, interval_ms: int = INTERVAL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        young, middle, old = gc.get_count()
        if young <= self.threshold[0]:
            return
        if middle <= self.threshold[1]:
            gc.collect(0)
        elif old <= self.threshold[2] or _jobs_running > 0:
            gc.collect(1)
        else:
            gc.collect(2)  # everything but the frozen heap, between jobs


def collect_garbage_in_gui_thread() -> GuiGarbageCollector:
    """Start the GUI-thread collector (once; call after the QApplication exists)."""
    global _collector
    if _collector is None:
        _collector = GuiGarbageCollector()
    return _collector


def job_started() -> None:
    """A JobRunner started a job: hold full collections back until it ends."""
    global _jobs_running
    _jobs_running += 1


def job_ended() -> None:
    """A JobRunner's job ended."""
    global _jobs_running
    _jobs_running = max(_jobs_running - 1, 0)


def jobs_running() -> int:
    return _jobs_running


def freeze_heap() -> bool:
    """Freeze what is alive now (``gc.freeze``), once per process: call it right after
    TensorFlow is imported. Safe from any thread (nothing is collected or finalised).
    True if this call froze."""
    global _frozen_once
    with _freeze_lock:
        if _frozen_once:
            return False
        _frozen_once = True
    gc.freeze()
    return True
