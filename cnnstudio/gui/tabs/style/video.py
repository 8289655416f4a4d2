"""The Style tab's video: a video dropped on the content slot is painted frame by frame,
by what the motion panel's "Paint with" says (:mod:`.video_painter`): the optimisation
(Ruder et al. 2016: each frame starts from the previous result warped by the optical
flow, and a temporal loss keeps it there where the flow is reliable), or a fast style
model of the library (one pass per frame, the warped previous output blended in:
``core.faststyle.video``). :class:`StyleVideo` is the host the tab's
:class:`~cnnstudio.gui.tabs.motion.controller.MotionController` asks: the job from the
pictures and the form (or the chosen model), what the tab shows as it starts."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core.errors import InputError
from cnnstudio.core.faststyle.params import VIDEO_JOB as FAST_VIDEO_JOB
from cnnstudio.core.style import timing
from cnnstudio.core.video.params import FLOW_SECONDS_PER_MEGAPIXEL, VideoParams
from cnnstudio.gui.messages import describe, sentence
from cnnstudio.gui.tabs.motion.controller import MotionSpec
from cnnstudio.gui.tabs.style.estimate import session_rate
from cnnstudio.gui.tabs.style.video_painter import VideoPainter

#: the Style tab (it imports this module)
StyleTab = Any


def video_job(*args: Any, **kwargs: Any):
    """Worker: ``core.style.motion.style_video``."""
    from cnnstudio.core.style import motion

    return motion.style_video(*args, **kwargs)


def fast_video_job(*args: Any, **kwargs: Any):
    """Worker: ``core.faststyle.video.fast_style_video`` (it imports TensorFlow)."""
    from cnnstudio.core.faststyle import video

    return video.fast_style_video(*args, **kwargs)


class StyleVideo:
    """What the motion controller asks the Style tab."""

    def __init__(self, tab: StyleTab) -> None:
        self.tab = tab
        self.painter: VideoPainter | None = None

    def build_painter(self) -> VideoPainter:
        """The "Paint with" row in the motion panel (the panel exists once the tab's
        controller does); it cannot change while a job runs."""
        tab = self.tab
        painter = VideoPainter(tab.motion.panel)
        tab.motion.panel.add_row(painter)
        painter.status.connect(tab.status)
        tab.runner.started.connect(lambda: painter.setEnabled(False))
        tab.runner.done.connect(lambda: painter.setEnabled(True))
        self.painter = painter
        # the run time over Run follows what decides it
        painter.changed.connect(self.update_estimate)
        tab.motion.panel.size_spin.valueChanged.connect(self.update_estimate)
        tab.form.changed.connect(self.update_estimate)
        tab.estimate.runner.finished.connect(self.update_estimate)
        return painter

    def frame_seconds(self) -> float:
        """A frame's seconds per megapixel with the painter chosen (flow included), on the
        benchmarks' CPU or at the speed measured in this session."""
        if self.painter is not None and self.painter.model_name():
            return timing.FAST_STYLE_SECONDS_PER_MEGAPIXEL + FLOW_SECONDS_PER_MEGAPIXEL
        frame = timing.video_frame_seconds(self.tab.form.params(), session_rate())
        return frame + FLOW_SECONDS_PER_MEGAPIXEL

    def update_estimate(self) -> None:
        """The line over Run: the whole video's time while one is open."""
        from cnnstudio.core.video.params import plan_workload
        from cnnstudio.core.video.perframe import frame_count

        motion = self.tab.motion
        if not motion.active():
            self.tab.estimate.set_video(None)
            return
        info, video = motion.video.info, motion.panel.video_params()
        workload = plan_workload(
            frame_count(info, video), *video.frame_size(info), self.frame_seconds() / motion.speedup
        )
        painter = self.painter.model_name() if self.painter is not None else ""
        by = f"the style model '{painter}'" if painter else "the optimisation"
        self.tab.estimate.set_video(f"Video, painted by {by}: {workload.text()} on this computer")

    def zoom_enabled(self) -> bool:
        return False

    def motion_spec(self, video: VideoParams) -> MotionSpec | None:
        """Every frame of the video painted with the tab's styles and form, or with the
        style model chosen in "Paint with"; None after saying why not."""
        if self.painter is not None and self.painter.model_name():
            return self._fast_spec(video)
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

    def _fast_spec(self, video: VideoParams) -> MotionSpec | None:
        """Every frame styled by the chosen style model (no style pictures needed)."""
        from cnnstudio.core.video.perframe import frame_count

        tab, painter = self.tab, self.painter
        name = painter.model_name()
        info = tab.motion.video.info
        try:
            video.validate()
            entry = current_style_model(painter.model_entry(), name)
        except InputError as error:
            message = describe(error)
            tab.status.emit(message)
            tab.show_error(message)
            return None
        preserve = painter.colors_check.isChecked()
        identity = {
            "painter": "fast style model",
            "model": name,
            # a model trained again under the same name paints other frames
            "model_version": entry.meta.get("model_sha256") or entry.meta.get("model_bytes"),
            "preserve_colors": preserve,
            **video.frame_params(),
        }
        make = functools.partial(
            fast_video_job, info, str(entry.path), video, preserve_colors=preserve
        )
        return MotionSpec(
            job=FAST_VIDEO_JOB,
            make=make,
            identity=identity,
            source=info.path,
            label=info.name,
            frames=frame_count(info, video),
            size=video.frame_size(info),
            seconds_per_megapixel=self.frame_seconds(),  # as `cnnstudio style --model`
            suggested_name=f"{Path(info.name).stem}-{name}.mp4",
        )

    def motion_started(self, spec: MotionSpec) -> None:
        tab = self.tab
        tab._run_params = tab.form.params()
        model = spec.identity.get("model") if spec.job == FAST_VIDEO_JOB else None
        if model:
            tab._run_meta = {"content": spec.label, "model": model}
        else:
            tab._run_meta = {
                "content": spec.label,
                "styles": [s.name for s in tab.pictures.styles],
            }
        tab.snapshot_bar.clear()
        tab._next_snapshot = 2**62  # the strip keeps the frames: no snapshots
        tab._reset_for_run(tab.motion.video.first)
        if model:
            tab._announce_run(f"the style model '{model}'", f"Painting {spec.label}")
        else:
            tab._announce_run(spec.label, "Painting")

    def use_smaller_size(self, side: int) -> None:
        self.tab.motion.panel.size_spin.setValue(side)

    def video_opened(self, opened) -> None:
        """The video's first frame is the content shown; Run paints every frame."""
        if self.painter is not None:
            self.painter.refresh()
        self.tab.set_content(opened.first, opened.info.name)

    def video_closed(self) -> None:
        self.tab.use_panel.video_note.set_video("")
        self.tab.status.emit("Style: back to pictures (the content is the video's first frame)")


def current_style_model(entry: Any, name: str) -> Any:
    """The library entry of the style model ``name`` as it is now (``entry``: as it was
    listed); InputError, in the window's words, when it has gone or been damaged since.
    Nothing is loaded: a file damaged inside is found when the job loads it."""
    from cnnstudio.core import library
    from cnnstudio.core.faststyle.models import check_style_entry

    fix = (
        "Choose another in 'Paint with' (or 'Optimisation'), or save or import it again "
        "with File > Model library..."
    )
    if entry is None or not Path(entry.path).is_file():
        raise InputError(f"The style model '{name}' is not in the model library any more. {fix}")
    current = library.resolve_model(Path(entry.path))
    try:
        library.check_entry(current)
        check_style_entry(current)
    except InputError as error:
        raise InputError(f"{sentence(str(error))} {fix}", param="model") from None
    return current


def _fingerprint(picture: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(picture).tobytes()).hexdigest()[:16]
