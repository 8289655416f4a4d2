"""Files from outside, and files we write: the rules in one place.

Reading. Every file that comes from outside is untrusted. Only regular files are read (a
FIFO would block for ever, ``/dev/zero`` never ends, a folder is not a file), and every
read is bounded: :func:`open_regular` opens without blocking, checks the kind of the open
file itself (no window between a check and the open), and :func:`read_bytes` refuses more
than the limit instead of reading it. Messages say what the file really is.

Writing. Nothing the user made is lost to a crash, a full disk or a second writer:
:func:`atomic_write` writes a temporary file in the same folder, syncs it, gives it the
mode the user's umask gives new files, and moves it into place in one step (a hard link
when the name must not be taken meanwhile). :func:`check_output_file` is the one check of
an output before a long job starts, so a bad name fails at once rather than after the job.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from cnnstudio.core.errors import InputError, Remedy


class OutputExistsError(InputError, FileExistsError):
    """The output file exists and replacing it was not allowed."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        super().__init__(
            f"{self.path}: the file already exists",
            param="output",
            remedy=Remedy.OVERWRITE,
            path=str(self.path),
        )


def _read_umask() -> int:
    # os.umask can only be read by setting it; do it once, before any thread starts
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def current_umask() -> int:
    """The process's umask now: read from ``/proc/self/status`` where there is one (no
    race with other threads, and a umask changed since start counts), else as it was
    when this module was imported."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _UMASK


def new_file_mode() -> int:
    """The permission bits a new file gets from the user's umask (0644 for umask 022)."""
    return 0o666 & ~current_umask()


# ------------------------------------------------------------------------------- reading


def megabytes(size: int) -> str:
    """``3.2 MB`` style text for messages."""
    return f"{size / 2**20:.1f} MB" if size < 10 * 2**20 else f"{size / 2**20:.0f} MB"


