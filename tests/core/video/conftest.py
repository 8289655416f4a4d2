"""Fixtures: tiny videos made by the tests (see video_clips.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from video_clips import with_sine_audio, write_clip


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """12 frames, 64x48, 12 fps, MP4, no sound."""
    return write_clip(tmp_path / "clip.mp4")


@pytest.fixture
def clip_with_audio(tmp_path: Path, clip: Path) -> Path:
    return with_sine_audio(clip, tmp_path / "clip-audio.mp4")
