"""Run a callback job in a process of its own, so that it never holds the window's GIL.

Why: a training run builds its graph (Keras' ``fit``, AutoGraph, TensorFlow's C++ graph
calls) in Python and in native calls that keep the interpreter lock. Run on a thread of
the window's process, that held the window for 100-200 ms as every run started, and a
crash inside TensorFlow took the window with it (the README's stalls section). In a
process of its own the job shares nothing with the window but the CPUs, where it runs at
a lower priority; and a job that does not answer can be ended.

The job is a callback job (docs/ARCHITECTURE.md): ``fn(*args, on_event=, should_stop=,
**kwargs)``. Parent and child talk over one duplex pipe:

- parent -> child: ``("job", fn, args, kwargs, pack, environ, cwd)``, later ``("stop",)``;
- child -> parent: ``("event", event)`` ..., then ``("result", value)`` or
  ``("error", error)``, after which the child leaves at once (``os._exit``: nothing is
  left to do, and TensorFlow's teardown takes a second and has crashed before).

``fn`` and ``pack`` go by reference (module-level functions); events and results are
pickled, so they must be plain data: ``pack`` (run in the child) turns a result that is
not (a Keras model) into one that is. Children are *spawned*, never forked: TensorFlow's
thread pools do not survive a fork. Spawning one and importing TensorFlow takes seconds,
so a spare can be started ahead (:func:`prepare_spare`): it imports TensorFlow and waits
for its one job. Every job gets a fresh process, as every ``cnnstudio train`` does, so no
TensorFlow state is carried from one run to the next.

Who ends a child: its job, normally; the parent, when Stop is not answered within
``STOP_GRACE_SECONDS`` or the window closes (:meth:`ChildJob.kill`); and the child itself
when the parent is gone (its end of the pipe closes): a running job is asked to stop, a
spare leaves. Ctrl+C in a terminal is the window's to handle, not the child's.

Imports no TensorFlow and no Qt (the child does, when it starts).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from cnnstudio.core.errors import StudioError

log = logging.getLogger(__name__)

#: how much nicer than the window a job's process is (where the system has "nice")
NICENESS = 5
#: how long a job may stay silent after Stop before its process is ended (a job that is
#: slow to stop in a silent phase, such as tracing a large model, is given time; the
#: window offers Force stop before that)
STOP_GRACE_SECONDS = 120.0
#: how often the parent looks at a stop request and at a child that may have died
_POLL_SECONDS = 0.05
#: how often a waiting spare looks whether its parent is still there
_SPARE_POLL_SECONDS = 0.5

_context = multiprocessing.get_context("spawn")
_spare: ChildJob | None = None
_spare_lock = threading.Lock()


class ProcessEndedError(StudioError):
    """The job's process ended without a result: killed, or crashed in native code."""


# ----------------------------------------------------------------------------- parent side


