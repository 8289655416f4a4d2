"""Small generated photo folders and style pictures for the fast style tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def photo(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth two-colour picture with a little grain (uint8 RGB)."""
    t = np.linspace(0.0, 1.0, width)[None, :, None]
    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    picture = a * (1 - t) + b * t + np.zeros((height, 1, 1)) + rng.normal(0, 10, (height, width, 3))
    return np.clip(picture, 0, 255).astype(np.uint8)


def photo_folder(
    folder: Path, count: int = 10, unreadable: int = 0, classes: bool = False, seed: int = 0
) -> Path:
    """``count`` photos of 40-90 px (in two class subfolders with ``classes``) and
    ``unreadable`` files that only pretend to be pictures."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        where = folder / (f"class{i % 2}" if classes else "")
        where.mkdir(exist_ok=True)
        height, width = (int(v) for v in rng.integers(40, 90, 2))
        Image.fromarray(photo(rng, height, width)).save(where / f"photo{i:02d}.png")
    for i in range(unreadable):
        (folder / f"broken{i}.jpg").write_bytes(b"this is not a JPEG")
    return folder


def style_picture(path: Path, size: int = 64) -> Path:
    """Orange stripes on dark: a style with an unmistakable texture."""
    stripes = ((np.arange(size) // 6) % 2)[:, None, None] * np.array([200.0, 120.0, 40.0])
    picture = np.clip(stripes + 30 + np.zeros((1, size, 1)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture).save(path)
    return path
