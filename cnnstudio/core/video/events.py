"""What the motion drivers yield and return, on top of ``core/events.py``.

Both are subclasses of the events every front end already handles: a :class:`FrameProgress`
is a ``Progress`` (its ``fraction`` covers the whole video, so one ``Eta`` gives the time
left for the video), a :class:`FrameDone` is a ``Preview`` of the finished frame (the live
preview shows frames as they come; a frame strip collects them). No OpenCV, no imageio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cnnstudio.core.events import Preview, Progress


@dataclass(frozen=True)
class FrameProgress(Progress):
    """A step inside frame ``frame`` (1-based) of ``frames``.

    ``step``/``total`` count over the whole video (frame index x steps per frame + step),
    ``frame_step``/``frame_steps`` inside the frame; ``stage``/``stages`` are the frame
    job's own (octaves of a dream); ``message`` reads "frame 3 of 12, ..."."""

    frame: int = 1
    frames: int = 1
    frame_step: int = 0
    frame_steps: int = 0


@dataclass(frozen=True, eq=False)
class FrameDone(Preview):
    """Frame ``index`` (0-based) is finished and saved at ``path`` (in the frames folder,
    or "" without one). ``step``/``total`` are ``index + 1`` and the frame count."""

    index: int = 0
    path: str = ""


@dataclass(frozen=True)
class WrittenVideo:
    """A video file in place: how many frames it holds and what could not be kept (audio
    in a codec the MP4 cannot hold and that could not be converted, say)."""

    path: Path
    frames: int
    fps: float
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class MotionResult:
    """What a motion driver returns when every frame is done.

    ``video`` is None when no writer was given (frames only). ``flicker`` is the mean
    absolute difference (0..255) between consecutive output frames after warping by the
    input's own flow, where measured (:mod:`cnnstudio.core.video.flow`)."""

    frames: int
    frames_dir: Path | None
    video: WrittenVideo | None
    flicker: float | None = None
    notices: tuple[str, ...] = field(default_factory=tuple)