class ChildJob:
    """One child process, from spawn to reaping; :meth:`kill` works from any thread."""

    def __init__(self, warm: bool) -> None:
        """Spawn a child; ``warm``: it imports TensorFlow before its job comes (a spare)."""
        _ensure_cwd()  # spawning reads it, and a deleted folder made that fail
        self.conn, child_end = _context.Pipe(duplex=True)
        self.process = _context.Process(
            target=_child_main, args=(child_end, NICENESS, warm), name="cnnstudio-job", daemon=True
        )
        self.process.start()
        child_end.close()  # the child holds its own copy: EOF here when it dies
        self.killed_because = ""

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    def send_job(self, fn, args, kwargs, pack) -> None:
        """Hand the job over, with the window's environment and folder as they are now."""
        self.conn.send(("job", fn, args, kwargs, pack, dict(os.environ), _ensure_cwd()))

    def kill(self, because: str = "it was ended") -> None:
        """End the child now (a Stop not answered, a window that is closing)."""
        if self.process.is_alive():
            self.killed_because = because
            self.process.kill()

    def pump(
        self,
        on_event: Callable[[object], None],
        should_stop: Callable[[], bool],
        stop_grace: float = STOP_GRACE_SECONDS,
    ) -> Any:
        """Pass events on until the result comes; raise the job's error, or
        ProcessEndedError when the child ended without either."""
        stop_sent_at: float | None = None
        heard_at = time.monotonic()
        while True:
            # asked at every turn: a job that sends events all the time must still stop
            if stop_sent_at is None and should_stop():
                stop_sent_at = heard_at = time.monotonic()
                self._send_quietly(("stop",))
            if self.conn.poll(_POLL_SECONDS):
                try:
                    kind, payload = self.conn.recv()
                except (EOFError, OSError):
                    break  # the child is gone: said below
                heard_at = time.monotonic()
                if kind == "event":
                    on_event(payload)
                elif kind == "result":
                    return payload
                else:
                    raise payload
            elif not self.process.is_alive():
                if self.conn.poll(0):
                    continue  # it sent its result and left between two looks: read it
                break
            elif stop_sent_at is not None and time.monotonic() - heard_at > stop_grace:
                self.kill(f"it did not answer Stop within {stop_grace:.0f} s")
        self.process.join(5)
        raise ProcessEndedError(f"the job's process ended without a result ({self._how()})")

    def end(self) -> None:
        """Close the pipe and reap the child (it leaves by itself after its result)."""
        self.conn.close()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)

    def _send_quietly(self, message: tuple) -> None:
        try:
            self.conn.send(message)
        except OSError:
            pass  # the child is gone: found by the caller

    def _how(self) -> str:
        if self.killed_because:
            return f"{self.killed_because}, so it was ended"
        code = self.process.exitcode
        if code is None:
            return "it no longer answers"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"


def start(fn: Callable[..., Any], args: tuple, kwargs: dict, pack: Callable | None) -> ChildJob:
    """A child with the job handed over: the spare if one is ready, else a new one."""
    spare = _take_spare()
    if spare is not None:
        try:
            spare.send_job(fn, args, kwargs, pack)
            return spare
        except OSError:  # it died since it was looked at: a new one instead
            spare.end()
    child = ChildJob(warm=False)
    child.send_job(fn, args, kwargs, pack)
    return child


def run(
    fn: Callable[..., Any],
    args: tuple = (),
    kwargs: dict[str, Any] | None = None,
    *,
    on_event: Callable[[object], None],
    should_stop: Callable[[], bool],
    pack: Callable[[Any], Any] | None = None,
) -> Any:
    """Run ``fn(*args, on_event=, should_stop=, **kwargs)`` in a child process (the
    spare, if one was prepared) and return its result, ``pack``-ed in the child. Events
    reach ``on_event`` in this thread; ``should_stop()`` is asked here and passed on. The
    job's own exception is raised here (StudioErrors keep their fields; others carry the
    child's traceback as ``child_traceback``)."""
    child = start(fn, args, kwargs or {}, pack)
    try:
        return child.pump(on_event, should_stop)
    finally:
        child.end()


def prepare_spare() -> None:
    """Start a spare child now (if none is there) so that the next job does not wait for
    a new process to import TensorFlow. It costs a process's memory while it waits."""
    global _spare
    with _spare_lock:
        if _spare is not None and _spare.alive():
            return
        _spare = ChildJob(warm=True)


def _take_spare() -> ChildJob | None:
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is not None and spare.alive():
        return spare
    if spare is not None:
        spare.end()
    return None


def spare_pid() -> int | None:
    """The process id of the spare waiting for a job, if any (for tests and the bench)."""
    with _spare_lock:
        return _spare.pid if _spare is not None and _spare.alive() else None


def discard_spare() -> None:
    """Let the spare go (the window is closing): it holds nothing, so it is ended at once
    rather than waited for (it may be in the middle of importing TensorFlow)."""
    spare = _take_spare()
    if spare is not None:
        spare.kill()
        spare.end()


def spares_wanted() -> bool:
    """Whether front ends start spares ahead (``CNNSTUDIO_SPARE_PROCESS=0``: no; the test
    suite turns them off, as each costs a TensorFlow import, and tests them on purpose)."""
    return os.environ.get("CNNSTUDIO_SPARE_PROCESS", "1") != "0"


