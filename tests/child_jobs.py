"""Callback jobs for tests/core/test_child_process.py: module-level, so that a child
process can import them by name."""

from __future__ import annotations

import os
import signal
import time

from cnnstudio.core.errors import InputError


def count(n, *, on_event, should_stop):
    """Sends n events, then returns the process id and the environment's marker."""
    for i in range(n):
        on_event(("step", i))
    return {"pid": os.getpid(), "marker": os.environ.get("CHILD_JOB_MARKER", "")}


def until_stopped(*, on_event, should_stop):
    """Sends an event every 10 ms until asked to stop; returns how many it sent."""
    sent = 0
    deadline = time.monotonic() + 60
    while not should_stop() and time.monotonic() < deadline:
        on_event(("step", sent))
        sent += 1
        time.sleep(0.01)
    return {"sent": sent, "stopped": should_stop()}


def refuse(*, on_event, should_stop):
    raise InputError("steps 0 must be at least 1", param="steps", remedy="smaller_size")


def divide(*, on_event, should_stop):
    return 1 / 0


class Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("not this one")


def raise_unpicklable(*, on_event, should_stop):
    raise Unpicklable("a lock inside")


def die(*, on_event, should_stop):
    on_event("about to die")
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)


def mark(value):
    """A ``pack``: runs in the child on the job's result."""
    return {**value, "packed_in": os.getpid()}


def hang(*, on_event, should_stop):
    """A job stuck where it never asks should_stop (a native call that does not return)."""
    on_event("started")
    time.sleep(120)


def modules(*, on_event, should_stop):
    """Whether TensorFlow was imported before the job came, and the folder it runs in."""
    import sys

    return {"tensorflow": "tensorflow" in sys.modules, "cwd": os.getcwd()}


def report_pid_until_stopped(path, *, on_event, should_stop):
    """Writes its process id to ``path``, then waits for Stop and writes "stopped"."""
    with open(path, "w") as file:
        file.write(str(os.getpid()))
    on_event("pid written")
    deadline = time.monotonic() + 60
    while not should_stop() and time.monotonic() < deadline:
        time.sleep(0.02)
    with open(path, "w") as file:
        file.write("stopped" if should_stop() else "never stopped")
    return path


def mark_packed(path):
    """A ``pack`` that leaves a trace: ``<path>.packed``."""
    with open(f"{path}.packed", "w") as file:
        file.write("packed")
    return path
