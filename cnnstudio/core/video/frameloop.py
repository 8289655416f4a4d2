"""What the motion drivers share: one frame's job inside the video's progress, and where
finished frames go.

A frame's job is the still-image job it comes from (a few dream steps, a style run): a
generator that yields ``Progress``/``Preview``/``Notice`` and returns the frame (a plain
function returning the frame will do too). :func:`run_frame` passes its events on, with
each ``Progress`` re-told as a :class:`FrameProgress` of the whole video (its fraction is
``(frames done + this frame's share) / frames``, so the one ``Eta`` gives the time left
for the video). :class:`FrameSink` saves each finished frame in the frames folder and
streams it to the writer; :func:`drive` gives every driver the same ending: when the job
is closed (Stop) the video so far is written, on an error the writer is abandoned and the
frames folder keeps every finished frame for a resume (a folder with none is removed).
"""

from __future__ import annotations

import inspect
from collections.abc import Generator
from typing import Any

import numpy as np

from cnnstudio.core.events import Progress
from cnnstudio.core.video.events import FrameDone, FrameProgress, MotionResult, WrittenVideo
from cnnstudio.core.video.frames import FramesFolder
from cnnstudio.core.video.writer import VideoWriter

#: what a frame's job is: a generator of events returning the frame, or the frame itself
FrameJob = Generator[object, None, np.ndarray] | np.ndarray


def frame_event(event: object, index: int, frames: int) -> object:
    """``event`` from the job of frame ``index`` as the video's event: a ``Progress``
    becomes a :class:`FrameProgress`, anything else passes as it is."""
    if not isinstance(event, Progress) or isinstance(event, FrameProgress):
        return event
    frames = max(frames, index + 1)
    steps = max(event.total, 1)
    inner = f", {event.message}" if event.message else ""
    return FrameProgress(
        step=index * steps + event.step,
        total=frames * steps,
        loss=event.loss,
        terms=event.terms,
        stage=event.stage,
        stages=event.stages,
        message=f"frame {index + 1} of {frames}{inner}",
        fraction=min((index + event.done) / frames, 1.0),
        frame=index + 1,
        frames=frames,
        frame_step=event.step,
        frame_steps=event.total,
    )


def run_frame(job: FrameJob, index: int, frames: int) -> Generator[object, None, np.ndarray]:
    """Drive one frame's job (``yield from``): its events re-told for the video, its
    frame returned. Closing the driver closes the frame's job too."""
    if not inspect.isgenerator(job):
        return job
    try:
        event = next(job)
        while True:
            yield frame_event(event, index, frames)
            event = next(job)
    except StopIteration as stop:
        return stop.value
    finally:
        job.close()


def check_output(output: Any, frame: np.ndarray, index: int) -> np.ndarray:
    """A frame job's result must be a uint8 RGB frame of the input frame's size."""
    if (
        not isinstance(output, np.ndarray)
        or output.dtype != np.uint8
        or output.shape != frame.shape
    ):
        got = getattr(output, "shape", type(output).__name__), getattr(output, "dtype", "")
        raise ValueError(
            f"frame {index + 1}: the frame job returned {got}, expected {frame.shape} uint8"
        )
    return output


class FrameSink:
    """Where finished frames go: the frames folder (if any) and the writer (if any)."""

    def __init__(self, folder: FramesFolder | None, writer: VideoWriter | None, frames: int):
        self.folder = folder
        self.writer = writer
        self.frames = frames
        self.done = folder.done if folder is not None else 0
        self.notices: list[str] = []

    def replay(self) -> np.ndarray | None:
        """Stream the frames a previous run finished to the writer; the last of them."""
        last = None
        if self.folder is None or self.done == 0:
            return None
        if self.writer is None:
            return self.folder.read(self.done - 1)
        for frame in self.folder.iter_frames(0, self.done):
            self.writer.write(frame)
            last = frame
        return last

    def add(self, frame: np.ndarray) -> FrameDone:
        """Save and stream the next frame; the event that announces it."""
        index = self.done
        path = self.folder.add(frame) if self.folder is not None else None
        if self.writer is not None:
            self.writer.write(frame)
        self.done += 1
        return FrameDone(
            image=frame,
            step=index + 1,
            total=max(self.frames, index + 1),
            index=index,
            path=str(path) if path is not None else "",
        )

    def finish(self, complete: bool = True) -> WrittenVideo | None:
        """Write the video of the frames so far (``complete`` false after a Stop)."""
        if self.writer is None:
            return None
        video = self.writer.close(complete=complete)
        if video is not None:
            self.notices += video.notices
        return video

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
        self.forget_if_empty()

    def forget_if_empty(self) -> None:
        """No frame was made (an error or a Stop before the first, a video with none):
        the frames folder goes, so the next run starts afresh instead of finding it."""
        if self.folder is not None and self.done == 0:
            self.folder.discard_if_empty()


def drive(
    sink: FrameSink, body: Generator[object, None, float | None]
) -> Generator[object, None, MotionResult]:
    """Run a driver's frame loop ``body`` (which returns the flicker, if measured) with
    the ending every motion job has: done or stopped, the video of the finished frames is
    written; on an error it is abandoned (the frames folder keeps the frames)."""
    try:
        measured = yield from body
    except GeneratorExit:
        sink.finish(complete=False)  # Stop: keep the video so far
        sink.forget_if_empty()
        raise
    except BaseException:
        sink.abort()
        raise
    video = sink.finish()
    sink.forget_if_empty()
    return MotionResult(
        frames=sink.done,
        frames_dir=sink.folder.folder if sink.folder is not None else None,
        video=video,
        flicker=measured,
        notices=tuple(sink.notices),
    )
