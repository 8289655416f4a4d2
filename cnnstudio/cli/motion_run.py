"""Running the motion jobs from the command line: the zoom, Dream on a video, Style on a
video (Gatys or a fast style model); the flags are :mod:`cnnstudio.cli.motion_flags`.

Before a video starts, its estimate is printed ("300 frames at 640x360: about 1:02:30"),
and a job longer than two hours, whatever its frames' size, is refused with what brings it
under: a smaller ``--size`` if one does, else ``--max-frames N`` (``--zoom-frames N`` for a
zoom), and the estimate after it (an explicit ``--size`` is the user's decision and goes
ahead). Progress on stderr: on a terminal an
updating line with the frame, the step inside it and the ETA of the whole video,
otherwise a line per finished frame. Ctrl+C stops after the current step: the frames
finished so far are in the frames folder and the video of them is written (marked
unfinished); running the same command again continues at the next frame and replaces it.
A second Ctrl+C quits at once (the frames folder keeps every finished frame).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any, TextIO

from cnnstudio.cli import motion_flags
from cnnstudio.cli.reporting import JobReporter
from cnnstudio.core import images
from cnnstudio.core.errors import InputError
from cnnstudio.core.eta import Eta, format_duration
from cnnstudio.core.events import Notice, Progress
from cnnstudio.core.video.events import FrameDone, FrameProgress, MotionResult
from cnnstudio.core.video.outputs import MotionOutput
from cnnstudio.core.video.params import (
    FLOW_SECONDS_PER_MEGAPIXEL,
    GPU_SPEEDUP,
    check_workload,
    check_zoom_workload,
    plan_workload,
)


class MotionReporter(JobReporter):
    """Frame i of n, the step inside it and the ETA of the whole job; Ctrl+C stops."""

    def __init__(self, stream: TextIO, quiet: bool, job: str) -> None:
        super().__init__(stream, quiet)
        self.job = job
        self.eta = Eta()
        self.stop_requested = False
        self._frame_started = time.monotonic()
        self._timing = False

    def request_stop(self, *_args: object) -> None:
        """Ctrl+C: stop after the current step; a second one quits at once."""
        self.stop_requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self._line(f"{self.job}: stopping after this step (Ctrl+C again to quit at once)")

    def run(self, generator: Generator[Any, Any, Any]) -> Any:
        """Drive the job; None when it was stopped (the video so far is written)."""
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self.request_stop) if main else None
        try:
            while True:
                if self.stop_requested:
                    generator.close()  # the job writes the video of the frames so far
                    return None
                try:
                    event = next(generator)
                except StopIteration as stop:
                    return stop.value
                self.event(event)
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)

    def job_event(self, event: object) -> None:
        if isinstance(event, FrameProgress):
            self.eta.update(event.done)
            if not self._timing:
                # the first frame is timed from its first step: building the network and
                # compiling the step are not the frame's
                self._timing, self._frame_started = True, time.monotonic()
            if self.tty:
                self.stream.write(
                    f"\r\033[K{self.job}: frame {event.frame}/{event.frames}  "
                    f"step {event.frame_step}/{event.frame_steps}  ETA {self.eta.text()}"
                )
                self.stream.flush()
        elif isinstance(event, FrameDone):
            seconds = time.monotonic() - self._frame_started
            self._frame_started = time.monotonic()
            if not self.tty:
                self._line(
                    f"{self.job}: frame {event.index + 1}/{event.total} done ({seconds:.1f}s), "
                    f"ETA {self.eta.text()}"
                )
        elif isinstance(event, Notice) and not event.text.startswith("octave "):
            self._line(f"{self.job}: {event.text}")
        elif isinstance(event, Progress) and self.tty:
            pass  # a step before the frames (none today): the frame line covers it


def _device_speedup() -> float:
    from cnnstudio.core import device

    return GPU_SPEEDUP if device.configure_devices().kind == "GPU" else 1.0


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr, flush=True)


def _finish(
    reporter: MotionReporter, result: MotionResult | None, where: MotionOutput, job: str
) -> int:
    """The last lines: where the video is, or how to go on after a stop."""
    elapsed = time.monotonic() - reporter.start
    if result is None:
        reporter.done(_stopped_text(where, job, format_duration(elapsed)))
        return 130
    for notice in result.notices:
        reporter._line(f"{job}: {notice}")
    video = result.video
    if video is None:
        raise InputError(f"{job}: no frame was made, so {where.video} was not written")
    kept = f"; frames in {where.frames_dir}" if where.keep_frames else ""
    flicker = f", flicker {result.flicker:.2f}" if result.flicker is not None else ""
    reporter.done(
        f"{job}: wrote {video.path} ({video.frames} frames at {video.fps:.3g} fps{flicker}) "
        f"in {format_duration(elapsed)}; parameters in {video.path.name}.json{kept}"
    )
    return 0


def _stopped_text(where: MotionOutput, job: str, elapsed: str) -> str:
    """What a stop left: the frames on disk (made by this run or an earlier one) and the
    video of them, or nothing when it came before the first frame."""
    from cnnstudio.core.video.frames import FramesFolder

    try:
        folder = FramesFolder.existing(where.frames_dir)
    except InputError:
        folder = None  # removed: no frame was finished
    if folder is None or folder.done == 0:
        return (
            f"{job}: stopped after {elapsed}, before the first frame was finished; "
            "nothing was written"
        )
    holds = f"{where.video} holds them and " if where.video and where.video.is_file() else ""
    return (
        f"{job}: stopped after {folder.done} of {folder.frames} frames in {elapsed}; "
        f"{holds}{where.frames_dir} keeps every frame: run the same command again to continue"
    )


# ------------------------------------------------------------------------------- dream


def run_dream(
    args: argparse.Namespace, params: Any, model: Any, noise_size: tuple[int, int] | None
) -> int:
    """``cnnstudio dream`` making a zoom (``--zoom-frames``) or dreaming a video
    (``params``: the flags' DreamParams; ``noise_size``: ``--noise``, parsed)."""
    from cnnstudio.core.dream import estimate

    motion_flags.check_video_output(args.output)
    if args.zoom_frames is None and motion_flags.zoom_only_flags(args):
        flags = ", ".join(motion_flags.zoom_only_flags(args))
        raise InputError(f"{flags}: only for a zoom; add --zoom-frames N")
    speedup = _device_speedup()
    if model is not None and args.layers is None and args.channel is None:
        from cnnstudio.core.dream import network

        params = params.replace(layers=network.library_default_layers(model))
    rate = estimate.frame_seconds(params) / speedup
    if args.zoom_frames is not None:
        return _dream_zoom(args, params, model, rate, noise_size)
    return _dream_video(args, params, model, rate + FLOW_SECONDS_PER_MEGAPIXEL / speedup)


def _dream_zoom(args, params: Any, model: Any, rate: float, noise_size) -> int:
    from cnnstudio.core.dream import motion

    zoom = motion_flags.zoom_params(args)
    if (args.input is None) == (noise_size is None):
        raise InputError("give a picture to zoom into, or --noise WxH to start from noise")
    if args.size is not None:
        params = params.replace(max_size=args.size)
    image = None
    if args.input is not None:
        image = images.load_image(args.input, max_side=params.max_size)
    first = motion.zoom_first_frame(image, params, noise_size)
    size = (first.shape[1], first.shape[0])
    name = Path(args.input).name if args.input else "noise"
    if args.size is None:
        check_zoom_workload(name, zoom.frames, size, rate)
    _say(args, f"dream: zoom of {name}, {plan_workload(zoom.frames, *size, rate).text()}")
    where = MotionOutput.for_video(args.output, args.frames_dir, args.overwrite)
    reporter = MotionReporter(sys.stderr, args.quiet, "dream")
    job = motion.dream_zoom(
        image, params, zoom, where, source=args.input, noise_size=noise_size, model=model
    )
    return _finish(reporter, reporter.run(job), where, "dream")


def _dream_video(args: argparse.Namespace, params: Any, model: Any, rate: float) -> int:
    from cnnstudio.core.dream import motion
    from cnnstudio.core.video.reader import probe

    if args.noise:
        raise InputError("give either a video or --noise WxH, not both")
    info = probe(args.input)
    video = motion_flags.video_params(args, args.size)
    _check_and_say(args, info, video, rate, "dream")
    where = MotionOutput.for_video(args.output, args.frames_dir, args.overwrite)
    reporter = MotionReporter(sys.stderr, args.quiet, "dream")
    result = reporter.run(motion.dream_video(info, params, video, where, model=model))
    return _finish(reporter, result, where, "dream")


def _check_and_say(args: argparse.Namespace, info: Any, video: Any, rate: float, job: str):
    """The estimate before the video starts; a job over the budget refused (with the
    size or the frame limit that fits) unless ``--size`` was given."""
    from cnnstudio.core.video.perframe import frame_count

    size, frames = video.frame_size(info), frame_count(info, video)
    if args.size is None:
        check_workload(info, rate, size=size, frames=frames)
    _say(args, f"{job}: {info.name}: {plan_workload(frames, *size, rate).text()}")


# ------------------------------------------------------------------------------- style


def run_style(args: argparse.Namespace, parse_params: Any, blend: list[float] | None) -> int:
    """``cnnstudio style VIDEO STYLE... -o OUT.mp4`` or ``... VIDEO --model NAME ...``;
    ``parse_params(args)``: the flags' StyleParams, ``blend``: ``--style-blend``."""
    from cnnstudio.core.style import timing
    from cnnstudio.core.video.reader import probe

    motion_flags.check_video_output(args.output)
    info = probe(args.content)
    video = motion_flags.video_params(args, args.size)
    speedup = _device_speedup()
    where = MotionOutput.for_video(args.output, args.frames_dir, args.overwrite)
    reporter = MotionReporter(sys.stderr, args.quiet, "style")
    if args.model:
        from cnnstudio.cli.style_model import check_fast_flags
        from cnnstudio.core.faststyle import video as fast_video

        check_fast_flags(args)
        rate = (timing.FAST_STYLE_SECONDS_PER_MEGAPIXEL + FLOW_SECONDS_PER_MEGAPIXEL) / speedup
        _check_and_say(args, info, video, rate, "style")
        job = fast_video.fast_style_video(
            info, args.model, video, where, preserve_colors=bool(args.preserve_colors)
        )
        return _finish(reporter, reporter.run(job), where, "style")
    params = parse_params(args)
    return _style_gatys(args, params, blend, info, video, where, reporter, speedup)


def _style_gatys(args, params, blend, info, video, where, reporter, speedup: float) -> int:
    from cnnstudio.core.style import motion, timing
    from cnnstudio.core.style.params import VGG19_MIN_SIZE

    if not args.styles:
        raise InputError("give at least one style image, or a fast style model with --model NAME")
    if args.blend is not None:
        raise InputError("--blend: only with --model (a style transfer keeps to the warped "
                         "frame through --temporal-weight)")  # fmt: skip
    side = max(VGG19_MIN_SIZE, max(video.frame_size(info)))
    styles = [images.load_image(path, max_side=side) for path in args.styles]
    rate = (timing.video_frame_seconds(params) + FLOW_SECONDS_PER_MEGAPIXEL) / speedup
    _check_and_say(args, info, video, rate, "style")
    job = motion.style_video(
        info, styles, params, video, where,
        style_weights=blend, style_names=[Path(p).name for p in args.styles],
    )  # fmt: skip
    return _finish(reporter, reporter.run(job), where, "style")
