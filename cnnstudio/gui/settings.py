"""Settings remembered between runs: one ini file in the user config folder.

``app_settings()`` returns a fresh ``QSettings`` on ``config_dir()/cnnstudio.ini`` (so
``CNNSTUDIO_HOME`` moves it, which keeps tests private). Ini files give back strings, so
read typed values through :func:`read_int`, :func:`read_float`, :func:`read_bool`.
"""

from __future__ import annotations

import math
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QSettings

from cnnstudio.core import files, paths
from cnnstudio.core.errors import InputError, StudioError
from cnnstudio.core.json_input import parse_json

SETTINGS_FILE = "cnnstudio.ini"
_MAX_PARAMS_TEXT = 1_000_000  # characters of one JSON setting
_BAD_VALUE = (StudioError, ValueError, TypeError, OverflowError, AttributeError, KeyError)
_Params = TypeVar("_Params")
_LAST_FOLDER_KEY = "paths/last_folder"


def settings_path() -> Path:
    """The ini file that holds the settings."""
    return paths.config_dir() / SETTINGS_FILE


def app_settings() -> QSettings:
    """The application's settings (ini format, in the user config folder). A settings
    file that is not a regular file is moved aside first (see :func:`_regular_or_aside`)."""
    path = _regular_or_aside(settings_path())
    return QSettings(str(path), QSettings.Format.IniFormat)


def _regular_or_aside(path: Path) -> str | Path:
    """``path`` when it is a regular file or absent. Anything else there (a FIFO, on
    which QSettings blocks for ever; a device, a link to one, a folder) is renamed to
    ``<name>.not-a-file-<time>`` (nothing is lost) with a notice, and the settings start
    afresh; where it cannot be moved, the settings of this session are not kept."""
    try:
        mode = os.stat(path).st_mode  # a link is followed: a link to /dev/zero is a device
    except FileNotFoundError:
        if not os.path.islink(path):
            return path
        kind = "a symbolic link to a file that does not exist"
    except OSError as error:  # a loop of links, a part of the path that is a file
        kind = f"unreadable ({error.strerror or error})"
    else:
        if stat.S_ISREG(mode):
            return path
        kind = files.kind_of(mode)
    aside = path.with_name(f"{path.name}.not-a-file-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.rename(path, aside)
    except OSError as error:
        _notices.append(
            (path.name, f"is {kind}, not a file, and could not be moved aside "
                        f"({error.strerror or error}): settings are not kept this session")
        )  # fmt: skip
        return os.devnull  # read as empty, never written
    _notices.append((path.name, f"was {kind}, not a file: moved aside to {aside}"))
    return path


def read_str(settings: QSettings, key: str, default: str = "") -> str:
    value = settings.value(key, default)
    return default if value is None else str(value)


#: (what, why) of each value of the settings file that could not be used since the
#: last take_notices()
_notices: list[tuple[str, str]] = []


def _ignored(settings: QSettings, key: str, value: object, reason: str) -> None:
    shown = repr(value) if len(repr(value)) <= 30 else repr(value)[:27] + "..."
    group = settings.group()
    _notices.append((f"{group + '/' if group else ''}{key}", f"{shown}: {reason}"))


def take_notices() -> list[tuple[str, str]]:
    """(setting, why) of the settings ignored since the last call (the window names them
    in its status bar after restoring, with the reasons in its tooltip)."""
    notices = list(_notices)
    _notices.clear()
    return notices


def notices_summary() -> tuple[str, str] | None:
    """The notices of :func:`take_notices` as (one line for a status bar, the reasons for
    its tooltip), or None when every value was used."""
    ignored = take_notices()
    if not ignored:
        return None
    names = "; ".join(name for name, _ in ignored)
    return (
        f"Some settings were not restored: {names}"[:400],
        "\n".join(f"{name}: {why}" for name, why in ignored),
    )


def read_int(
    settings: QSettings,
    key: str,
    default: int,
    minimum: int = -(2**31),
    maximum: int = 2**31 - 1,
) -> int:
    """A whole number from ``minimum`` to ``maximum`` (Qt's spin boxes take 32 bits);
    ``default``, with a notice, for anything else the file holds."""
    value = settings.value(key, default)
    try:
        number = float(value)
        if not math.isfinite(number) or number != int(number):
            raise ValueError
        result = int(number)
    except (TypeError, ValueError, OverflowError):
        _ignored(settings, key, value, "not a whole number")
        return default
    if not minimum <= result <= maximum:
        _ignored(settings, key, value, f"not from {minimum} to {maximum}")
        return default
    return result


def read_float(
    settings: QSettings,
    key: str,
    default: float,
    minimum: float = -1e300,
    maximum: float = 1e300,
) -> float:
    """A finite number from ``minimum`` to ``maximum``; ``default``, with a notice, else."""
    value = settings.value(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not math.isfinite(number) or not minimum <= number <= maximum:
        _ignored(settings, key, value, f"not a number from {minimum:g} to {maximum:g}")
        return default
    return number


def restore_spin_box(settings: QSettings, key: str, box: Any) -> None:
    """Set a spin box from ``key`` when the file holds a whole number within the box's
    range; otherwise leave it, with a notice (see :func:`read_int`)."""
    box.setValue(read_int(settings, key, box.value(), box.minimum(), box.maximum()))


def read_params(
    settings: QSettings, key: str, build: Callable[[dict[str, Any]], _Params]
) -> _Params | None:
    """Parameters saved as JSON under ``key``, rebuilt by ``build`` (a params module's
    ``params_from_dict``: it validates, and raises StudioError, ValueError or TypeError).
    Values that fail are left at their defaults one by one, with a notice; None when the
    text is unusable as a whole (or there is none)."""
    text = read_str(settings, key, "")
    if not text:
        return None
    try:
        data = parse_json(text[:_MAX_PARAMS_TEXT], label=key, max_depth=8)
    except InputError as error:
        _ignored(settings, key, text, str(error)[:80])
        return None
    if not isinstance(data, dict):
        _ignored(settings, key, text, "not a JSON object")
        return None
    try:
        return build(data)
    except _BAD_VALUE as error:
        first = error
    kept: dict[str, Any] = {}
    dropped = []
    for name, value in data.items():
        try:
            build({**kept, name: value})
        except _BAD_VALUE:
            dropped.append(name)
            continue
        kept[name] = value
    group = settings.group()
    ignored = ", ".join(dropped) or "all"
    _notices.append((f"{group + '/' if group else ''}{key} {ignored}", str(first)[:120]))
    try:
        return build(kept)
    except _BAD_VALUE:
        return None


def read_bool(settings: QSettings, key: str, default: bool) -> bool:
    value = settings.value(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    try:
        return bool(int(value))
    except (TypeError, ValueError):
        return default


def read_list(settings: QSettings, key: str) -> list[str]:
    """A list of strings (QSettings gives back a str for one item, None for none)."""
    value = settings.value(key, [])
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def last_folder() -> str:
    """The folder of the last file opened or saved (home if none or gone)."""
    folder = read_str(app_settings(), _LAST_FOLDER_KEY, "")
    return folder if folder and os.path.isdir(folder) else str(Path.home())


def remember_folder(path: str | os.PathLike) -> None:
    """Remember the folder of ``path`` (a file or a folder) for the next file dialog."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    settings = app_settings()
    settings.setValue(_LAST_FOLDER_KEY, str(folder))
    settings.sync()
