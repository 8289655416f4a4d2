"""Parameters of the motion jobs, what a probed video is, and what a run will cost.

Imports neither OpenCV nor imageio (the window imports this at start-up): dataclasses,
limits, validation, the metadata saved with a video, and the estimate of how long a video
will take, which lets a front end say so before a long job starts and offer what brings it
under the budget: a smaller size, or fewer frames.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
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
#: a job estimated to take longer than this asks (the window) or is refused (the command
#: line) before it starts, whatever the size of its frames
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
    """How long a video job will take here and, when that is over the budget, what would
    bring it under: a smaller frame size if one (not below :data:`MIN_SUGGESTED_SIDE`)
    does, else fewer frames at this size."""

    frames: int
    width: int
    height: int
    seconds: float
    budget: float = DEFAULT_BUDGET_SECONDS
    #: a smaller frame size (even sides) and its estimate, when one fits the budget
    suggested_size: tuple[int, int] | None = None
    suggested_seconds: float | None = None
    #: the number of frames that fits the budget at this size, when no size does
    suggested_frames: int | None = None
    suggested_frames_seconds: float | None = None

    @property
    def too_long(self) -> bool:
        """The job takes longer than the budget: a front end asks (or refuses) first."""
        return self.seconds > self.budget

    def text(self) -> str:
        """``300 frames at 1920x1080: about 5:02:30; at 1280x720 about 1:59:10``."""
        about = "about " if self.seconds >= 1 else "under "
        line = f"{self.frames} frames at {self.width}x{self.height}: {about}"
        line += format_duration(max(self.seconds, 1.0))
        if self.suggested_size is not None and self.suggested_seconds is not None:
            width, height = self.suggested_size
            line += f"; at {width}x{height} about {format_duration(self.suggested_seconds)}"
        elif self.suggested_frames is not None and self.suggested_frames_seconds is not None:
            first = self.suggested_frames
            first_frames = "the first frame" if first == 1 else f"the first {first} frames"
            line += f"; {first_frames} about {format_duration(self.suggested_frames_seconds)}"
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
    """The estimate at this size and, for a job longer than ``budget_seconds`` (whatever
    its frames' size), what brings it under: the largest smaller size (even sides, aspect
    kept, longest side at least :data:`MIN_SUGGESTED_SIDE`) whose estimate fits, or if no
    such size fits, the most frames that fit at this size (none when not even one does)."""
    seconds = estimate_seconds(frames, width, height, seconds_per_megapixel)
    plain = Workload(frames, width, height, seconds, budget_seconds)
    if seconds <= budget_seconds or frames < 1:
        return plain
    longest = max(width, height)
    # time goes with the pixels, pixels with the square of the side
    target = int(longest * math.sqrt(budget_seconds / seconds))
    if target >= min(MIN_SUGGESTED_SIDE, longest):
        size = fit_longest_side(width, height, target)
        size_seconds = estimate_seconds(frames, *size, seconds_per_megapixel)
        if size != even_size(width, height) and size_seconds <= budget_seconds:
            return replace(plain, suggested_size=size, suggested_seconds=size_seconds)
    per_frame = seconds / frames
    fitting = int(budget_seconds // per_frame) if per_frame > 0 else frames
    if 1 <= fitting < frames:
        return replace(
            plain, suggested_frames=fitting, suggested_frames_seconds=fitting * per_frame
        )
    return plain


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
    or an InputError, before it starts, for a job longer than the budget: it names the
    file, says how long it would take and what would bring it under (``remedy=LONG_JOB``,
    ``details``: ``size``, the longest side that fits, or ``frames``, the frames that fit,
    with ``frames_param`` "max_frames"; ``own_size``, the longest side as it is). A front
    end that asked the user and was told to go ahead skips this check."""
    width, height = size or (info.width, info.height)
    count = frames if frames is not None else info.frames
    workload = plan_workload(count, width, height, seconds_per_megapixel, budget_seconds)
    counted = "" if info.frames_exact or frames is not None else "about "
    label = f"video {info.name}"
    return _refuse_if_long(workload, label, counted, param, "max_frames", info.path)


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
    picture ``source`` (its file name, or "noise"); fewer frames are ``zoom_frames``."""
    workload = plan_workload(frames, *size, seconds_per_megapixel, budget_seconds)
    return _refuse_if_long(workload, f"zoom of {source}", "", param, "zoom_frames", None)


def _refuse_if_long(
    workload: Workload,
    label: str,
    counted: str,
    param: str,
    frames_param: str,
    path: str | None,
) -> Workload:
    if not workload.too_long:
        return workload
    details: dict[str, Any] = {}
    if workload.suggested_size is not None:
        details["size"] = max(workload.suggested_size)
    if workload.suggested_frames is not None:
        details.update(frames=workload.suggested_frames, frames_param=frames_param)
    raise InputError(
        f"{label}: a long job (over {format_duration(workload.budget)}), "
        f"{counted}{workload.text()}",
        param=param,
        remedy=Remedy.LONG_JOB,
        own_size=max(workload.width, workload.height),
        seconds=workload.seconds,
        path=path,
        **details,
    )
