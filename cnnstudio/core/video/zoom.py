"""The endless zoom of the original DeepDream videos: each frame is the previous output
zoomed in a little about the centre (optionally turned and shifted), then dreamed for a
few steps, so new dream detail keeps growing out of the middle.

:func:`zoom_frame` is the transform, on uint8 RGB frames; :func:`zoom_animation` is the
loop. It calls ``process(frame, index)`` for every frame: the Dream job plugs in there
(a generator of events that returns the dreamed frame; see :mod:`.frameloop`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import cv2
import numpy as np

from cnnstudio.core.events import Notice
from cnnstudio.core.video.events import MotionResult
from cnnstudio.core.video.frameloop import FrameJob, FrameSink, check_output, drive, run_frame
from cnnstudio.core.video.frames import FramesFolder
from cnnstudio.core.video.params import ZoomParams
from cnnstudio.core.video.writer import VideoWriter

#: ``process(frame, index)``: the frame to dream and its index, returning the dreamed frame
ZoomProcess = Callable[[np.ndarray, int], FrameJob]


def zoom_frame(
    frame: np.ndarray,
    zoom: float = 1.05,
    rotate: float = 0.0,
    shift: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """``frame`` magnified by ``zoom`` about its centre (the middle 1/zoom of it, cropped
    and resized to the full frame), turned ``rotate`` degrees counter-clockwise and moved
    ``shift`` = (right, down) pixels; same size and dtype. One resampling (bicubic) does
    all three, so repeated zooms blur as little as they can; where turning or zooming out
    uncovers the corners, the picture is mirrored in."""
    height, width = frame.shape[:2]
    centre = ((width - 1) / 2.0, (height - 1) / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, rotate, zoom)
    matrix[0, 2] += shift[0]
    matrix[1, 2] += shift[1]
    return cv2.warpAffine(
        frame, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
    )


def zoom_animation(
    first: np.ndarray,
    params: ZoomParams,
    process: ZoomProcess,
    *,
    folder: FramesFolder | None = None,
    writer: VideoWriter | None = None,
) -> Generator[object, None, MotionResult]:
    """The zoom as a job: frame 0 is ``process(first, 0)``, frame i is ``process`` of
    frame i-1 zoomed. Yields the frame jobs' events (their Progress as ``FrameProgress``
    of the whole animation) and a ``FrameDone`` per frame; returns a ``MotionResult``.

    With a ``folder`` that holds frames of this zoom, it continues after the last one
    (and a longer ``params.frames`` makes the zoom longer). Frames go to the ``writer``
    as they finish; closing the job (Stop) writes the video of the frames so far."""
    params.validate()
    sink = FrameSink(folder, writer, params.frames)
    return (yield from drive(sink, _zoom_frames(first, params, process, sink)))


def _zoom_frames(
    first: np.ndarray, params: ZoomParams, process: ZoomProcess, sink: FrameSink
) -> Generator[object, None, None]:
    frames = params.frames
    start = sink.done
    previous = sink.replay()
    if start:
        yield Notice(f"continuing the zoom at frame {start + 1} of {frames}")
    shift = (params.shift_x, params.shift_y)
    for index in range(start, frames):
        if previous is None:
            frame = first
        else:
            frame = zoom_frame(previous, params.zoom, params.rotate, shift)
        output = yield from run_frame(process(frame, index), index, frames)
        output = check_output(output, frame, index)
        yield sink.add(output)
        previous = output
    return None
