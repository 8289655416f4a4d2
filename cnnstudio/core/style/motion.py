"""Style transfer on a video, frame by frame, without flicker (Ruder, Dosovitskiy & Brox
2016, "Artistic style transfer for videos").

- :func:`style_video`: the optimisation of :func:`cnnstudio.core.style.job.stylize` on
  every frame. With ``temporal``, frame t starts from the previous output warped by the
  optical flow onto frame t, and its loss has the temporal term ``temporal_weight x
  mean(mask x (x - warped)^2)``, where the forward-backward consistency mask says the flow
  is reliable (not at disocclusions and motion boundaries); without it every frame is
  painted alone, from ``params.init``.
(A fast style model on a video: :func:`cnnstudio.core.faststyle.video.fast_style_video`.)

It drives :func:`cnnstudio.core.video.perframe.process_video`: frames streamed in and
out, every finished frame in the frames folder, progress over the whole video, a Stop
that writes the video so far, a resume that continues at the next frame. The network is
built once (VGG19 and its compiled steps are cached).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Sequence
from typing import Any

import numpy as np

from cnnstudio.core import backbones
from cnnstudio.core.events import Notice
from cnnstudio.core.style import job
from cnnstudio.core.style.params import BACKBONE, StyleParams, style_metadata
from cnnstudio.core.video.events import MotionResult
from cnnstudio.core.video.outputs import MotionOutput, finish, open_outputs, until_ready
from cnnstudio.core.video.params import VideoInfo, VideoParams
from cnnstudio.core.video.perframe import frame_count, process_video
from cnnstudio.core.weights import ensure_weights_events

VIDEO_JOB = "style-video"


def frame_params(params: StyleParams, size: tuple[int, int]) -> StyleParams:
    """The style params of a frame of ``size`` (width, height): the output is the frame's
    own size, and each frame paints from one starting picture (no multi-scale pass)."""
    return dataclasses.replace(params, size=max(size), multi_scale=False)


def _once_each(inner: Generator[Any, None, Any], seen: set[str]) -> Generator[Any, None, Any]:
    """``inner``'s events, a Notice only the first time its text comes (an untrained
    network is said once per video, not once per frame)."""
    try:
        event = next(inner)
        while True:
            if not (isinstance(event, Notice) and event.text in seen):
                if isinstance(event, Notice):
                    seen.add(event.text)
                yield event
            event = next(inner)
    except StopIteration as stop:
        return stop.value
    finally:
        inner.close()


def style_video(
    info: VideoInfo,
    styles: Sequence[np.ndarray],
    params: StyleParams,
    video: VideoParams,
    where: MotionOutput,
    *,
    style_weights: Sequence[float] | None = None,
    style_names: Sequence[str] = (),
    measure_flicker: bool = False,
) -> Generator[Any, None, MotionResult]:
    """Every frame of ``info`` painted in the style of ``styles`` (uint8 RGB) with
    ``params`` (its ``size`` is the frame's: ``video.frame_size(info)``), the temporal
    term weighted ``params.temporal_weight``. Frames go to ``where`` as they finish."""
    video.validate()
    size = video.frame_size(info)
    params = frame_params(params, size)
    params.validate()
    frames = frame_count(info, video)
    names = list(style_names) or [f"style {i + 1}" for i in range(len(styles))]
    meta = {
        "style": style_metadata(
            params, content=info.name, styles=names, style_blend=style_weights, output_size=size
        ),
        "video": video.metadata(),
    }
    identity = {
        "style": dataclasses.asdict(params),
        "styles": [_fingerprint(s) for s in styles],
        "style_blend": list(style_weights) if style_weights is not None else None,
        **video.frame_params(),
    }
    folder, writer = open_outputs(
        where,
        job=VIDEO_JOB,
        frame_params=identity,
        params=meta,
        fps=info.fps,
        frames=frames,
        size=size,
        source=info.path,
        audio_from=info.path if info.has_audio else None,
    )
    model = yield from until_ready(folder, writer, _vgg19(params))
    seen: set[str] = set()

    def paint(frame, init, warped, mask):
        temporal = (warped, mask) if warped is not None and mask is not None else None
        inner = job.stylize(
            frame,
            list(styles),
            params,
            style_weights=style_weights,
            model=model,
            start=init if temporal is not None else None,
            temporal=temporal,
        )
        return _once_each(inner, seen)

    result = yield from process_video(
        info, paint, video, folder=folder, writer=writer, measure_flicker=measure_flicker
    )
    finish(where, folder, complete=result.frames >= frames)
    return result


def _vgg19(params: StyleParams) -> Generator[Any, None, Any]:
    """VGG19 with the params' weights, built once for every frame (downloaded first)."""
    yield from ensure_weights_events(backbones.get_backbone(BACKBONE), params.weights)
    return backbones.build_backbone(BACKBONE, params.weights, include_top=False)


def _fingerprint(picture: np.ndarray) -> str:
    """A short digest of a style picture: the frames folder continues only with the same."""
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(picture).tobytes()).hexdigest()[:16]
