"""The Style tab's video: a video dropped on the content slot is painted frame by frame
(Ruder et al. 2016: each frame starts from the previous result warped by the optical
flow, and a temporal loss keeps it there where the flow is reliable). :class:`StyleVideo`
is the host the tab's :class:`~cnnstudio.gui.tabs.motion.controller.MotionController`
asks: the job from the pictures and the form, what the tab shows as it starts."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core.errors import InputError
from cnnstudio.core.style import timing
from cnnstudio.core.video.params import FLOW_SECONDS_PER_MEGAPIXEL, VideoParams
from cnnstudio.gui.messages import describe
from cnnstudio.gui.tabs.motion.controller import MotionSpec
from cnnstudio.gui.tabs.style.estimate import session_rate

#: the Style tab (it imports this module)
StyleTab = Any


def video_job(*args: Any, **kwargs: Any):
    """Worker: ``core.style.motion.style_video``."""
    from cnnstudio.core.style import motion

    return motion.style_video(*args, **kwargs)


class StyleVideo:
    """What the motion controller asks the Style tab."""

    def __init__(self, tab: StyleTab) -> None:
        self.tab = tab

    def zoom_enabled(self) -> bool:
        return False

    def motion_spec(self, video: VideoParams) -> MotionSpec | None:
        """Every frame of the video painted with the tab's styles and form, or None."""
        from cnnstudio.core.style.motion import frame_params
        from cnnstudio.core.video.perframe import frame_count

        tab = self.tab
        styles = list(tab.pictures.styles)
        if not styles:
            message = "Add at least one style picture: the video is painted in its style"
            tab.status.emit(message)
            tab.show_error(message)
            return None
        info = tab.motion.video.info
        params = dataclasses.replace(
            tab.form.params(), temporal_weight=tab.motion.panel.temporal_weight()
        )
        blend = tab.pictures.style_blend()
        size = video.frame_size(info)
        try:
            video.validate()
            frame_params(params, size).validate()
            if sum(blend) <= 0:
                raise InputError("every style weight is 0: give at least one style a weight")
        except InputError as error:
            tab.show_error(describe(error))
            return None
        identity = {
            "style": dataclasses.asdict(frame_params(params, size)),
            "styles": [_fingerprint(s.image) for s in styles],
            "style_blend": blend,
            **video.frame_params(),
        }
        make = functools.partial(
            video_job, info, [s.image for s in styles], params, video,
            style_weights=blend, style_names=[s.name for s in styles],
        )  # fmt: skip
        rate = timing.video_frame_seconds(params, session_rate()) + FLOW_SECONDS_PER_MEGAPIXEL
        return MotionSpec(
            job="style-video",
            make=make,
            identity=identity,
            source=info.path,
            label=info.name,
            frames=frame_count(info, video),
            size=size,
            seconds_per_megapixel=rate,
            suggested_name=f"{Path(info.name).stem}-style.mp4",
        )

    def motion_started(self, spec: MotionSpec) -> None:
        tab = self.tab
        tab._run_params = tab.form.params()
        tab._run_meta = {"content": spec.label, "styles": [s.name for s in tab.pictures.styles]}
        tab.snapshot_bar.clear()
        tab._next_snapshot = 2**62  # the strip keeps the frames: no snapshots
        tab._reset_for_run(tab.motion.video.first)
        tab._announce_run(spec.label, "Painting")

    def use_smaller_size(self, side: int) -> None:
        self.tab.motion.panel.size_spin.setValue(side)

    def video_opened(self, opened) -> None:
        """The video's first frame is the content shown; Run paints every frame."""
        self.tab.set_content(opened.first, opened.info.name)

    def video_closed(self) -> None:
        self.tab.status.emit("Style: back to pictures (the content is the video's first frame)")


def _fingerprint(picture: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(picture).tobytes()).hexdigest()[:16]