def kind_of(mode: int) -> str:
    """What a file of this ``st_mode`` is, in words ("a named pipe (FIFO)", ...)."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def missing_reason(path: Path, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "is a loop of symbolic links, not a file"
    if error.errno == errno.ENOENT:
        if path.is_symlink():
            return "is a symbolic link to a file that does not exist"
        return "no such file; check the path"
    if error.errno == errno.EACCES:
        return "permission denied; check the file's permissions"
    if error.errno == errno.ENOTDIR:
        return "a part of the path is a file, not a folder"
    return f"cannot be read ({error.strerror or error})"


def file_error(path: Path, what: str, reason: str, param: str | None = None) -> InputError:
    """The one-line refusal of an input file: ``weights file x.h5: <reason>``."""
    label = f"{what} {path.name or path}" if what else str(path.name or path)
    return InputError(f"{label}: {reason}", param=param, path=str(path))


def check_regular_file(
    path: str | os.PathLike[str],
    *,
    what: str = "",
    max_bytes: int | None = None,
    param: str | None = None,
) -> os.stat_result:
    """The stat of ``path`` if it is a regular file (symbolic links followed) within
    ``max_bytes``; InputError naming the file and what it really is otherwise."""
    path = Path(path)
    try:
        info = os.stat(path)
    except OSError as error:
        raise file_error(path, what, missing_reason(path, error), param) from None
    if not stat.S_ISREG(info.st_mode):
        kind = kind_of(info.st_mode)
        if path.is_symlink():  # say where it leads: "a device (/dev/zero)"
            kind = f"{kind} ({os.path.realpath(path)})"
        raise file_error(path, what, f"is {kind}, not a file", param)
    if max_bytes is not None and info.st_size > max_bytes:
        raise file_error(
            path,
            what,
            f"is {megabytes(info.st_size)}, more than the limit of {megabytes(max_bytes)}",
            param,
        )
    return info


def check_run_files(folder: str | os.PathLike[str], names: Sequence[str]) -> None:
    """Each of ``names`` in a run folder is a regular file or absent; InputError (param
    ``run_dir``) naming the folder, the file and what it is otherwise. A run appends to
    its history.csv and rewrites its config.json and status.json: opened for writing, a
    FIFO there blocks for ever, and a folder may come from anywhere."""
    folder = Path(folder)
    for name in names:
        path = folder / name
        if not os.path.lexists(path):
            continue
        try:
            check_regular_file(path)
        except InputError as error:
            raise InputError(
                f"run folder {folder}: {error}; remove it or choose another run folder",
                param="run_dir",
                path=str(path),
            ) from None


def open_regular(
    path: str | os.PathLike[str],
    *,
    what: str = "",
    max_bytes: int | None = None,
    param: str | None = None,
) -> BinaryIO:
    """Open a regular file for reading, refusing anything else without blocking on it.

    The kind and size are checked on the open descriptor, so a file swapped for a FIFO
    between a check and the open is still refused. The caller closes the file."""
    path = Path(path)
    check_regular_file(path, what=what, max_bytes=max_bytes, param=param)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        raise file_error(path, what, missing_reason(path, error), param) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise file_error(path, what, f"is {kind_of(info.st_mode)}, not a file", param)
        if max_bytes is not None and info.st_size > max_bytes:
            raise file_error(
                path, what, f"is larger than the limit of {megabytes(max_bytes)}", param
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(
    path: str | os.PathLike[str],
    max_bytes: int,
    *,
    what: str = "",
    param: str | None = None,
) -> bytes:
    """The whole content of a regular file of at most ``max_bytes`` bytes (a file that
    grows past the limit while it is read is refused too)."""
    with open_regular(path, what=what, max_bytes=max_bytes, param=param) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise file_error(
            Path(path), what, f"is larger than the limit of {megabytes(max_bytes)}", param
        )
    return data


# ------------------------------------------------------------------------------- writing


def check_output_file(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    suffixes: Sequence[str] | None = None,
    param: str = "output",
    example: str = "result.png",
) -> Path:
    """Check an output before the job that makes it starts: a known suffix (when
    ``suffixes`` is given), not a folder, not an existing file unless ``overwrite``, and a
    folder that exists or can be created, and can be written to. Returns the path."""
    path = Path(path).expanduser()
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise InputError(
            f"{path.name}: cannot save as '{path.suffix or '(no suffix)'}'; use a name "
            f"ending in {', '.join(suffixes)}",
            param=param,
            path=str(path),
        )
    if path.is_dir():
        raise InputError(
            f"{path} is a folder; give a file name such as {example}", param=param, path=str(path)
        )
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise OutputExistsError(path)
    check_writable_folder(path.parent, param=param)
    return path


def check_writable_folder(folder: str | os.PathLike[str], *, param: str = "output") -> Path:
    """A folder we may write into: it exists and is writable, or its nearest existing
    ancestor is a writable folder (it will be created). InputError naming it otherwise."""
    folder = Path(folder).expanduser()
    probe = folder if str(folder) else Path(".")
    while not probe.exists():
        if probe.is_symlink():
            raise InputError(
                f"{probe} is a symbolic link to nothing; choose another folder",
                param=param,
                path=str(probe),
            )
        parent = probe.parent
        if parent == probe:
            break
        probe = parent
    if probe.exists() and not probe.is_dir():
        raise InputError(
            f"{probe} is a file, not a folder; choose another place for the output",
            param=param,
            path=str(probe),
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(
            f"folder {probe} is read-only for you; choose another place for the output",
            param=param,
            path=str(probe),
        )
    return folder


def write_error(path: Path, error: OSError, param: str | None = "output") -> InputError:
    """A failed write as a one-line message ("disk full" rather than errno 28)."""
    if error.errno == errno.ENOSPC:
        reason = "the disk is full; free some space and save again"
    elif error.errno == errno.EDQUOT:
        reason = "your disk quota is used up; free some space and save again"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "permission denied; choose a folder you can write to"
    else:
        reason = error.strerror or str(error)
    return InputError(f"cannot write {path}: {reason}", param=param, path=str(path))


#: errors of files and disks that the user causes or can fix, not bugs
USER_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EACCES", "EPERM", "EROFS", "ENOENT", "ENOTDIR",
                 "EISDIR", "ELOOP", "ENAMETOOLONG", "EEXIST", "EFBIG", "EMFILE", "ENFILE")
    if hasattr(errno, name)
)  # fmt: skip


def os_error_message(error: OSError) -> str | None:
    """One line for an OSError the user can fix (a full disk, permissions, a missing or
    odd file), naming the file; None for any other (a bug to report as such)."""
    if error.errno not in USER_ERRNOS:
        return None
    path = Path(os.fsdecode(error.filename)) if error.filename else None
    if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EROFS, errno.EFBIG):
        return str(write_error(path or Path("a file"), error).message)
    if path is None:
        return error.strerror or str(error)
    return f"{path}: {missing_reason(path, error)}"


def disk_full(error: BaseException | None) -> OSError | None:
    """The disk-full (or quota) OSError behind ``error``, or None. Libraries wrap it:
    h5py and zipfile inside Keras' savers raise their own errors with the OSError as
    the cause, or only its text."""
    for _ in range(10):
        if error is None:
            return None
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return error
        text = str(error)
        if "No space left on device" in text or "errno = 28" in text:
            return OSError(errno.ENOSPC, "No space left on device")
        if "Disk quota exceeded" in text:
            return OSError(errno.EDQUOT, "Disk quota exceeded")
        error = error.__cause__ or error.__context__
    return None


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    param: str | None = "output",
) -> Iterator[BinaryIO]:
    """Write ``path`` all at once: ``with atomic_write(p) as fh: fh.write(...)``.

    Readers see the old file or the new one, never a part. Without ``overwrite`` a file
    that appeared at ``path`` while we wrote is never replaced (OutputExistsError). The new
    file gets the mode of the user's umask; an existing file keeps its own mode. A failed
    write (a full disk) leaves no temporary file and raises InputError naming ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_error(path.parent, error, param) from None
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as error:
        raise write_error(path, error, param) from None
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, _final_mode(path, overwrite))
        move_into_place(temp, path, overwrite)
    except BaseException as error:
        temp.unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, FileExistsError):
            raise write_error(path, error, param) from None
        raise


