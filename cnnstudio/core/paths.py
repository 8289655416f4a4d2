"""Where CNN Studio keeps its files: user folders from platformdirs.

``CNNSTUDIO_HOME`` moves everything under one folder (tests, portable installs).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from cnnstudio.core.errors import InputError

APP_NAME = "CNN Studio"
APP_AUTHOR = "cnnstudio"


def _home_override() -> Path | None:
    home = os.environ.get("CNNSTUDIO_HOME")
    return Path(home) if home else None


def _folder(path: Path) -> Path:
    """``path``, made if missing; InputError naming it (and CNNSTUDIO_HOME when that put
    it there) if it is not a folder and cannot be made one."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        return path  # a read-only one is fine for reading; a write to it says so itself
    except FileExistsError:
        reason = "is a file, not a folder"
    except NotADirectoryError:
        reason = "is inside a file, not a folder"
    except PermissionError:
        reason = "cannot be made: its parent folder is read-only for you"
    except OSError as error:
        reason = f"cannot be made ({error.strerror or error})"
    home = _home_override()
    where = f" (CNNSTUDIO_HOME is {home})" if home is not None else ""
    raise InputError(
        f"the folder {path} {reason}{where}; point CNNSTUDIO_HOME at a folder you can write to",
        path=str(path),
    )


def data_dir() -> Path:
    """Models the user trained, imported weights and datasets."""
    home = _home_override()
    path = home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    return _folder(path)


def config_dir() -> Path:
    """Settings (QSettings ini file)."""
    home = _home_override()
    path = home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR))
    return _folder(path)


def weights_dir() -> Path:
    """Pretrained weights imported by the user ("File > Import weights...")."""
    return _folder(data_dir() / "weights")


def library_dir() -> Path:
    """The model library: trained models with their JSON sidecars."""
    return _folder(data_dir() / "models")


def runs_dir() -> Path:
    """Training run folders (checkpoints, TensorBoard logs)."""
    return _folder(data_dir() / "runs")


def keras_cache_dir() -> Path:
    """Where Keras looks for downloaded weights and datasets (``KERAS_HOME`` or ~/.keras)."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(keras_home)
