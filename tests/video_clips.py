"""Tiny videos made by the tests (core, CLI and window tests import it): a still textured
background with a textured square moving across it (what the optical flow must follow),
written with imageio or ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np

WIDTH, HEIGHT = 64, 48


def texture(height: int, width: int, seed: int, low: float = 0, high: float = 255) -> np.ndarray:
    """Smooth random shades of one colour: detail for optical flow to lock on to, in
    brightness (which H.264 keeps) rather than in colour (which yuv420p halves)."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 1.5)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    tint = rng.uniform(0.5, 1.0, size=3).astype(np.float32)
    return (low + noise[..., None] * tint * (high - low)).astype(np.uint8)


def square_frames(count: int, step: int = 3, size=(WIDTH, HEIGHT)):
    """``count`` frames: a still dark background, a bright 12 px square moving ``step`` px
    right per frame from x = 16, wrapping round (a generator: tests of memory must not
    hold the clip)."""
    width, height = size
    background = texture(height, width, 1, high=150)
    square = texture(12, 12, 2, low=110)
    for index in range(count):
        frame = background.copy()
        x = (16 + index * step) % (width - 12)
        frame[height // 2 - 6 : height // 2 + 6, x : x + 12] = square
        yield frame


def ffmpeg(*args: str) -> None:
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def write_clip(
    path: Path, count: int = 12, fps: float = 12, step: int = 3, size=(WIDTH, HEIGHT)
) -> Path:
    """An MP4 (or GIF, by the suffix) of :func:`square_frames`, written with imageio."""
    frames = np.stack(list(square_frames(count, step, size)))
    if path.suffix == ".gif":
        iio.imwrite(path, frames, duration=1000 / fps, loop=0)
    else:
        iio.imwrite(path, frames, fps=fps, quality=10)
    return path


def with_sine_audio(video: Path, path: Path) -> Path:
    """``video`` with a 440 Hz tone as its sound track (AAC), cut to the video's length."""
    ffmpeg(
        "-i", str(video), "-f", "lavfi", "-i", "sine=frequency=440:duration=5",
        "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-shortest", str(path),
    )  # fmt: skip
    return path
