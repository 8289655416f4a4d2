"""Parameters of the motion jobs, what a probed video is, and what a run will cost.

Imports neither OpenCV nor imageio (the window imports this at start-up): dataclasses,
limits, validation, the metadata saved with a video, and the estimate of how long a video
will take, which lets a front end say so before a long job starts and offer a smaller size.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cnnstudio.core.errors import InputError, Remedy
from cnnstudio.core.eta import format_duration

#: what is read as a video (by content: a suffix only says which files to offer)
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".gif")
#: what a motion job writes
OUTPUT_SUFFIXES: tuple[str, ...] = (".mp4", ".gif")
#: optical flow methods (OpenCV): DIS is fast and sharp at motion edges, Farneback smooth
FLOW_METHODS: tuple[str, ...] = ("dis", "farneback")

#: the largest video file read (a feature film in 4K is ~10 GB; we refuse more than that)
MAX_VIDEO_BYTES = 16 * 2**30
#: the most frames one job makes (an hour at 30 fps)
MAX_FRAMES = 108_000
#: frames larger than this (2560x1440) count as "4K-class": the job asks before starting
LARGE_FRAME_PIXELS = 2560 * 1440
#: the longest side offered for a large frame, before the time budget is considered
SUGGESTED_MAX_SIDE = 1280
#: a job estimated to take longer than this asks before starting
DEFAULT_BUDGET_SECONDS = 2 * 3600.0
#: the smallest longest side suggested (smaller frames are of no use to a CNN)
MIN_SUGGESTED_SIDE = 128
#: how much faster than the 2-core CPU the jobs' rates were measured on a GPU runs a
#: motion job's steps (a rough figure: the estimate only decides whether to ask first)
GPU_SPEEDUP = 10.0
#: optical flow both ways and the consistency mask, per megapixel frame (DIS, 2-core CPU)
FLOW_SECONDS_PER_MEGAPIXEL = 0.1


def is_video_path(path: str | Path) -> bool:
    """Whether a file name looks like a video (a GIF may still hold one frame only)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def default_frames_dir(output: str | Path) -> Path:
    """Where the frames of ``out.mp4`` go unless told: ``out.frames/`` beside it (an MP4
    and a GIF of the same job share it, which is right: their frames are the same)."""
    output = Path(output)
    return output.with_name(output.stem + ".frames")


def sidecar_path(output: str | Path) -> Path:
    """The JSON file of parameters beside a video: ``out.mp4`` -> ``out.mp4.json``."""
    output = Path(output)
    return output.with_name(output.name + ".json")


def even_size(width: int, height: int) -> tuple[int, int]:
    """H.264 in yuv420p needs even sides: drop the odd last column or row."""
    return max(2, width - width % 2), max(2, height - height % 2)


