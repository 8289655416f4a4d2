"""The flags of the motion jobs on the command line (``cnnstudio dream`` and ``cnnstudio
style`` with a video in, or ``--zoom-frames``), and what they mean as parameters.

    cnnstudio dream INPUT --zoom-frames N [--zoom 1.05] [--rotate DEG] [--shift DX,DY]
        [--fps 12] -o OUT.mp4|OUT.gif [--frames-dir DIR]
    cnnstudio dream VIDEO -o OUT.mp4 [--no-temporal] [--blend 0.5] [--size N] ...
    cnnstudio style VIDEO STYLE... -o OUT.mp4 [--no-temporal] [--temporal-weight W] ...
    cnnstudio style VIDEO --model NAME -o OUT.mp4 [--no-temporal] [--blend 0.5] ...
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from cnnstudio.core.errors import InputError
from cnnstudio.core.images import SAVE_SUFFIXES
from cnnstudio.core.video.params import (
    FLOW_METHODS,
    OUTPUT_SUFFIXES,
    VideoParams,
    ZoomParams,
    is_video_path,
)

_ZOOM = ZoomParams()
_VIDEO = VideoParams()


def add_zoom_flags(parser: argparse.ArgumentParser) -> None:
    """``--zoom-frames`` and the zoom's transform (Dream only)."""
    group = parser.add_argument_group("zoom animation (-o OUT.mp4 or OUT.gif)")
    group.add_argument(
        "--zoom-frames",
        type=int,
        metavar="N",
        help="make a zoom of N frames: each the previous one zoomed in and dreamed again "
        "(default recipe per frame: the motion preset, 1 octave of 10 steps)",
    )
    group.add_argument("--zoom", type=float, help=f"zoom per frame ({_ZOOM.zoom})")
    group.add_argument("--rotate", type=float, metavar="DEG", help="turn per frame, degrees")
    group.add_argument("--shift", metavar="DX,DY", help="move per frame in pixels, e.g. 2,0")
    group.add_argument("--fps", type=float, help=f"frames per second of the zoom ({_ZOOM.fps:g})")


def add_video_flags(parser: argparse.ArgumentParser, *, job: str) -> None:
    """What a video in, video out job takes (``job``: "dream" or "style")."""
    title = "video (INPUT: .mp4, .mov, .webm, .mkv, .avi, .gif)"
    if job == "dream":
        title += "; each frame: the motion preset, 1 octave of 10 steps"
    group = parser.add_argument_group(title)
    group.add_argument(
        "--frames-dir",
        metavar="DIR",
        help="keep every finished frame here (a run stopped with Ctrl+C continues from it; "
        "default: OUT.frames/ beside the output, removed once the video is complete)",
    )
    group.add_argument(
        "--no-temporal",
        action="store_true",
        help="process every frame on its own (default: each starts from the previous "
        "result warped by the optical flow, so the picture does not flicker)",
    )
    group.add_argument(
        "--blend",
        type=float,
        help=f"share of the warped previous result blended in ({_VIDEO.blend:g}; "
        + ("dream" if job == "dream" else "--model")
        + " only)",
    )
    group.add_argument("--flow", choices=FLOW_METHODS, help="optical flow (dis: fast, default)")
    group.add_argument("--max-frames", type=int, metavar="N", help="only the first N frames")
    if job == "dream":
        group.add_argument(
            "--size",
            type=int,
            metavar="N",
            help="longest side of the frames (a video: default its own; a zoom: --max-size)",
        )
    else:
        group.add_argument(
            "--temporal-weight",
            type=float,
            metavar="W",
            help="how strongly a frame keeps to the warped previous result where the flow "
            "is reliable (1000)",
        )


def parse_shift(text: str) -> tuple[float, float]:
    """``2,-1`` -> (2.0, -1.0)."""
    parts = text.split(",")
    try:
        dx, dy = (float(p) for p in parts)
    except ValueError:
        raise InputError(f"--shift {text!r}: give DX,DY in pixels, e.g. 2,0") from None
    if not (math.isfinite(dx) and math.isfinite(dy)):
        raise InputError(f"--shift {text!r}: give DX,DY in pixels, e.g. 2,0")
    return dx, dy


def is_video_job(source: str | None, output: str, zoom_frames: int | None = None) -> bool:
    """Whether the command makes a video: a zoom, or a video file in (a GIF in counts as
    a video when the output is one: ``dream anim.gif -o still.png`` dreams its first
    frame, as it did before)."""
    if zoom_frames is not None:
        return True
    if source is None or not is_video_path(source) or Path(source).is_dir():
        return False
    if Path(source).suffix.lower() == ".gif":
        return Path(output).suffix.lower() in OUTPUT_SUFFIXES
    return True


def check_video_output(output: str) -> None:
    """A video job writes .mp4 or .gif: a picture name is a mistake worth one line."""
    suffix = Path(output).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        made = "a picture name" if suffix in SAVE_SUFFIXES else f"'{suffix or '(no suffix)'}'"
        raise InputError(
            f"-o {Path(output).name}: a video job writes a video, not {made}; "
            "give a name ending in .mp4 or .gif",
            param="output",
        )


def zoom_params(args: argparse.Namespace) -> ZoomParams:
    """The zoom the flags describe."""
    shift = parse_shift(args.shift) if args.shift else (0.0, 0.0)
    params = ZoomParams(
        frames=args.zoom_frames,
        zoom=_ZOOM.zoom if args.zoom is None else args.zoom,
        rotate=args.rotate or 0.0,
        shift_x=shift[0],
        shift_y=shift[1],
        fps=_ZOOM.fps if args.fps is None else args.fps,
    )
    _validated(params)
    return params


def video_params(args: argparse.Namespace, size: int | None) -> VideoParams:
    """The video parameters the flags describe; ``size``: the frames' longest side."""
    params = VideoParams(
        temporal=not args.no_temporal,
        flow=args.flow or _VIDEO.flow,
        blend=_VIDEO.blend if args.blend is None else args.blend,
        max_frames=args.max_frames,
        size=size,
    )
    _validated(params)
    return params


def video_only_flags(args: argparse.Namespace) -> list[str]:
    """The video flags given to a job on a still picture (they would do nothing)."""
    names = ("frames_dir", "blend", "flow", "max_frames", "temporal_weight")
    given = ["--" + n.replace("_", "-") for n in names if getattr(args, n, None) is not None]
    return given + (["--no-temporal"] if getattr(args, "no_temporal", False) else [])


def refuse_video_flags(args: argparse.Namespace) -> None:
    """A still picture: the video flags are a mistake worth one line."""
    given = video_only_flags(args) + zoom_only_flags(args)
    if given:
        raise InputError(
            f"{', '.join(given)}: only for a video in (or a zoom with --zoom-frames N), "
            "written to -o OUT.mp4 or OUT.gif"
        )


def zoom_only_flags(args: argparse.Namespace) -> list[str]:
    """The zoom flags given without ``--zoom-frames`` (they would do nothing)."""
    names = ("zoom", "rotate", "shift", "fps")
    return ["--" + name for name in names if getattr(args, name, None) is not None]


def _validated(params: ZoomParams | VideoParams) -> None:
    try:
        params.validate()
    except InputError as error:
        flag = "--" + (error.param or "").replace("_", "-")
        raise InputError(f"{flag}: {error}", param=error.param) from None
