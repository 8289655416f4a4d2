"""``status.json``: what a run folder says about its run, kept current while it trains.

A trainer writes the file when the run starts (state ``running``), at every finished
epoch, every :data:`HEARTBEAT_SECONDS` (the ``updated`` time: the heartbeat) and when the
run ends (``finished``, ``stopped`` or ``crashed``). Every write is atomic, so a reader
(the runs list, another machine) sees the previous status or the new one, never a part.
A ``running`` status whose heartbeat went stale, or whose process is gone from this host,
reads back as ``crashed``: the trainer was killed before it could say so.
Imports no TensorFlow.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from cnnstudio.core import files
from cnnstudio.core.errors import InputError
from cnnstudio.core.training.lock import pid_alive

STATUS_FILE = "status.json"
STATES = ("running", "finished", "stopped", "crashed")
#: how often a running trainer rewrites its status (the heartbeat)
HEARTBEAT_SECONDS = 5.0
#: a running status not rewritten for this long belongs to a dead trainer
STALE_SECONDS = 60.0
#: status.json is small; anything bigger is not ours
MAX_STATUS_BYTES = 256 * 1024


def now_text() -> str:
    """The local time as ISO text with seconds (what status.json stores)."""
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def parse_time(text: Any) -> float | None:
    """Seconds since the epoch of an ISO time from a status file, or None."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp()


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def write_status(run_dir: str | Path, status: dict[str, Any]) -> None:
    """Replace the run folder's status.json at once (readers never see half of it)."""
    data = json.dumps(status, indent=2, allow_nan=False, default=str).encode()
    files.write_bytes(Path(run_dir) / STATUS_FILE, data, overwrite=True)


def read_status(run_dir: str | Path) -> dict[str, Any]:
    """The run folder's status.json as a dict (bounded read, regular files only).
    InputError when it is missing, not a file, too big or not a JSON object."""
    path = Path(run_dir) / STATUS_FILE
    raw = files.read_bytes(path, MAX_STATUS_BYTES, what="status file")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise files.file_error(path, "status file", f"is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise files.file_error(path, "status file", "is not a JSON object")
    return data


def effective_state(status: dict[str, Any], now: float | None = None) -> str:
    """The run's state: the stored one, except that a ``running`` run whose heartbeat
    went stale or whose process is gone from this host is ``crashed``; a status from
    before the state was recorded says ``stopped`` or, by its epochs, ``finished``."""
    state = status.get("state")
    if state not in STATES:
        if "stopped" in status:  # the first status.json format: written at the end only
            return "stopped" if status.get("stopped") else "finished"
        return "crashed"
    if state != "running":
        return state
    now = time.time() if now is None else now
    updated = parse_time(status.get("updated"))
    if updated is None or now - updated > STALE_SECONDS:
        return "crashed"
    pid = status.get("pid")
    if status.get("host") == socket.gethostname() and isinstance(pid, int) and pid > 0:
        if pid != os.getpid() and not pid_alive(pid):
            return "crashed"
    return "running"


class StatusWriter:
    """Keeps a run's status.json current: :meth:`start`, :meth:`update` at each epoch,
    a heartbeat every :data:`HEARTBEAT_SECONDS` from a daemon thread, :meth:`finish`.

    ``previous`` is the status of an earlier session of the same run (a resume): its
    start time and training time carry over."""

    def __init__(
        self,
        run_dir: str | Path,
        fields: dict[str, Any],
        previous: dict[str, Any] | None = None,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.heartbeat_seconds = heartbeat_seconds
        previous = previous or {}
        started = previous.get("started")
        self._earlier_seconds = _finite(previous.get("train_seconds")) or 0.0
        self._session_start = time.monotonic()
        self._status: dict[str, Any] = {
            **fields,
            "state": "running",
            "started": started if parse_time(started) is not None else now_text(),
            "session_started": now_text(),
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: InputError | None = None  # the last failed write (a full disk, ...)

    def start(self) -> None:
        self._write()
        self._thread = threading.Thread(
            target=self._beat, name=f"heartbeat {self.run_dir.name}", daemon=True
        )
        self._thread.start()

    def update(self, **fields: Any) -> None:
        with self._lock:
            self._status.update(fields)
        self._write()

    def finish(self, state: str, **fields: Any) -> None:
        """The final status (the heartbeat stops first, so it cannot overwrite it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            self._status.update(fields, state=state, ended=now_text())
        self._write()

    def stop_heartbeat(self) -> None:
        """Stop the heartbeat without a final status (a crash: the status goes stale)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            self._write()

    def _write(self) -> None:
        with self._lock:
            seconds = self._earlier_seconds + time.monotonic() - self._session_start
            self._status["train_seconds"] = round(seconds, 3)
            self._status["updated"] = now_text()
            snapshot = dict(self._status)
            try:
                write_status(self.run_dir, snapshot)
                self.error = None
            except InputError as error:  # a full disk: the next beat tries again
                self.error = error
