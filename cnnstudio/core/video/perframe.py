"""Video in, video out: every frame of a video through a frame job, without flicker.

For frame t (Ruder, Dosovitskiy & Brox 2016): the optical flow of the *input* from frame
t back to frame t-1 warps the previous *output* into line with frame t; that warped frame
starts frame t's job (``init``) and is handed to it with the consistency mask, so a style
job can add its temporal loss (weighted mean squared difference to the warped frame where
the mask is 1) and a dream job can blend it in (as DeepDreamVideo does). Without
``temporal`` every frame starts from itself and no flow is computed.

One frame is in memory at a time (plus the previous input and output): the video is read
as a stream, frames go to the frames folder and the writer as they finish, and a run on a
frames folder that holds the first k frames of this job continues at frame k + 1.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from cnnstudio.core.events import Notice
from cnnstudio.core.video.events import MotionResult
from cnnstudio.core.video.flow import FlickerMeter, FlowEstimator, consistency_mask, warp
from cnnstudio.core.video.frameloop import FrameJob, FrameSink, check_output, drive, run_frame
from cnnstudio.core.video.frames import FramesFolder
from cnnstudio.core.video.params import VideoInfo, VideoParams
from cnnstudio.core.video.reader import read_frames
from cnnstudio.core.video.writer import VideoWriter

#: ``process(frame, init, previous_warped, mask)``: the input frame, the image to start
#: from (the warped previous output, or the frame itself), the warped previous output and
#: the consistency mask (float32 HxW, 1 = reliable; both None for the first frame and
#: without ``temporal``); returns (or a generator of events returns) the output frame
FrameProcessor = Callable[[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None], FrameJob]


def blend_warped(
    frame: np.ndarray, warped: np.ndarray | None, mask: np.ndarray | None, blend: float
) -> np.ndarray:
    """``frame`` with the previous output (``warped`` onto it by the optical flow) blended
    in by ``blend`` where the consistency ``mask`` trusts the flow; elsewhere (what came
    into view, motion boundaries) the frame as it is. DeepDreamVideo's flow mode blends a
    dream's input this way; a fast style model's output is blended so."""
    if warped is None or mask is None or blend <= 0:
        return frame
    weight = blend * np.asarray(mask, np.float32)[..., None]
    mixed = frame.astype(np.float32) * (1.0 - weight) + warped.astype(np.float32) * weight
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def frame_count(info: VideoInfo, params: VideoParams) -> int:
    """How many frames the job makes: the video's, or fewer with ``max_frames``."""
    return min(info.frames, params.max_frames) if params.max_frames else info.frames


def open_writer(
    info: VideoInfo,
    output: str | os.PathLike[str],
    params: VideoParams,
    *,
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> VideoWriter:
    """The writer for a job on ``info``: its frame rate, the processed size, its sound."""
    return VideoWriter(
        output,
        fps=info.fps,
        size=params.frame_size(info),
        audio_from=info.path if info.has_audio else None,
        metadata=metadata,
        overwrite=overwrite,
    )


def process_video(
    info: VideoInfo,
    process: FrameProcessor,
    params: VideoParams,
    *,
    folder: FramesFolder | None = None,
    writer: VideoWriter | None = None,
    measure_flicker: bool = False,
) -> Generator[object, None, MotionResult]:
    """Every frame of the video ``info`` (from :func:`~.reader.probe`) through ``process``.

    Yields the frame jobs' events (Progress as ``FrameProgress`` of the whole video), a
    ``Notice`` for a variable frame rate or a resumed run, and a ``FrameDone`` per frame;
    returns a ``MotionResult``. ``measure_flicker`` also measures the flicker (in
    independent mode too: the flow is then computed for the measure alone)."""
    params.validate()
    frames = frame_count(info, params)
    sink = FrameSink(folder, writer, frames)
    body = _video_frames(info, process, params, sink, frames, measure_flicker)
    return (yield from drive(sink, body))


def _video_frames(
    info: VideoInfo,
    process: FrameProcessor,
    params: VideoParams,
    sink: FrameSink,
    frames: int,
    measure_flicker: bool,
) -> Generator[object, None, float | None]:
    if info.variable_rate:
        yield Notice(info.variable_rate_text())
    start = sink.done
    previous_output = sink.replay()
    if start >= frames:
        return None
    if start:
        yield Notice(f"continuing {info.name} at frame {start + 1} of {frames}")
    flow = FlowEstimator(params.flow) if params.temporal or measure_flicker else None
    meter = FlickerMeter() if measure_flicker else None
    size = params.frame_size(info)
    first = max(start - 1, 0)  # a resumed run needs the input frame before its first
    reader = read_frames(info.path, size=None if size == info.size else size, start=first)
    previous_input = None
    index = first - 1
    try:
        for index, frame in enumerate(reader, start=first):
            if index >= frames and params.max_frames:
                break
            if index < start:
                previous_input = frame
                continue
            backward = mask = warped = None
            if flow is not None and previous_input is not None:
                backward = flow(frame, previous_input)
                mask = consistency_mask(flow(previous_input, frame), backward)
            if params.temporal and backward is not None and previous_output is not None:
                warped = warp(previous_output, backward)
            init = warped if warped is not None else frame
            job = process(frame, init, warped, mask if params.temporal else None)
            output = yield from run_frame(job, index, frames)
            output = check_output(output, frame, index)
            if meter is not None and backward is not None and previous_output is not None:
                meter.add(previous_output, output, backward, mask)
            yield sink.add(output)
            previous_input, previous_output = frame, output
    finally:
        reader.close()
    if index + 1 < frames:
        yield Notice(f"video {info.name} ended after {index + 1} of {frames} frames")
    return meter.mean if meter is not None else None