def fit_longest_side(width: int, height: int, longest: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled (never up) so its longest side is ``longest``, with
    even sides and the aspect ratio kept as well as even sides allow."""
    scale = min(1.0, longest / max(width, height))
    return even_size(max(2, round(width * scale)), max(2, round(height * scale)))


# ---------------------------------------------------------------------------- a video


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`cnnstudio.core.video.reader.probe` found in a video file.

    ``frames`` is exact when ``frames_exact`` (every packet was counted), else an estimate
    from the duration. ``fps`` is the mean rate; ``variable_rate`` says the frame intervals
    differ (``interval_range`` gives the shortest and longest, in seconds), in which case
    the result plays the frames evenly at ``fps``.
    """

    path: str
    width: int
    height: int
    fps: float
    frames: int
    frames_exact: bool
    duration: float
    has_audio: bool
    variable_rate: bool = False
    interval_range: tuple[float, float] | None = None
    codec: str = ""
    audio_codec: str = ""

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def variable_rate_text(self) -> str:
        """The notice for a variable frame rate, naming the file."""
        low, high = self.interval_range or (0.0, 0.0)
        return (
            f"video {self.name} has a variable frame rate (frames {low * 1000:.0f} to "
            f"{high * 1000:.0f} ms apart); the result shows every frame for the same time, "
            f"at {self.fps:.3g} fps, so its motion and sound may drift from the source's"
        )


# ------------------------------------------------------------------------- parameters


@dataclass
class ZoomParams:
    """The endless zoom: each frame is the previous output zoomed by ``zoom`` about the
    centre, rotated by ``rotate`` degrees (counter-clockwise) and shifted by ``shift_x``,
    ``shift_y`` pixels, then dreamed for a few steps."""

    frames: int = 60
    zoom: float = 1.05
    rotate: float = 0.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    fps: float = 12.0

    def validate(self) -> None:
        if not 1 <= self.frames <= MAX_FRAMES:
            raise InputError(
                f"zoom frames {self.frames} must be between 1 and {MAX_FRAMES}",
                param="zoom_frames",
            )
        if not 0.5 <= self.zoom <= 2.0:
            raise InputError(f"zoom {self.zoom:g} must be between 0.5 and 2", param="zoom")
        if not -45.0 <= self.rotate <= 45.0:
            raise InputError(
                f"rotation {self.rotate:g} degrees per frame must be between -45 and 45",
                param="rotate",
            )
        for value in (self.shift_x, self.shift_y):
            if not -256.0 <= value <= 256.0:
                raise InputError(
                    f"shift {value:g} px per frame must be between -256 and 256", param="shift"
                )
        _check_fps(self.fps)

    def frame_params(self) -> dict[str, Any]:
        """What decides the pixels of each frame (a frames folder continues only a job
        with the same): the count and the rate may change, so a zoom can be made longer."""
        params = asdict(self)
        del params["frames"], params["fps"]
        return params

    def metadata(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VideoParams:
    """Video in, video out: every frame processed, each starting from the previous output
    warped by the optical flow (``temporal``), or independently."""

    temporal: bool = True
    flow: str = "dis"
    #: Dream (and a fast style model): the share of the previous output, warped onto the
    #: frame, blended in where the flow is reliable (DeepDreamVideo's flow mode; Dream
    #: blends it into each frame's input and again into its result)
    blend: float = 0.5
    #: process only the first N frames (None: all)
    max_frames: int | None = None
    #: longest side of the frames processed (None: the video's own size)
    size: int | None = None

    def validate(self) -> None:
        if self.flow not in FLOW_METHODS:
            raise InputError(
                f"optical flow '{self.flow}' is not one of {', '.join(FLOW_METHODS)}",
                param="flow",
            )
        if not (isinstance(self.blend, (int, float)) and 0.0 <= self.blend <= 1.0):
            raise InputError(f"blend {self.blend!r} must be between 0 and 1", param="blend")
        if self.max_frames is not None and not 1 <= self.max_frames <= MAX_FRAMES:
            raise InputError(
                f"frame limit {self.max_frames} must be between 1 and {MAX_FRAMES}",
                param="max_frames",
            )
        if self.size is not None and not 16 <= self.size <= 8192:
            raise InputError(f"size {self.size} must be between 16 and 8192 px", param="size")

    def frame_size(self, info: VideoInfo) -> tuple[int, int]:
        """The size frames are processed at: the video's, or smaller to fit ``size``;
        always even, so the MP4 holds exactly the frames made."""
        longest = self.size if self.size is not None else max(info.width, info.height)
        return fit_longest_side(info.width, info.height, longest)

    def frame_params(self) -> dict[str, Any]:
        """What decides the pixels of each frame (see :meth:`ZoomParams.frame_params`)."""
        params = asdict(self)
        del params["max_frames"]
        return params

    def metadata(self) -> dict[str, Any]:
        return asdict(self)


def _check_fps(fps: float) -> None:
    if not (math.isfinite(fps) and 0.1 <= fps <= 120.0):
        raise InputError(f"frame rate {fps:g} fps must be between 0.1 and 120", param="fps")


def video_metadata(
    job: str,
    params: dict[str, Any],
    *,
    fps: float,
    frames: int,
    source: str | Path | None = None,
    complete: bool = True,
) -> dict[str, Any]:
    """What a video carries about how it was made (MP4 comment and the JSON beside it):
    the job (``"dream-zoom"``, ``"dream-video"``, ``"style-video"``), its parameters, the
    source's file name, the frame rate and how many frames it holds (``complete`` false
    for a video stopped early)."""
    meta: dict[str, Any] = {"job": job, "params": params, "fps": fps, "frames": frames}
    if source is not None:
        meta["source"] = Path(source).name
    meta["complete"] = complete
    return meta


# ------------------------------------------------------------------- time and size


@dataclass(frozen=True)
class Workload:
    """How long a video job will take here, and a smaller size that fits the budget."""

    frames: int
    width: int
    height: int
    seconds: float
    #: a smaller frame size (even sides) and its estimate, when one is worth offering
    suggested_size: tuple[int, int] | None = None
    suggested_seconds: float | None = None

    @property
    def large_frames(self) -> bool:
        return self.width * self.height > LARGE_FRAME_PIXELS

    def text(self) -> str:
        """``300 frames at 1920x1080: about 1:02:30``."""
        about = "about " if self.seconds >= 1 else "under "
        line = f"{self.frames} frames at {self.width}x{self.height}: {about}"
        line += format_duration(max(self.seconds, 1.0))
        if self.suggested_size is not None and self.suggested_seconds is not None:
            width, height = self.suggested_size
            line += f"; at {width}x{height} about {format_duration(self.suggested_seconds)}"
        return line


def estimate_seconds(frames: int, width: int, height: int, seconds_per_megapixel: float) -> float:
    """Processing time of ``frames`` frames: the cost of a frame grows with its pixels (a
    CNN's work does), so one number, seconds per frame of a million pixels, scales it.
    The caller measures that number for its job (steps, network, flow included)."""
    return frames * seconds_per_megapixel * width * height / 1e6


def plan_workload(
    frames: int,
    width: int,
    height: int,
    seconds_per_megapixel: float,
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
) -> Workload:
    """The estimate at this size, and a smaller size when the frames are 4K-class or the
    job takes longer than ``budget_seconds``: the largest size (even sides, aspect kept,
    at most :data:`SUGGESTED_MAX_SIDE` for large frames) that fits the budget, but never
    below :data:`MIN_SUGGESTED_SIDE` on its longest side."""
    seconds = estimate_seconds(frames, width, height, seconds_per_megapixel)
    too_long = seconds > budget_seconds
    large = width * height > LARGE_FRAME_PIXELS
    if not (too_long or large):
        return Workload(frames, width, height, seconds)
    longest = max(width, height)
    target = min(longest, SUGGESTED_MAX_SIDE) if large else longest
    if too_long and seconds > 0:
        # time goes with the pixels, pixels with the square of the side
        target = min(target, int(longest * math.sqrt(budget_seconds / seconds)))
    target = max(target, min(MIN_SUGGESTED_SIDE, longest))
    suggested = fit_longest_side(width, height, target)
    if suggested == even_size(width, height):
        return Workload(frames, width, height, seconds)
    suggested_seconds = estimate_seconds(frames, *suggested, seconds_per_megapixel)
    return Workload(frames, width, height, seconds, suggested, suggested_seconds)


def check_workload(
    info: VideoInfo,
    seconds_per_megapixel: float,
    *,
    size: tuple[int, int] | None = None,
    frames: int | None = None,
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    param: str = "size",
) -> Workload:
    """The :class:`Workload` of a job on ``info`` at ``size`` (default: the video's),
    or an InputError, before it starts, for a very long or 4K-class job that a smaller
    size would help: it names the file, says how long it would take and at which size it
    would be quicker (``remedy=SMALLER_SIZE``, ``details["size"]`` = that longest side).
    A front end that asked the user and was told to go ahead skips this check."""
    width, height = size or (info.width, info.height)
    count = frames if frames is not None else info.frames
    workload = plan_workload(count, width, height, seconds_per_megapixel, budget_seconds)
    counted = "" if info.frames_exact or frames is not None else "about "
    return _refuse_if_long(workload, f"video {info.name}", counted, param, info.path)


def check_zoom_workload(
    source: str,
    frames: int,
    size: tuple[int, int],
    seconds_per_megapixel: float,
    *,
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    param: str = "size",
) -> Workload:
    """:func:`check_workload` for a zoom of ``frames`` frames of ``size`` from the
    picture ``source`` (its file name, or "noise")."""
    workload = plan_workload(frames, *size, seconds_per_megapixel, budget_seconds)
    return _refuse_if_long(workload, f"zoom of {source}", "", param, None)


def _refuse_if_long(
    workload: Workload, label: str, counted: str, param: str, path: str | None
) -> Workload:
    if workload.suggested_size is None:
        return workload
    what = "a 4K-class video" if workload.large_frames else "a long job"
    raise InputError(
        f"{label}: {what}, {counted}{workload.text()}",
        param=param,
        remedy=Remedy.SMALLER_SIZE,
        size=max(workload.suggested_size),
        seconds=workload.seconds,
        suggested_seconds=workload.suggested_seconds,
        path=path,
    )
