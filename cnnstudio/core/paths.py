"""Where CNN Studio keeps its files: user folders from platformdirs.

``CNNSTUDIO_HOME`` moves everything under one folder (tests, portable installs).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "CNN Studio"
APP_AUTHOR = "cnnstudio"


def _home_override() -> Path | None:
    home = os.environ.get("CNNSTUDIO_HOME")
    return Path(home) if home else None


def data_dir() -> Path:
    """Models the user trained, imported weights and datasets."""
    home = _home_override()
    path = home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Settings (QSettings ini file)."""
    home = _home_override()
    path = home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def weights_dir() -> Path:
    """Pretrained weights imported by the user ("File > Import weights...")."""
    path = data_dir() / "weights"
    path.mkdir(parents=True, exist_ok=True)
    return path


def library_dir() -> Path:
    """The model library: trained models with their JSON sidecars."""
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    """Training run folders (checkpoints, TensorBoard logs)."""
    path = data_dir() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def keras_cache_dir() -> Path:
    """Where Keras looks for downloaded weights and datasets (``KERAS_HOME`` or ~/.keras)."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(keras_home)
