"""Dream in motion: the endless zoom, and a video dreamed frame by frame without flicker.

Both are generator jobs like :func:`cnnstudio.core.dream.job.dream`, built from the
drivers of :mod:`cnnstudio.core.video` (frames folder, streamed writer, FrameProgress over
the whole job, Stop that keeps the finished frames and writes the video so far) and one
:class:`~cnnstudio.core.dream.job.DreamSession`: the network is built and the step
compiled once, then every frame is a few steps on it.

- :func:`dream_zoom`: frame 0 is the picture dreamed; frame i is frame i-1 zoomed (turned,
  shifted) and dreamed again, so new dream detail grows out of the middle.
- :func:`dream_video`: every frame of a video dreamed. With ``temporal`` (DeepDreamVideo's
  optical-flow mode) the previous dreamed frame, warped by the optical flow onto this
  frame, is blended into this frame's input where the flow is reliable, and blended again
  into the dreamed result, so the dream follows the motion and grows steadily instead of
  boiling; without it each frame is dreamed alone.

Imports TensorFlow (through the dream job): front ends import this module in the worker.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core.dream import job
from cnnstudio.core.dream.params import DreamParams, dream_metadata, params_to_dict
from cnnstudio.core.video.events import MotionResult
from cnnstudio.core.video.outputs import MotionOutput, finish, open_outputs, until_ready
from cnnstudio.core.video.params import VideoInfo, VideoParams, ZoomParams, even_size
from cnnstudio.core.video.perframe import blend_warped, frame_count, process_video
from cnnstudio.core.video.zoom import zoom_animation

ZOOM_JOB = "dream-zoom"
VIDEO_JOB = "dream-video"


def frame_seed(params: DreamParams, index: int) -> Any:
    """The random rolls of frame ``index``: its own, from the params' seed (a resumed
    job makes the frames an uninterrupted one would), or fresh without a seed."""
    return None if params.seed is None else [int(params.seed), index]


def _model_name(model: Any) -> str | None:
    """A library model's name (the metadata says what dreamed), None for a backbone."""
    if model is None:
        return None
    if isinstance(model, (str, os.PathLike)):
        return Path(model).stem
    name = getattr(model, "name", None)
    return str(name) if name is not None else None


def zoom_first_frame(image: np.ndarray | None, params: DreamParams, noise_size=None) -> np.ndarray:
    """The picture the zoom starts from: the image (or noise) at the dream's working size,
    with even sides (an MP4 keeps every pixel)."""
    first = job.start_image(image, params, noise_size)
    width, height = even_size(first.shape[1], first.shape[0])
    return np.ascontiguousarray(first[:height, :width])


def dream_zoom(
    image: np.ndarray | None,
    params: DreamParams,
    zoom: ZoomParams,
    where: MotionOutput,
    *,
    source: str | None = None,
    noise_size: tuple[int, int] | None = None,
    model: Any = None,
) -> Generator[Any, None, MotionResult]:
    """The zoom of ``zoom.frames`` frames from ``image`` (uint8 RGB; None: noise of
    ``noise_size``), each dreamed with ``params`` (the ``motion`` preset: one octave, a
    few steps). Frames go to ``where.frames_dir`` (continued if it holds this zoom's) and,
    if ``where.video`` is set, into that MP4 or GIF as they finish. ``source``: the
    picture's file (its name goes into the metadata; its size identifies the job)."""
    zoom.validate()
    first = zoom_first_frame(image, params, noise_size)
    model_name = _model_name(model)
    frame_params = {"dream": params_to_dict(params), **zoom.frame_params(), "model": model_name}
    if image is None:
        frame_params["noise"] = [first.shape[1], first.shape[0]]
    meta = {
        "dream": dream_metadata(params, model_name=model_name),
        "zoom": zoom.metadata(),
        "size": [first.shape[1], first.shape[0]],
    }
    folder, writer = open_outputs(
        where,
        job=ZOOM_JOB,
        frame_params=frame_params,
        params=meta,
        fps=zoom.fps,
        frames=zoom.frames,
        size=(first.shape[1], first.shape[0]),
        source=source,
    )
    session = yield from until_ready(folder, writer, job.prepare(params, model=model))

    def dream_frame(frame: np.ndarray, index: int):
        return session.run(frame, seed=frame_seed(params, index))

    result = yield from zoom_animation(first, zoom, dream_frame, folder=folder, writer=writer)
    finish(where, folder, complete=result.frames >= zoom.frames)
    return result


def dream_video(
    info: VideoInfo,
    params: DreamParams,
    video: VideoParams,
    where: MotionOutput,
    *,
    model: Any = None,
    measure_flicker: bool = False,
) -> Generator[Any, None, MotionResult]:
    """Every frame of the video ``info`` (from ``reader.probe``) dreamed with ``params``
    at ``video.frame_size(info)``; with ``video.temporal`` the warped previous dreamed
    frame is blended into each input and each result (``video.blend``). Frames go to the frames folder
    (a run on a folder with this job's first k frames continues at frame k + 1) and the
    video, at the source's frame rate with its sound, as they finish."""
    video.validate()
    size = video.frame_size(info)
    frames = frame_count(info, video)
    model_name = _model_name(model)
    frame_params = {"dream": params_to_dict(params), **video.frame_params(), "model": model_name}
    meta = {
        "dream": dream_metadata(params, source=info.name, size=size, model_name=model_name),
        "video": video.metadata(),
    }
    folder, writer = open_outputs(
        where,
        job=VIDEO_JOB,
        frame_params=frame_params,
        params=meta,
        fps=info.fps,
        frames=frames,
        size=size,
        source=info.path,
        audio_from=info.path if info.has_audio else None,
    )
    session = yield from until_ready(folder, writer, job.prepare(params, model=model))
    index = folder.done

    def dream_frame(frame, _init, warped, mask):
        nonlocal index
        seed = frame_seed(params, index)
        index += 1
        dreamed = yield from session.run(blend_warped(frame, warped, mask, video.blend), seed=seed)
        # what the new steps added is blended with the warped previous dream as well: the
        # dream grows steadily along the motion instead of boiling (bench_motion: a third
        # of the flicker of independent frames, against two thirds with the input alone)
        return blend_warped(dreamed, warped, mask, video.blend)

    result = yield from process_video(
        info, dream_frame, video, folder=folder, writer=writer, measure_flicker=measure_flicker
    )
    finish(where, folder, complete=result.frames >= frames)
    return result