def _ensure_cwd() -> str:
    """The current folder, for spawning and for the job. When it was deleted since the
    window started, the home folder (the jobs use absolute paths)."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        os.chdir(Path.home())
        return os.getcwd()


# ------------------------------------------------------------------------------ child side


def _child_main(conn: Connection, niceness: int, warm: bool) -> None:
    """The child's whole life: (a spare: import TensorFlow,) wait for one job, run it,
    report, leave."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the window's to handle
    _lower_priority(niceness)
    if warm:
        from cnnstudio.core.device import start_tensorflow

        start_tensorflow()  # while the spare waits, not when the job comes
    message = _wait_for_job(conn)
    if message is not None and message[0] == "job":  # else: let go, or the window is gone
        _run_job(_Link(conn), *message[1:])
    # nothing is left to do: TensorFlow's teardown would only keep the window waiting
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _run_job(link: _Link, fn, args, kwargs, pack, environ, cwd) -> None:
    try:
        _take_environment(environ)
        os.chdir(cwd)
        value = fn(*args, on_event=link.send_event, should_stop=link.should_stop, **kwargs)
        if not link.parent_gone:  # nobody would take the packed result (a model file)
            link.send(("result", pack(value) if pack is not None else value))
    except BaseException as error:  # noqa: BLE001 - reported to the parent, never lost
        link.send(("error", _portable(error)))


def _wait_for_job(conn: Connection) -> tuple | None:
    parent = multiprocessing.parent_process()
    while True:
        try:
            if conn.poll(_SPARE_POLL_SECONDS):
                return conn.recv()
        except (EOFError, OSError):
            return None  # the parent's end closed: the window is gone
        if parent is not None and not parent.is_alive():
            return None


class _Link:
    """The child's end of the pipe while the job runs. When the parent is gone, the job
    is asked to stop (it ends the way a Stop ends it: the run folder says stopped) and
    what it sends is dropped."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._sending = threading.Lock()
        self._stop = threading.Event()
        self.parent_gone = False

    def send(self, item: tuple) -> None:
        if self.parent_gone:
            return
        with self._sending:
            try:
                self._conn.send(item)
            except OSError:
                self._gone()

    def send_event(self, event: object) -> None:
        self.send(("event", event))

    def should_stop(self) -> bool:
        try:
            while not self._stop.is_set() and not self.parent_gone and self._conn.poll():
                if self._conn.recv()[0] == "stop":
                    self._stop.set()
        except (EOFError, OSError):
            self._gone()
        return self._stop.is_set()

    def _gone(self) -> None:
        self.parent_gone = True
        self._stop.set()


def _take_environment(environ: dict[str, str]) -> None:
    """The window's environment as it is when the job starts: only the keys that differ
    are set (setenv while TensorFlow's threads may read the environment). What TensorFlow
    and Keras read as they were imported (a spare's) stays as it was then."""
    for key in [k for k in os.environ if k not in environ]:
        del os.environ[key]
    for key, value in environ.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _portable(error: BaseException) -> BaseException:
    """The error as the parent can unpickle it: itself when it survives a round trip
    (StudioErrors keep their fields), else a RuntimeError naming it; either way with the
    child's traceback, which the window shows as the details of an unexpected error."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    copy: BaseException = RuntimeError(f"{type(error).__name__}: {error}")
    if isinstance(error, Exception):  # not a SystemExit or such: that would end the window
        try:
            copy = pickle.loads(pickle.dumps(error))
        except Exception:  # noqa: BLE001 - an exception type that does not pickle
            pass
    copy.child_traceback = text
    return copy


def _lower_priority(niceness: int) -> None:
    """The child yields the CPU to the window (its threads, TensorFlow's pools too).
    Where there is no ``nice`` (Windows) it runs at the window's priority."""
    if not hasattr(os, "nice"):
        return
    try:
        os.nice(niceness)
    except OSError:
        log.debug("could not lower the job process's priority", exc_info=True)