@contextlib.contextmanager
def temporary_file(
    path: str | os.PathLike[str], *, suffix: str = ".part", param: str | None = "output"
) -> Iterator[Path]:
    """The name of a new, empty, hidden file next to ``path``, for writers that want a name
    rather than a handle (Keras' ``model.save`` wants one ending in ``.keras``). Removed
    when the block ends unless :func:`place_file` moved it into place. An OSError in the
    block (a full disk) becomes the one-line InputError of :func:`write_error`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
        os.close(fd)
    except OSError as error:
        raise write_error(path, error, param) from None
    temp = Path(temp_name)
    try:
        yield temp
    except BaseException as error:
        if isinstance(error, (FileExistsError, InputError)):
            raise
        full = disk_full(error)  # Keras' savers wrap it in errors of their own
        if full is not None or isinstance(error, OSError):
            raise write_error(path, full or error, param) from None
        raise
    finally:
        temp.unlink(missing_ok=True)


def place_file(temp: Path, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Sync ``temp`` to disk, give it the umask's mode (or, replacing a file, that file's
    mode) and move it to ``path`` in one step; without ``overwrite`` only while ``path`` is
    free (OutputExistsError otherwise)."""
    path = Path(path)
    with open(temp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.chmod(temp, _final_mode(path, overwrite))
    move_into_place(temp, path, overwrite)


def sync_folder(folder: str | os.PathLike[str]) -> None:
    """Make the renames in ``folder`` durable (a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    param: str | None = "output",
) -> Iterator[Path]:
    """:func:`atomic_write` for writers that take a file name (Keras' ``model.save``,
    which picks its format by suffix): ``with atomic_path(p) as temp: model.save(temp)``.
    ``temp`` is a free name in the same folder with the same suffix; when the block ends
    it gets the umask's mode and takes ``path``'s place (or is removed on an error)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        folder = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as error:
        raise write_error(path, error, param) from None
    temp = Path(folder) / f"part{''.join(path.suffixes[-2:]) or path.suffix}"
    try:
        yield temp
        os.chmod(temp, _final_mode(path, overwrite))
        move_into_place(temp, path, overwrite)
    except BaseException as error:
        if isinstance(error, OSError) and not isinstance(error, FileExistsError):
            raise write_error(path, error, param) from None
        raise
    finally:
        temp.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def _final_mode(path: Path, overwrite: bool) -> int:
    """The mode a saved file gets: the umask's, or, replacing a file, that file's own."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode) if overwrite else new_file_mode()
    except OSError:
        return new_file_mode()


def move_into_place(temp: Path, path: Path, overwrite: bool) -> None:
    """Rename ``temp`` to ``path``; without ``overwrite`` only if ``path`` is still free."""
    if overwrite:
        os.replace(temp, path)
        return
    # A hard link fails if the name appeared meanwhile: no window in which another file
    # written since our check could be clobbered.
    try:
        os.link(temp, path)
    except FileExistsError:
        raise OutputExistsError(path) from None
    except OSError:
        # Filesystems without hard links: check again and move.
        if path.exists():
            raise OutputExistsError(path) from None
        os.replace(temp, path)
        return
    temp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False) -> Path:
    """:func:`atomic_write` of ``data``."""
    with atomic_write(path, overwrite=overwrite) as handle:
        handle.write(data)
    return Path(path)
