"""A fast style model on a video: every frame styled in one pass (the network of
Johnson et al. 2016, trained by :mod:`cnnstudio.core.faststyle.job`), without flicker:
with ``VideoParams.temporal`` the previous output, warped by the optical flow onto the
frame, is blended into the styled frame (``VideoParams.blend``) where the
forward-backward consistency mask says the flow is reliable.

It drives :func:`cnnstudio.core.video.perframe.process_video` as the Gatys video does
(:mod:`cnnstudio.core.style.motion`): frames folder, streamed writer, progress over the
whole video, Stop and resume. Imports TensorFlow (through :mod:`.apply`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from cnnstudio.core.events import Progress
from cnnstudio.core.faststyle import apply
from cnnstudio.core.faststyle.params import VIDEO_JOB
from cnnstudio.core.video.events import MotionResult
from cnnstudio.core.video.outputs import MotionOutput, finish, open_outputs
from cnnstudio.core.video.params import VideoInfo, VideoParams
from cnnstudio.core.video.perframe import blend_warped, frame_count, process_video

__all__ = ["VIDEO_JOB", "fast_style_video"]


def fast_style_video(
    info: VideoInfo,
    model: Any,
    video: VideoParams,
    where: MotionOutput,
    *,
    preserve_colors: bool = False,
    measure_flicker: bool = False,
) -> Generator[Any, None, MotionResult]:
    """Every frame of ``info`` styled in one pass by the fast style model ``model`` (a
    library name, entry or ``.keras`` file); with ``video.temporal`` the warped previous
    output is blended in by ``video.blend`` where the flow is reliable."""
    video.validate()
    style_model = apply.load_style_model(model)
    size = video.frame_size(info)
    frames = frame_count(info, video)
    described = {
        "mode": "fast style model",
        "model": style_model.name,
        "model_styles": style_model.meta.get("styles"),
        "preserve_colors": preserve_colors or style_model.trained_on_luminance,
    }
    folder, writer = open_outputs(
        where,
        job=VIDEO_JOB,
        frame_params={**described, **video.frame_params()},
        params={"style": {"job": "style", **described}, "video": video.metadata()},
        fps=info.fps,
        frames=frames,
        size=size,
        source=info.path,
        audio_from=info.path if info.has_audio else None,
    )

    def one_pass(frame, _init, warped, mask):
        styled = apply.stylize(style_model, frame, preserve_colors=preserve_colors)
        yield Progress(step=1, total=1, loss=0.0, message="one pass")
        return blend_warped(styled, warped, mask, video.blend)

    result = yield from process_video(
        info, one_pass, video, folder=folder, writer=writer, measure_flicker=measure_flicker
    )
    finish(where, folder, complete=result.frames >= frames)
    return result
