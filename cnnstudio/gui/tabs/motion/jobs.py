"""The worker side of motion in the window: probe a dropped video, run a motion job with
an event per finished frame for the strip, save the video of a frames folder.

The drivers' ``FrameDone`` is a ``Preview``, and a ``JobRunner`` keeps only the latest
preview (a backlog of pictures is never queued); the strip needs every frame, so each is
also announced as a small :class:`FrameSaved` (a thumbnail and the frame's file), which
travels as a progress event and is never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: the strip's thumbnails: the longest side in pixels
THUMB_SIDE = 72


@dataclass(frozen=True, eq=False)
class FrameSaved:
    """Frame ``index`` (0-based) is in the frames folder at ``path``."""

    index: int
    path: str
    thumbnail: np.ndarray = field(repr=False)


@dataclass(frozen=True, eq=False)
class OpenedVideo:
    """A video probed for the window: what it holds and its first frame (to show)."""

    info: Any  # core.video.params.VideoInfo
    first: np.ndarray = field(repr=False)


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    from cnnstudio.core import images

    return images.resize_max_side(frame, THUMB_SIDE)


def open_video(path: str) -> OpenedVideo:
    """Worker: probe ``path`` (InputError naming it when it is not a video that can be
    read) and decode its first frame."""
    from cnnstudio.core.video.reader import probe, read_frames

    info = probe(path)
    frames = read_frames(path)
    try:
        first = next(frames)
    finally:
        frames.close()
    return OpenedVideo(info, np.array(first))


def earlier_frames(frames_dir: Path) -> Generator[FrameSaved, None, None]:
    """The frames a previous run left in ``frames_dir``, for the strip."""
    from cnnstudio.core import images
    from cnnstudio.core.video.frames import frame_name

    index = 0
    while (frames_dir / frame_name(index)).is_file():
        path = frames_dir / frame_name(index)
        picture = images.load_image(path, max_side=THUMB_SIDE)
        yield FrameSaved(index, str(path), picture)
        index += 1


def motion_events(
    make_job: Callable[..., Generator[Any, None, Any]], *args: Any, frames_dir: Path, **kwargs: Any
) -> Generator[Any, None, Any]:
    """Worker job: the strip's frames made before, then ``make_job(*args, **kwargs)``'s
    events with a :class:`FrameSaved` after each finished frame; its result."""
    from cnnstudio.core.video.events import FrameDone

    yield from earlier_frames(Path(frames_dir))
    job = make_job(*args, **kwargs)
    try:
        event = next(job)
        while True:
            yield event
            if isinstance(event, FrameDone):
                yield FrameSaved(event.index, event.path, _thumbnail(event.image))
            event = next(job)
    except StopIteration as stop:
        return stop.value
    finally:
        job.close()  # Stop: the job ends at its next step and keeps what it made


def save_video(frames_dir: str, output: str) -> Any:
    """Worker: the video of the frames in ``frames_dir`` at ``output`` (replacing it: the
    save dialog asked); a ``WrittenVideo``."""
    from cnnstudio.core.video.outputs import save_video as write

    return write(frames_dir, output, overwrite=True)
