"""Run core jobs on worker threads and bring their events back to the GUI thread.

One :class:`JobRunner` per tab. It runs a core generator job (dream, style), a callback job
(fast style training: ``fn(..., on_event=, should_stop=)``) or a plain function (device
detection, weights import) on a private one-thread ``QThreadPool`` and re-emits everything
as signals of the runner, always from the GUI thread. A callback job can also run in a
process of its own (the Train tab's runs: :mod:`cnnstudio.core.child_process`); the pool
thread then only passes its events on, and the job never holds this process's GIL:

``started`` -> ``progress``/``preview``/``notice`` ... -> one of ``finished(result)``,
``failed(message)``, ``stopped()`` -> ``done()`` (always last).

Previews take a "latest wins" path: the worker thread drops each Preview into a
lock-protected slot and signals "a frame is ready" only when none is pending, so a GUI
that falls behind skips frames instead of building a backlog. Stop is cooperative: a
generator is closed at its next ``yield`` (in the worker thread, so its ``finally`` blocks
run there); a callback job sees ``should_stop()`` turn true.

The worker is a plain ``QRunnable``, not one of superqt's workers: superqt's
``WorkerBase.run()`` emits no ``finished`` when a job fails with a ``RuntimeError`` (as a
missing-weights :class:`~cnnstudio.core.errors.ResourceMissingError` does: the window would
wait forever) or a ``BaseException``, and it replaces the process-wide
``warnings.showwarning`` from the worker thread; its ``GeneratorWorker`` neither closes the
generator in the worker thread nor lets a preview skip the queue.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal, Slot

from cnnstudio.core import child_process
from cnnstudio.core.errors import StudioError
from cnnstudio.core.events import Notice, Preview
from cnnstudio.gui import garbage, messages
from cnnstudio.gui.garbage import freeze_heap

log = logging.getLogger(__name__)


def import_tensorflow_once() -> None:
    """Import TensorFlow quietly, in one thread at a time, with GPU memory growth set before
    any job can touch a GPU (``cnnstudio.core.device.start_tensorflow``). Then the heap
    is frozen: TensorFlow's ~300,000 objects never become garbage, and a collection that
    scanned them would freeze the window for 100 ms or more (gui/garbage.py)."""
    from cnnstudio.core.device import start_tensorflow

    start_tensorflow()
    freeze_heap()


#: how long a closing window waits for a job in a process of its own to stop
PROCESS_CLOSE_GRACE_MS = 5000

#: how much nicer than the window a job's thread is (Linux "nice"; 0 = as the window)
JOB_NICENESS = child_process.NICENESS


def lower_thread_priority(niceness: int = JOB_NICENESS) -> None:
    """Make the calling (worker) thread yield the CPU to the window: a desktop's background
    work runs at a lower priority, so that on a busy machine the GUI thread still gets the
    CPU when it has something to draw. The threads TensorFlow starts from this one (its op
    pools, tf.data's) inherit it. Linux sets it per thread; elsewhere this does nothing.
    Raising niceness needs no privilege, and a thread already nicer is left alone."""
    if not sys.platform.startswith("linux") or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, niceness)
    except OSError:
        pass


class _JobSignals(QObject):
    """What a worker sends back (emitted in the worker thread, queued to the runner)."""

    event = Signal(object)  # Progress, Notice or any other non-preview event
    preview_ready = Signal()  # "the latest-preview slot holds a frame"
    errored = Signal(object)  # the exception that ended the job
    finished = Signal()  # always last, whatever happened


class _Job(QRunnable):
    """Runs one job in a pool thread and routes its events through the runner."""

    def __init__(
        self,
        kind: str,
        fn: Callable,
        args: tuple,
        kwargs: dict,
        sink: JobRunner,
        imports_tensorflow: bool = True,
        pack: Callable[[Any], Any] | None = None,
    ):
        super().__init__()
        self._pack = pack  # a process job's result, made sendable in the child
        self._child: child_process.ChildJob | None = None  # a process job's process
        self._kill_because = ""
        # created in the GUI thread, so the runner's slots are called there (queued)
        self.signals = _JobSignals()
        self._imports_tensorflow = imports_tensorflow
        self.setAutoDelete(False)  # the runner owns the lifetime, not the pool
        self._kind = kind
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._sink = sink
        self._stop_event = threading.Event()
        self.result: Any = None

    def quit(self) -> None:
        """Ask the job to stop at its next step (generator yield / should_stop poll)."""
        self._stop_event.set()

    def kill(self, because: str) -> None:
        """End a process job's process now (any thread); other jobs cannot be ended."""
        self._kill_because = because
        child = self._child
        if child is not None:
            child.kill(because)

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def stop_requested(self) -> bool:
        return self._stop_event.is_set()

    def run(self) -> None:
        """Called by the pool in the worker thread: ``finished`` always follows, after
        ``errored`` when the job raised anything at all."""
        lower_thread_priority()
        try:
            self.work()
        except BaseException as error:  # noqa: BLE001 - reported as `failed`, never lost
            self.signals.errored.emit(error)
        finally:
            self.signals.finished.emit()

    def _emit_event(self, item: object) -> None:
        if isinstance(item, Preview):
            self._sink._post_preview(item, self.signals.preview_ready)
        elif item is not None:
            self.signals.event.emit(item)

    def work(self) -> Any:
        if self._kind == "process":  # TensorFlow is the child's, not this process's
            child = child_process.start(self._fn, self._args, self._kwargs, self._pack)
            self._child = child
            if self._kill_because:  # the window closed while the child started
                child.kill(self._kill_because)
            try:
                self.result = child.pump(self._emit_event, self._stop_event.is_set)
            finally:
                child.end()
            return self.result
        if self._imports_tensorflow:
            import_tensorflow_once()
        if self._kind == "generator":
            self.result = self._run_generator()
        elif self._kind == "callbacks":
            self.result = self._fn(
                *self._args,
                on_event=self._emit_event,
                should_stop=self._stop_event.is_set,
                **self._kwargs,
            )
        else:
            self.result = self._fn(*self._args, **self._kwargs)
        return self.result

    def _run_generator(self) -> Any:
        # The generator is created here, in the worker thread, so that argument checks
        # done eagerly by the job function also land in `failed` instead of the GUI thread.
        gen: Generator = self._fn(*self._args, **self._kwargs)
        if not hasattr(gen, "send"):
            raise TypeError(f"{getattr(self._fn, '__name__', self._fn)!r} is not a generator job")
        try:
            while not self._stop_event.is_set():
                try:
                    item = next(gen)
                except StopIteration as done:
                    return done.value
                self._emit_event(item)
            return None
        finally:
            gen.close()  # runs the job's cleanup in this thread; no-op if it finished


class JobRunner(QObject):
    """Runs one job at a time for its owner (a tab) and signals back in the GUI thread."""

    started = Signal()
    progress = Signal(object)  # Progress events (and any other event object but Notice)
    preview = Signal(object)  # the latest Preview only
    notice = Signal(str)
    finished = Signal(object)  # the job's return value
    failed = Signal(str)  # a message fit for the user
    stopped = Signal()
    done = Signal()

    def __init__(
        self, name: str = "job", parent: QObject | None = None, imports_tensorflow: bool = True
    ) -> None:
        """``name`` appears in error messages ("Unexpected error in Dream: ...").
        ``imports_tensorflow``: import TensorFlow (once per process, one thread at a time)
        before each job; turn it off only for jobs that never touch it."""
        super().__init__(parent)
        self.name = name
        self.imports_tensorflow = imports_tensorflow
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pool.setExpiryTimeout(2000)  # an idle worker thread goes away soon
        self._job: _Job | None = None
        self._last_job: _Job | None = None
        self._lock = threading.Lock()
        self._latest_preview: Preview | None = None
        self._preview_pending = False
        self._error: BaseException | None = None
        #: return value of the last job (also set when a callback job was stopped)
        self.result: Any = None
        #: the exception that ended the last job (None if it did not fail)
        self.error: BaseException | None = None
        #: its message as shown, and the traceback of an unexpected error ("" if none)
        self.error_message = ""
        self.error_details = ""

    # -- public API ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True from ``run_*`` until ``done`` has been emitted."""
        return self._job is not None

    def run_generator(self, fn: Callable[..., Generator], *args: Any, **kwargs: Any) -> None:
        """Run the generator job ``fn(*args, **kwargs)``; its events become signals."""
        self._start(_Job("generator", fn, args, kwargs, self, self.imports_tensorflow))

    def run_callbacks(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, on_event=..., should_stop=..., **kwargs)`` (training jobs)."""
        self._start(_Job("callbacks", fn, args, kwargs, self, self.imports_tensorflow))

    def run_callbacks_in_process(
        self,
        fn: Callable[..., Any],
        *args: Any,
        pack: Callable[[Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Like :meth:`run_callbacks`, in a process of its own
        (:mod:`cnnstudio.core.child_process`): the job never holds this process's GIL,
        and a crash in native code ends the job, not the window. ``fn`` and ``pack`` must
        be module-level functions; ``pack`` runs in the child on the result (the
        training's model becomes a file), and the events must pickle."""
        self._start(_Job("process", fn, args, kwargs, self, False, pack))

    def run_function(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run a plain function (no events, cannot be stopped midway)."""
        self._start(_Job("function", fn, args, kwargs, self, self.imports_tensorflow))

    def stop(self) -> None:
        """Ask the running job to stop; it ends at its next step and ``stopped`` follows."""
        if self._job is not None:
            self._job.quit()

    @property
    def stopping(self) -> bool:
        """True once Stop was asked for the running job."""
        return self._job is not None and self._job.stop_requested

    def kill(self, because: str) -> None:
        """End a job in a process of its own now (Force stop); ``failed`` follows with a
        ProcessEndedError that says ``because``. Jobs on this process's threads cannot
        be ended this way (only stopped)."""
        if self._job is not None:
            self._job.kill(because)

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the worker thread has exited (``-1``: no limit), then deliver the
        pending signals so that ``done`` has been emitted when this returns True."""
        finished = self._pool.waitForDone(timeout_ms)
        if finished:
            QCoreApplication.sendPostedEvents(self, 0)
        return finished

    def shutdown(self, timeout_ms: int = -1) -> bool:
        """Stop and wait: for a window that is closing. A job in a process of its own
        that has not ended ``PROCESS_CLOSE_GRACE_MS`` after Stop is ended (a training
        run's folder keeps its last finished epoch for Resume)."""
        self.stop()
        job = self._job
        if job is not None and job.kind == "process" and not self.wait(PROCESS_CLOSE_GRACE_MS):
            job.kill("the window closed while it ran")
        return self.wait(timeout_ms)

    # -- internals ----------------------------------------------------------------------

    def _start(self, job: _Job) -> None:
        if self._job is not None:
            raise RuntimeError(f"{self.name}: a job is already running; stop it first")
        # The previous job's thread may still be leaving run() after its `finished`
        # reached us. waitForDone also ends the pool's threads, so every job gets a new
        # thread: a thread reused after a stopped training job kept TensorFlow's
        # thread-local graph state and the next job segfaulted building its tf.data
        # pipeline (seen when Resume followed Stop, and with a start that did not wait).
        # On a busy machine this wait can stall the window (the README's stalls section).
        self._pool.waitForDone()
        self._job = job
        self._error = None
        self.result = None
        self.error = None
        self.error_message = ""
        self.error_details = ""
        with self._lock:
            self._latest_preview = None
            self._preview_pending = False
        job.signals.event.connect(self._on_event)
        job.signals.preview_ready.connect(self._on_preview_ready)
        job.signals.errored.connect(self._on_errored)
        job.signals.finished.connect(self._on_finished)
        garbage.job_started()  # no full collection while it runs (gui/garbage.py)
        self.started.emit()
        self._pool.start(job)

    def _post_preview(self, preview: Preview, ready_signal: Any) -> None:
        """Worker thread: replace the pending frame; signal only if none was pending."""
        with self._lock:
            self._latest_preview = preview
            if self._preview_pending:
                return
            self._preview_pending = True
        ready_signal.emit()

    @Slot(object)
    def _on_event(self, event: object) -> None:
        if isinstance(event, Notice):
            self.notice.emit(event.text)
        else:
            self.progress.emit(event)

    @Slot()
    def _on_preview_ready(self) -> None:
        with self._lock:
            frame = self._latest_preview
            self._latest_preview = None
            self._preview_pending = False
        if frame is not None:
            self.preview.emit(frame)

    @Slot(object)
    def _on_errored(self, error: BaseException) -> None:
        self._error = error

    @Slot()
    def _on_finished(self) -> None:
        job = self._job
        if job is None:  # already reported (signals flushed twice)
            return
        self._on_preview_ready()  # deliver a frame still waiting in the slot
        self._job = None
        garbage.job_ended()
        self._last_job = job  # keep the runnable alive until its thread has surely left it
        for signal in (
            job.signals.event,
            job.signals.preview_ready,
            job.signals.errored,
            job.signals.finished,
        ):
            signal.disconnect()
        self.result = job.result
        try:
            if self._error is not None:
                self.failed.emit(self._describe(self._error))
            elif job.stop_requested:
                self.stopped.emit()
            else:
                self.finished.emit(job.result)
        finally:
            self.done.emit()

    def _describe(self, error: BaseException) -> str:
        self.error = error
        if isinstance(error, StudioError):
            self.error_message = messages.describe(error)
            self.error_details = ""
        else:
            self.error_message = f"Unexpected error in {self.name}: {type(error).__name__}: {error}"
            self.error_details = getattr(error, "child_traceback", "") or "".join(
                traceback.format_exception(type(error), error, error.__traceback__)
            )
            log.error("%s\n%s", self.error_message, self.error_details)
        return self.error_message
