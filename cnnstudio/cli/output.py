"""Checks on a CLI job's output file, made before the (long) job runs, not after it."""

from __future__ import annotations

from pathlib import Path

from cnnstudio.core import files, images


def check_image_output(path: Path, overwrite: bool) -> Path:
    """An image output (``-o``): a suffix Pillow can save, a writable folder, and no
    existing file unless ``--overwrite``."""
    return files.check_output_file(path, overwrite=overwrite, suffixes=images.SAVE_SUFFIXES)
