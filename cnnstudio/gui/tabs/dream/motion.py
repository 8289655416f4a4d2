"""The Dream tab's motion jobs as the form describes them: a zoom from the picture (or the
noise) when "Zoom animation" is ticked, or every frame of the video dropped on the
picture. :func:`motion_spec` builds the :class:`MotionSpec` the tab's
:class:`~cnnstudio.gui.tabs.motion.controller.MotionController` runs; the jobs themselves
are imported in the worker (they load TensorFlow)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core import images
from cnnstudio.core.dream import estimate
from cnnstudio.core.dream import params as dream_core
from cnnstudio.core.errors import InputError
from cnnstudio.core.video.params import FLOW_SECONDS_PER_MEGAPIXEL, VideoParams, even_size
from cnnstudio.gui.messages import describe
from cnnstudio.gui.tabs.motion.controller import MotionSpec

#: the Dream tab (it imports this module)
DreamTab = Any


def zoom_job(*args: Any, **kwargs: Any):
    """Worker: ``core.dream.motion.dream_zoom``."""
    from cnnstudio.core.dream import motion

    return motion.dream_zoom(*args, **kwargs)


def video_job(*args: Any, **kwargs: Any):
    """Worker: ``core.dream.motion.dream_video``."""
    from cnnstudio.core.dream import motion

    return motion.dream_video(*args, **kwargs)


def fingerprint(picture: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(picture).tobytes()).hexdigest()[:16]


def motion_spec(tab: DreamTab, video: VideoParams) -> MotionSpec | None:
    """The zoom or the video the Dream tab's form describes, or None (said why)."""
    params = tab.form.params()
    try:
        dream_core.validate_params(params)
        zoom = tab.form.zoom_group.zoom_params()
        if zoom is not None:
            zoom.validate()
        video.validate()
    except InputError as error:
        tab.show_error(describe(error))
        return None
    model_path = tab.form.library_path()
    model_name = Path(model_path).stem if model_path else None
    identity = {"dream": dream_core.params_to_dict(params), "model": model_name}
    if tab.motion.active():
        return _video_spec(tab, params, video, model_path, identity)
    noise = tab.form.noise_size()
    if noise is None and tab.source_image() is None:
        tab.show_error("Open or drop a picture to zoom into, or choose 'Noise'")
        return None
    if noise is not None:
        width, height = noise
        side = params.max_size or max(width, height)
        scale = min(1.0, side / max(width, height))
        width, height = even_size(round(width * scale), round(height * scale))
        picture, source, label = None, None, "the zoom from noise"
        identity["noise"] = [width, height]
    else:
        picture = tab.source_image()
        shown = images.resize_max_side(picture, params.max_size) if params.max_size else picture
        width, height = even_size(shown.shape[1], shown.shape[0])
        source, label = tab.source_path(), f"the zoom of {tab.source_name()}"
        identity["picture"] = fingerprint(picture)
    identity.update(zoom.frame_params())
    make = functools.partial(
        zoom_job, picture, params, zoom, source=source, noise_size=noise, model=model_path
    )
    stem = Path(tab.source_name() or "noise").stem if noise is None else "noise"
    return MotionSpec(
        job="dream-zoom",
        make=make,
        identity=identity,
        source=source,
        label=label,
        frames=zoom.frames,
        size=(width, height),
        seconds_per_megapixel=estimate.frame_seconds(params),
        suggested_name=f"{stem}-zoom.mp4",
    )


def _video_spec(tab, params, video: VideoParams, model_path, identity: dict) -> MotionSpec:
    from cnnstudio.core.video.perframe import frame_count

    info = tab.motion.video.info
    identity.update(video.frame_params())
    return MotionSpec(
        job="dream-video",
        make=functools.partial(video_job, info, params, video, model=model_path),
        identity=identity,
        source=info.path,
        label=info.name,
        frames=frame_count(info, video),
        size=video.frame_size(info),
        seconds_per_megapixel=estimate.frame_seconds(params) + FLOW_SECONDS_PER_MEGAPIXEL,
        suggested_name=f"{Path(info.name).stem}-dream.mp4",
    )
