"""Run a callback job in a process of its own, so that it never holds the window's GIL.

Why: a training run builds its graph (Keras' ``fit``, AutoGraph, TensorFlow's C++ graph
calls) in Python and in native calls that keep the interpreter lock. Run on a thread of
the window's process, that held the window for 100-200 ms as every run started, and a
crash inside TensorFlow took the window with it (the README's stalls section). In a
process of its own the job shares nothing with the window but the CPUs, where it runs at
a lower priority.

The job is a callback job (docs/ARCHITECTURE.md): ``fn(*args, on_event=, should_stop=,
**kwargs)``. Parent and child talk over one duplex pipe:

- parent -> child: ``("job", fn, args, kwargs, pack, environ, cwd)``, later ``("stop",)``;
- child -> parent: ``("event", event)`` ..., then ``("result", value)`` or
  ``("error", error)``.

``fn`` and ``pack`` go by reference (module-level functions); events and results are
pickled, so they must be plain data: ``pack`` (run in the child) turns a result that is
not (a Keras model) into one that is. Children are *spawned*, never forked: TensorFlow's
thread pools do not survive a fork. Spawning one and importing TensorFlow takes seconds,
so a spare can be started ahead (:func:`prepare_spare`): it imports TensorFlow and waits
for its one job. Every job gets a fresh process, as every ``cnnstudio train`` does, so no
TensorFlow state is carried from one run to the next. A child whose parent dies stops
at its next step (and a spare leaves within a second).

Imports no TensorFlow and no Qt (the child does, when it starts).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from cnnstudio.core.errors import StudioError

#: how much nicer than the window a job's process is (Linux and macOS "nice")
NICENESS = 5
#: how often the parent looks at a stop request and at a child that may have died
_POLL_SECONDS = 0.05
#: how often a waiting spare looks whether its parent is still there
_SPARE_POLL_SECONDS = 0.5

_context = multiprocessing.get_context("spawn")
_spare: tuple[Any, Connection] | None = None
_spare_lock = threading.Lock()


class ProcessEndedError(StudioError):
    """The job's process ended without a result: killed, or crashed in native code."""


# ----------------------------------------------------------------------------- parent side


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
    job = ("job", fn, args, kwargs or {}, pack, dict(os.environ), os.getcwd())
    spare = _take_spare()
    if spare is not None:
        try:
            spare[1].send(job)
        except OSError:  # it died since it was looked at: a new one instead
            _end(*spare)
            spare = None
    process, conn = spare or _start_child(warm=False)
    try:
        if spare is None:
            conn.send(job)
        return _pump(process, conn, on_event, should_stop)
    finally:
        _end(process, conn)


def _pump(process, conn: Connection, on_event, should_stop) -> Any:
    stop_sent = False
    while True:
        # asked at every turn: a job that sends events all the time must still stop
        if not stop_sent and should_stop():
            stop_sent = True
            try:
                conn.send(("stop",))
            except OSError:
                pass  # the child is gone: found below
        if conn.poll(_POLL_SECONDS):
            try:
                kind, payload = conn.recv()
            except (EOFError, OSError):
                break  # the child is gone: said below
            if kind == "event":
                on_event(payload)
            elif kind == "result":
                return payload
            else:
                raise payload
        elif not process.is_alive() and not conn.poll():
            break
    process.join(5)
    raise ProcessEndedError(f"the job's process ended without a result ({_how(process)})")


def _how(process) -> str:
    code = process.exitcode
    if code is None:
        return "it no longer answers"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _end(process, conn: Connection) -> None:
    conn.close()
    process.join(5)
    if process.is_alive():  # it did not leave after its result: no more waiting
        process.kill()
        process.join(5)


def _start_child(warm: bool) -> tuple[Any, Connection]:
    """A new child; ``warm``: it imports TensorFlow before its job comes (a spare)."""
    parent_end, child_end = _context.Pipe(duplex=True)
    process = _context.Process(
        target=_child_main, args=(child_end, NICENESS, warm), name="cnnstudio-job", daemon=True
    )
    process.start()
    child_end.close()  # the child holds its own copy: EOF here when it dies
    return process, parent_end


def prepare_spare() -> None:
    """Start a spare child now (if none is there) so that the next job does not wait for
    a new process to import TensorFlow. It costs a process's memory while it waits."""
    global _spare
    with _spare_lock:
        if _spare is not None and _spare[0].is_alive():
            return
        _spare = _start_child(warm=True)


def _take_spare() -> tuple[Any, Connection] | None:
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is not None and spare[0].is_alive():
        return spare
    if spare is not None:
        _end(*spare)
    return None


def spare_pid() -> int | None:
    """The process id of the spare waiting for a job, if any (for tests and the bench)."""
    with _spare_lock:
        return _spare[0].pid if _spare is not None and _spare[0].is_alive() else None


def discard_spare() -> None:
    """Let the spare go (the window is closing)."""
    spare = _take_spare()
    if spare is not None:
        try:
            spare[1].send(("quit",))
        except OSError:
            pass
        _end(*spare)


# ------------------------------------------------------------------------------ child side


def _child_main(conn: Connection, niceness: int, warm: bool) -> None:
    """The child's whole life: (a spare: import TensorFlow,) wait for one job, run it,
    report."""
    _lower_priority(niceness)
    parent = multiprocessing.parent_process()
    if warm:
        from cnnstudio.core.device import start_tensorflow

        start_tensorflow()  # while the spare waits, not when the job comes
    message = None
    while message is None:
        if conn.poll(_SPARE_POLL_SECONDS):
            message = conn.recv()
        elif parent is not None and not parent.is_alive():
            return
    if message[0] != "job":
        return
    _, fn, args, kwargs, pack, environ, cwd = message
    os.environ.clear()  # the window's environment now, not when the spare started
    os.environ.update(environ)
    os.chdir(cwd)
    sending = threading.Lock()
    stop = threading.Event()

    def send(item: tuple) -> None:
        with sending:
            conn.send(item)

    def should_stop() -> bool:
        while not stop.is_set() and conn.poll():
            if conn.recv()[0] == "stop":
                stop.set()
        return stop.is_set() or (parent is not None and not parent.is_alive())

    try:
        value = fn(
            *args, on_event=lambda event: send(("event", event)), should_stop=should_stop, **kwargs
        )
        send(("result", pack(value) if pack is not None else value))
    except BaseException as error:  # noqa: BLE001 - reported to the parent, never lost
        send(("error", _portable(error)))


def _portable(error: BaseException) -> BaseException:
    """The error as the parent can unpickle it: itself when it survives a round trip
    (StudioErrors keep their fields), else a RuntimeError naming it; either way with the
    child's traceback, which the window shows as the details of an unexpected error."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        copy = pickle.loads(pickle.dumps(error))
    except Exception:  # noqa: BLE001 - an exception type that does not pickle
        copy = RuntimeError(f"{type(error).__name__}: {error}")
    copy.child_traceback = text
    return copy


def _lower_priority(niceness: int) -> None:
    """The child yields the CPU to the window (its threads, TensorFlow's pools too)."""
    if not hasattr(os, "nice"):
        return
    try:
        os.nice(niceness)
    except OSError:
        pass


def spares_wanted() -> bool:
    """Whether front ends start spares ahead (``CNNSTUDIO_SPARE_PROCESS=0``: no; the test
    suite turns them off, as each costs a TensorFlow import, and tests them on purpose)."""
    return os.environ.get("CNNSTUDIO_SPARE_PROCESS", "1") != "0"
