"""Settings remembered between runs: one ini file in the user config folder.

``app_settings()`` returns a fresh ``QSettings`` on ``config_dir()/cnnstudio.ini`` (so
``CNNSTUDIO_HOME`` moves it, which keeps tests private). Ini files give back strings, so
read typed values through :func:`read_int`, :func:`read_float`, :func:`read_bool`.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

from cnnstudio.core import paths

SETTINGS_FILE = "cnnstudio.ini"
_LAST_FOLDER_KEY = "paths/last_folder"


def settings_path() -> Path:
    """The ini file that holds the settings."""
    return paths.config_dir() / SETTINGS_FILE


def app_settings() -> QSettings:
    """The application's settings (ini format, in the user config folder)."""
    return QSettings(str(settings_path()), QSettings.Format.IniFormat)


def read_str(settings: QSettings, key: str, default: str = "") -> str:
    value = settings.value(key, default)
    return default if value is None else str(value)


def read_int(settings: QSettings, key: str, default: int) -> int:
    try:
        return int(float(settings.value(key, default)))
    except (TypeError, ValueError):
        return default


def read_float(settings: QSettings, key: str, default: float) -> float:
    try:
        return float(settings.value(key, default))
    except (TypeError, ValueError):
        return default


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
