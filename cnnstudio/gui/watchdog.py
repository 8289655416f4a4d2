"""A stall watchdog for the GUI thread: every gap over a threshold, with what caused it.

A timer in the GUI thread ticks every ``tick_ms``; a sampler thread looks every few
milliseconds how long ago the last tick was, and while the GUI thread is late it takes
stack samples of every thread (the GUI thread's own stack says what it was doing; the
others say who held the interpreter, e.g. a worker importing TensorFlow). Python's garbage
collections are recorded too (``gc.callbacks``), with their generation, thread and
duration, because a full collection of a heap holding TensorFlow's objects is a classic
stall that no stack sample can see (the collector holds the interpreter throughout).

Used by tests (a job's start must not stall the window more than a generous bound) and by
``bench/bench_stalls.py`` (the 100 ms goal, per tab, with the causes). For native code that
holds the interpreter lock, sample from outside with py-spy (``py-spy dump --native``).
"""

from __future__ import annotations

import gc
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer


@dataclass
class Collection:
    """One run of Python's cycle collector."""

    start: float  # time.perf_counter()
    seconds: float
    generation: int
    thread: str


@dataclass
class Stall:
    """A gap between two ticks of the GUI-thread timer longer than the threshold."""

    start: float  # time.perf_counter() of the last tick before the gap
    seconds: float
    gui_cpu_seconds: float = 0.0  # CPU time the GUI thread itself used in the gap
    #: time the GUI thread was ready to run but had no CPU (Linux schedstat; 0 elsewhere)
    gui_runqueue_seconds: float = 0.0
    samples: list[dict[str, str]] = field(default_factory=list)  # thread name -> stack
    collections: list[Collection] = field(default_factory=list)  # collections in the gap

    @property
    def milliseconds(self) -> float:
        return self.seconds * 1000.0

    @property
    def gui_busy(self) -> float:
        """Share of the gap the GUI thread spent working (collections, painting, slots)
        rather than waiting (for the interpreter lock, or for a loaded machine's CPU)."""
        return min(self.gui_cpu_seconds / self.seconds, 1.0) if self.seconds > 0 else 0.0

    @property
    def gui_blocked(self) -> float:
        """Share of the gap the GUI thread could not run for want of a lock, mostly the
        interpreter lock a worker held: neither working nor waiting for a CPU. (Linux;
        elsewhere the wait for a CPU is counted here too.)"""
        if self.seconds <= 0:
            return 0.0
        rest = self.seconds - self.gui_cpu_seconds - self.gui_runqueue_seconds
        return min(max(rest / self.seconds, 0.0), 1.0)

    def gui_frames(self) -> list[str]:
        """The innermost line of the GUI thread's stack in each sample."""
        return [
            sample["MainThread"].strip().splitlines()[-1].strip()
            for sample in self.samples
            if sample.get("MainThread", "").strip()
        ]

    def describe(self) -> str:
        """A short report: length, collections, and the most frequent GUI-thread frames."""
        lines = [
            f"stall of {self.milliseconds:.0f} ms "
            f"(GUI thread working {self.gui_busy:.0%} of it, blocked on a lock "
            f"{self.gui_blocked:.0%}, waiting for a CPU the rest)"
        ]
        for c in self.collections:
            lines.append(f"  gc generation {c.generation} in {c.thread}: {c.seconds * 1000:.0f} ms")
        for frame, count in Counter(self.gui_frames()).most_common(3):
            lines.append(f"  GUI thread x{count}: {frame}")
        others = Counter(
            stack.strip().splitlines()[-1].strip()
            for sample in self.samples
            for name, stack in sample.items()
            if name != "MainThread" and stack.strip()
        )
        for frame, count in others.most_common(3):
            lines.append(f"  other threads x{count}: {frame}")
        return "\n".join(lines)


class StallWatchdog(QObject):
    """``with StallWatchdog() as dog: ...`` (or ``start()``/``stop()``) in the GUI thread;
    afterwards ``dog.stalls`` lists the gaps over ``threshold_ms`` and ``dog.longest_ms``
    the longest gap seen at all."""

    def __init__(self, threshold_ms: float = 100.0, tick_ms: int = 10, parent=None) -> None:
        super().__init__(parent)
        self.threshold = threshold_ms / 1000.0
        self.stalls: list[Stall] = []
        self.collections: list[Collection] = []
        self.longest_ms = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self._tick)
        self._last_tick = 0.0
        self._last_cpu = 0.0
        self._last_runqueue = 0.0
        self._samples: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._sampler: threading.Thread | None = None
        self._gc_started: dict[int, float] = {}

    # ------------------------------------------------------------------ start and stop

    def start(self) -> None:
        self.stalls.clear()
        self.collections.clear()
        self.longest_ms = 0.0
        self._last_tick = time.perf_counter()
        self._last_cpu = time.thread_time()
        self._last_runqueue = _runqueue_seconds()
        self._running.set()
        gc.callbacks.append(self._on_gc)
        self._sampler = threading.Thread(
            target=self._sample_loop, name="cnnstudio-stall-sampler", daemon=True
        )
        self._sampler.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._running.clear()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._sampler is not None:
            self._sampler.join(timeout=2.0)
            self._sampler = None

    def __enter__(self) -> StallWatchdog:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def report(self) -> str:
        """Every stall, longest first."""
        stalls = sorted(self.stalls, key=lambda s: s.seconds, reverse=True)
        return "\n".join(s.describe() for s in stalls) or "no stalls"

    # ------------------------------------------------------------------ measuring

    def _tick(self) -> None:
        now = time.perf_counter()
        cpu = time.thread_time()  # this (the GUI) thread's own CPU time
        runqueue = _runqueue_seconds()
        gap = now - self._last_tick
        gap_cpu = cpu - self._last_cpu
        gap_runqueue = runqueue - self._last_runqueue
        self.longest_ms = max(self.longest_ms, gap * 1000.0)
        with self._lock:
            samples, self._samples = self._samples, []
        if gap > self.threshold:
            start = self._last_tick
            collections = [c for c in self.collections if start <= c.start <= now]
            self.stalls.append(Stall(start, gap, gap_cpu, gap_runqueue, samples, collections))
        self._last_tick = now
        self._last_cpu = cpu
        self._last_runqueue = runqueue

    def _sample_loop(self) -> None:
        gui_ident = threading.main_thread().ident
        names = {}
        while self._running.is_set():
            time.sleep(0.005)
            late = time.perf_counter() - self._last_tick
            if late < self.threshold / 2:
                continue
            names = {t.ident: t.name for t in threading.enumerate()}
            sample = {}
            for ident, frame in sys._current_frames().items():
                if ident == threading.get_ident():
                    continue
                name = "MainThread" if ident == gui_ident else names.get(ident, str(ident))
                sample[name] = "".join(traceback.format_stack(frame, limit=12))
            with self._lock:
                if len(self._samples) < 200:
                    self._samples.append(sample)

    def _on_gc(self, phase: str, info: dict) -> None:
        ident = threading.get_ident()
        if phase == "start":
            self._gc_started[ident] = time.perf_counter()
            return
        started = self._gc_started.pop(ident, None)
        if started is None:
            return
        thread = threading.current_thread().name
        self.collections.append(
            Collection(
                started, time.perf_counter() - started, int(info.get("generation", -1)), thread
            )
        )


def _runqueue_seconds() -> float:
    """How long the calling thread has waited, ready to run, for a CPU (Linux's
    /proc/.../schedstat, second field, in ns); 0.0 where the kernel does not say."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0
