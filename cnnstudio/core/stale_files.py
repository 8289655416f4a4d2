"""Hidden temporary files that a save killed mid-write (``kill -9``, a power cut) left
beside its target: recognised by the one name :mod:`cnnstudio.core.files` gives them, and
removed. :func:`sweep_stale_temporaries` clears a shared folder (the model library) of old
ones; :func:`remove_stale_parts` clears those of one output its own job is resuming."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import stat
import time
from collections.abc import Sequence
from pathlib import Path

#: the name of a temporary file of :func:`atomic_write` / :func:`temporary_file`: a dot, the
#: final name, a dot, mkstemp's 8 random characters, then ".part" or the final suffix
TEMPORARY_NAME = re.compile(r"\.(?P<final>[^/]+?)\.[a-z0-9_]{8}(?P<suffix>\.[A-Za-z0-9]+)")
#: a save in progress writes its temporary file continually and moves it into place
#: seconds after the last write; one untouched for this long was left by a killed save
STALE_TEMPORARY_SECONDS = 15 * 60


def sweep_stale_temporaries(
    folder: str | os.PathLike[str],
    finals: Sequence[str] = (".keras", ".json"),
    *,
    older_than: float = STALE_TEMPORARY_SECONDS,
) -> list[Path]:
    """Remove from ``folder`` the temporary files that saves killed with ``kill -9`` (or a
    power cut) left behind: regular files named as ours are for a final name ending in
    one of ``finals`` (``.m.keras.k3x9_a2b.keras``, ``.m.json.0a1b2c3d.part``) and not
    modified for ``older_than`` seconds. Nothing else is touched; what cannot be removed
    (a read-only folder) stays. Returns the removed files."""
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = TEMPORARY_NAME.fullmatch(entry.name)
        if match is None:
            continue
        final, suffix = match["final"], match["suffix"]
        if not final.endswith(tuple(finals)) or suffix not in (".part", Path(final).suffix):
            continue  # ours end in ".part" or in the final name's own suffix
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > older_than:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def remove_stale_parts(path: str | os.PathLike[str]) -> int:
    """Remove the hidden temporary files a writer of ``path`` killed mid-write left
    beside it (``.NAME.x1y2z3w4.part``: what :func:`atomic_write` and
    :func:`temporary_file` make, never anything else). Only for a writer that knows no
    other is writing ``path`` now (a job resuming its own output). How many went."""
    path = Path(path)
    removed = 0
    try:
        candidates = list(path.parent.glob(f".{glob.escape(path.name)}.*.part"))
    except OSError:
        return 0
    for candidate in candidates:
        match = TEMPORARY_NAME.fullmatch(candidate.name)
        ours = match is not None and (match["final"], match["suffix"]) == (path.name, ".part")
        if ours and candidate.is_file() and not candidate.is_symlink():
            with contextlib.suppress(OSError):
                candidate.unlink()
                removed += 1
    return removed
