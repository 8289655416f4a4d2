"""Checks on a CLI job's output file, made before the (long) job runs, not after it."""

from __future__ import annotations

from pathlib import Path

from cnnstudio.core import images
from cnnstudio.core.errors import InputError


def check_image_output(path: Path, overwrite: bool) -> None:
    """Refuse a suffix Pillow cannot save, or an existing file without ``overwrite``."""
    if path.suffix.lower() not in images.SAVE_SUFFIXES:
        raise InputError(
            f"{path.name}: cannot save as '{path.suffix or '(no suffix)'}'; use one of "
            f"{', '.join(images.SAVE_SUFFIXES)}"
        )
    if path.exists() and not overwrite:
        raise images.OutputExistsError(path)
