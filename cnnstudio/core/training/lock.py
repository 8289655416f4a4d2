"""One trainer per run folder: an exclusive lock that says who holds it.

Two trainers writing into one folder interleave ``history.csv`` and overwrite each
other's backups, so :class:`RunLock` takes an exclusive ``fcntl.flock`` on the folder's
``lock`` file and keeps it open for the whole run. The kernel releases a flock when its
holder exits, however it exits (a kill -9 included), so a lock left behind by a killed
process is never in the way: the next trainer simply gets it, and says whose stale lock
it took over. The file also holds a small JSON note (pid, host, since) that lets a refused
trainer name the holder; a holder clears it when it lets go, so a note found on a free
lock was left by a process that died holding it. Imports no TensorFlow.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

from cnnstudio.core import files
from cnnstudio.core.errors import InputError
from cnnstudio.core.json_input import parse_json

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: msvcrt's byte-range lock instead
    fcntl = None  # type: ignore[assignment]
    import msvcrt

LOCK_FILE = "lock"
_NOTE_LIMIT = 4096  # the JSON note is a few dozen bytes; anything longer is not ours


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a run folder: from the lock file's note."""

    pid: int | None
    host: str
    since: str  # ISO time the lock was taken
    purpose: str = "training"

    def describe(self) -> str:
        who = f"process {self.pid}" if self.pid else "another process"
        text = f"{who} on {self.host or 'an unknown host'}"
        if self.since:
            text += f" (since {self.since.replace('T', ' ')})"
        return text

    @property
    def on_this_host(self) -> bool:
        return self.host == socket.gethostname()

    def alive(self) -> bool | None:
        """True/False when the holder ran on this host, None when that cannot be told."""
        if not self.on_this_host or not self.pid:
            return None
        return pid_alive(self.pid)


class RunFolderBusyError(InputError):
    """Another process holds the run folder."""

    def __init__(self, run_dir: Path, holder: Holder | None) -> None:
        who = holder.describe() if holder else "another process"
        what = "deleting" if holder and holder.purpose == "deleting" else "training in"
        super().__init__(
            f"run folder {run_dir} is in use: {who} is {what} it; wait for it to end or "
            "choose another run folder",
            param="run_dir",
            path=str(run_dir),
            pid=holder.pid if holder else None,
        )


def pid_alive(pid: int) -> bool:
    """Is process ``pid`` running on this host? (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except OSError:
        return False
    try:  # Linux: a killed child not yet reaped by its parent is a zombie, not alive
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read(512).split(b") ", 1)[-1][:1] != b"Z"
    except OSError:
        return True


def read_holder(run_dir: str | Path) -> Holder | None:
    """The note in a run folder's lock file (None when there is none or it is not ours)."""
    path = Path(run_dir) / LOCK_FILE
    try:  # flock does not stop reading; a FIFO or a device is refused without blocking
        raw = files.read_bytes(path, _NOTE_LIMIT, what="lock file")
        data = parse_json(raw or b"{}", label="lock file", max_depth=2)
    except (OSError, InputError):
        return None
    if not isinstance(data, dict) or not data:
        return None
    pid = data.get("pid")
    return Holder(
        pid=pid if isinstance(pid, int) and pid > 0 else None,
        host=str(data.get("host") or "")[:255],
        since=str(data.get("since") or "")[:40],
        purpose=str(data.get("purpose") or "training")[:20],
    )


class RunLock:
    """The exclusive lock on a run folder, held from :meth:`acquire` to :meth:`release`.

    ``with RunLock(folder) as lock:`` works too. :attr:`took_over` is the holder of a
    stale lock that was taken over (its process is gone), for a notice."""

    def __init__(self, run_dir: str | Path, purpose: str = "training") -> None:
        self.run_dir = Path(run_dir)
        self.purpose = purpose
        self._fd: int | None = None
        self.took_over: Holder | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Take the lock (the folder must exist); RunFolderBusyError naming the holder
        when another process has it. Never waits."""
        if self._fd is not None:
            return self
        path = self.run_dir / LOCK_FILE
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        flags |= getattr(os, "O_NONBLOCK", 0)  # a FIFO put there must not block the open
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as error:
            raise InputError(
                f"cannot lock run folder {self.run_dir}: {error.strerror or error}",
                param="run_dir",
                path=str(self.run_dir),
            ) from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # a FIFO or a device is no lock: never read or flock it
            os.close(fd)
            raise InputError(
                f"cannot lock run folder {self.run_dir}: its {LOCK_FILE} is "
                f"{files.kind_of(mode)}, not a file; remove it",
                param="run_dir",
                path=str(path),
            )
        try:
            _lock(fd)
        except BlockingIOError:
            os.close(fd)
            raise RunFolderBusyError(self.run_dir, read_holder(self.run_dir)) from None
        except BaseException:
            os.close(fd)
            raise
        previous = read_holder(self.run_dir)
        if previous is not None and previous.alive() is False:
            self.took_over = previous
        note = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": _dt.datetime.now().isoformat(timespec="seconds"),
            "purpose": self.purpose,
        }
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(note).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Let go of the lock, clearing the note first: a note found with the lock free
        is what a holder that died without letting go left behind."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            _unlock(fd)
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:  # pragma: no cover
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            raise BlockingIOError from None


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
