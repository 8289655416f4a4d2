"""MotionController: what the Dream and Style tabs delegate motion to.

A tab (an ``ImageJobTab``) owns one; its ``host`` (the tab, or a helper of the tab's)
answers ``motion_spec(video_params)`` (the job to run, from the form), ``motion_started``,
``use_smaller_size``, ``use_zoom_frames`` (a zoom host only), ``video_opened``,
``video_closed`` and ``zoom_enabled``. The controller opens a video dropped on the tab
(probed on a worker; a file that is not a readable video is refused in a message naming
it), asks before a job longer than two hours (a smaller size that brings it under as a
button, else the first frames that fit) and before frames made earlier are continued
or made again, runs the job on the tab's runner, shows each finished frame in the strip
and the whole job's progress in the bar, and saves the video of the frames folder when
the user says where. The frames folder (one per job, source and parameters, in the app's
data folder) keeps every finished frame until the video is saved: a Stop, a crash or
closing the window loses at most the frame in progress, and the next Run continues.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from cnnstudio.core.errors import StudioError
from cnnstudio.core.video.events import FrameProgress, MotionResult
from cnnstudio.core.video.outputs import MotionOutput, session_frames_dir
from cnnstudio.core.video.params import GPU_SPEEDUP, Workload, is_video_path, plan_workload
from cnnstudio.gui.messages import describe, error_text
from cnnstudio.gui.tabs.motion import jobs, questions
from cnnstudio.gui.tabs.motion.panel import MotionPanel
from cnnstudio.gui.workers import JobRunner

#: the Dream or Style tab (an ImageJobTab, which imports this module)
ImageJobTab = Any


@dataclass
class MotionSpec:
    """A motion job as a tab describes it from its form."""

    job: str  # "dream-zoom", "dream-video", "style-video": the frames folder's job
    make: Callable[..., Any]  # make(where: MotionOutput) -> the core job's generator
    identity: dict  # what decides a frame's pixels (one frames folder per identity)
    source: str | None  # the input file (None: noise)
    label: str  # "the zoom of cat.jpg", "clip.mp4"
    frames: int
    size: tuple[int, int]  # (width, height) of the frames
    seconds_per_megapixel: float  # a frame's cost on the benchmarks' CPU
    suggested_name: str  # "clip-dream.mp4"


def is_motion_file(path: str) -> bool:
    """A video, or a GIF with more than one frame (a still GIF is a picture)."""
    if Path(path).suffix.lower() == ".gif":
        try:
            from PIL import Image

            with Image.open(path) as gif:
                return getattr(gif, "n_frames", 1) > 1
        except (OSError, ValueError):
            return False
    return is_video_path(path)


class MotionController(QObject):
    """Motion in one tab: the video in, the questions, the job's events, Save video."""

    def __init__(self, tab: ImageJobTab, kind: str, host: Any = None) -> None:
        super().__init__(tab)
        self.tab = tab
        self.host = host if host is not None else tab
        self.panel = MotionPanel(kind)
        self.panel.setObjectName(f"{kind}MotionPanel")
        self.panel.hide()
        self.video: jobs.OpenedVideo | None = None  # the video the tab works on
        self.running = False  # a motion job runs on the tab's runner
        self.frames_dir: Path | None = None  # the frames of the last motion job
        self.spec: MotionSpec | None = None
        self.result: MotionResult | None = None
        self.saved = True  # the frames are in a saved video (or there are none)
        self.speedup = 1.0
        self.probe_runner = JobRunner(f"{tab.job_name} video", self, imports_tensorflow=False)
        self.save_runner = JobRunner(f"{tab.job_name} video", self, imports_tensorflow=False)
        self.probe_runner.finished.connect(self._opened)
        self.probe_runner.failed.connect(lambda _message: self._report(self.probe_runner))
        self.save_runner.finished.connect(self._saved)
        self.save_runner.failed.connect(lambda _message: self._report(self.save_runner))
        self.save_runner.done.connect(self._update)
        self.panel.save_button.clicked.connect(self.save_video)
        self.panel.close_button.clicked.connect(self.close_video)
        self.panel.strip.chosen.connect(self._show_frame)

    # ------------------------------------------------------------------ state

    def active(self) -> bool:
        """A video is the tab's input."""
        return self.video is not None

    def frame_count(self) -> int:
        return self.panel.strip.count()

    def has_frames(self) -> bool:
        return self.frames_dir is not None and self.frame_count() > 0

    def device_changed(self, info: object) -> None:
        self.speedup = GPU_SPEEDUP if getattr(info, "kind", "") == "GPU" else 1.0

    def _update(self) -> None:
        self.panel.save_button.setEnabled(self.has_frames() and not self.save_runner.running)
        self.tab._update_buttons()

    def show_panel(self, video: bool) -> None:
        self.panel.set_video_mode(video)
        self.panel.show()

    # ------------------------------------------------------------------ a video in

    def open_video(self, path: str) -> None:
        """Probe ``path`` on a worker; the tab shows it once it is known to be readable."""
        if self.tab.runner.running or self.probe_runner.running:
            self.tab.status.emit(f"Stop {self.tab.running_work} before opening a video")
            return
        if not self.may_discard(f"opening {Path(path).name}"):
            return
        self.discard_saved_frames()
        self.tab.status.emit(f"Reading {Path(path).name}...")
        self.probe_runner.run_function(jobs.open_video, path)

    def _opened(self, opened: jobs.OpenedVideo) -> None:
        self.video = opened
        info = opened.info
        self.panel.size_spin.setValue(0)
        sound = ", sound" if info.has_audio else ""
        counted = "" if info.frames_exact else "about "
        text = (
            f"{info.name}: {counted}{info.frames} frames, {info.width}x{info.height}, "
            f"{info.fps:.3g} fps{sound}"
        )
        self.panel.source_label.setText(text)
        self.panel.strip.clear()
        self.frames_dir, self.result, self.saved = None, None, True
        self.show_panel(video=True)
        self.host.video_opened(opened)
        self.tab.recent_file.emit(info.path)
        message = f"Video {text}"
        if info.variable_rate:
            message += f". Note: {info.variable_rate_text()}"
        self.tab.status.emit(message)
        self._update()

    def close_video(self) -> None:
        """Back to pictures (the frames made stay in their folder until saved)."""
        if self.tab.runner.running:
            return
        self.leave_video()
        self.host.video_closed()

    def leave_video(self) -> None:
        """The tab has a picture to work on again (no call back into the tab)."""
        if self.video is None:
            return
        self.video = None
        self.panel.source_label.setText("")
        self.panel.set_video_mode(False)
        if not self.host.zoom_enabled():
            self.panel.hide()
        self._update()

    def _report(self, runner: JobRunner) -> None:
        error = runner.error
        message = describe(error) if isinstance(error, StudioError) else runner.error_message
        self.tab.status.emit(message)
        self.tab.show_error(message, "" if isinstance(error, StudioError) else runner.error_details)

    # ------------------------------------------------------------------ a run

    def start(self) -> bool:
        """Ask what needs asking, then run the tab's motion job; False if it did not."""
        spec = self._asked_about_length(self.host.motion_spec(self.panel.video_params()))
        if spec is None:
            return False
        frames_dir = session_frames_dir(spec.job, spec.source, spec.identity)
        if frames_dir != self.frames_dir:
            # other settings (or another painter): the strip moves on to other frames,
            # so the last job's unsaved ones are offered for saving first
            if not self.may_discard("a job with other settings starts"):
                return False
            self.discard_saved_frames()
        if not self._resume_or_restart(frames_dir, spec):
            return False
        self.spec, self.frames_dir, self.result, self.saved = spec, frames_dir, None, False
        self.running = True
        self.panel.strip.clear()
        self.show_panel(video=self.active())
        self.host.motion_started(spec)
        self.tab.runner.run_generator(
            jobs.motion_events, spec.make, MotionOutput(frames_dir), frames_dir=frames_dir
        )
        self._update()
        return True

    def _asked_about_length(self, spec: MotionSpec | None) -> MotionSpec | None:
        """A job longer than the budget (whatever its frames' size) asks first, offering
        what brings it under: the smaller size, or the first frames of it (this run
        only: the next Run asks again, and may go on to the end). The job to run, or None
        when cancelled."""
        if spec is None:
            return None
        workload = plan_workload(spec.frames, *spec.size, spec.seconds_per_megapixel / self.speedup)
        if not workload.too_long:
            return spec
        answer = self.ask_workload(f"{spec.label}: {workload.text()}.", workload)
        if answer == questions.SMALLER and workload.suggested_size is not None:
            self.host.use_smaller_size(max(workload.suggested_size))
            return self.host.motion_spec(self.panel.video_params())
        if answer == questions.FEWER and workload.suggested_frames is not None:
            frames = workload.suggested_frames
            if not self.active():
                self.host.use_zoom_frames(frames)  # the zoom's own frame count
                return self.host.motion_spec(self.panel.video_params())
            limited = dataclasses.replace(self.panel.video_params(), max_frames=frames)
            spec = self.host.motion_spec(limited)
            if spec is not None:
                self.tab.status.emit(f"{spec.label}: the first {frames} frames this time")
            return spec
        return spec if answer == questions.FULL else None

    def _resume_or_restart(self, frames_dir: Path, spec: MotionSpec) -> bool:
        from cnnstudio.core.video.frames import FramesFolder

        try:
            folder = FramesFolder.existing(frames_dir)
        except StudioError:
            return True  # nothing made before
        if folder.done == 0:
            return True
        answer = self.ask_resume(
            f"{folder.done} of {spec.frames} frames of {spec.label} were made before. "
            f"Continue from frame {min(folder.done + 1, spec.frames)}, or start again?"
        )
        if answer == questions.RESTART:
            folder.remove()
        return answer != questions.CANCEL

    def handle(self, event: object) -> bool:
        """An event of the running motion job (True when it was one of motion's)."""
        if isinstance(event, jobs.FrameSaved):
            self.panel.strip.add_frame(event.index, event.path, event.thumbnail)
            self._update()
            return True
        if isinstance(event, FrameProgress):
            bar = self.tab.progress
            if bar.maximum() != event.total:
                bar.setRange(0, max(event.total, 1))
            bar.setValue(min(event.step, event.total))
            seconds = bar.eta.update(event.done)
            bar.prefix = f"Frame {event.frame} of {event.frames}"
            bar.setFormat(
                bar.describe(
                    event.frame_step, event.frame_steps, event.stage, event.stages, seconds
                )
            )
            self.tab._last_step = event.step
            return True
        return False

    def ended(self, how: str, result: object = None) -> None:
        """The motion job ended: "finished", "stopped" or "failed"."""
        self.running = False
        self.tab.progress.prefix = ""
        count = self.frame_count()
        label = self.spec.label if self.spec is not None else "the job"
        if how == "finished" and isinstance(result, MotionResult):
            self.result = result
            self.tab.progress.finish("Done")
            self.tab.status.emit(
                f"{self.tab.job_name}: {label} is done ({count} frames): Save video keeps it "
                "(Ctrl+S)"
            )
            for notice in result.notices:
                self.tab.status.emit(f"{self.tab.job_name}: {notice}")
        elif how == "stopped":
            self.tab.progress.finish("Stopped")
            if count == 0:
                self.tab.status.emit(f"Stopped before the first frame of {label}: nothing kept")
            else:
                self.tab.status.emit(
                    f"Stopped: {count} frames of {label} kept; Save video keeps them, Run goes on"
                )
        self._update()

    # ------------------------------------------------------------------ frames, saving

    def _show_frame(self, index: int) -> None:
        """The strip's frame ``index`` in the preview (the right end follows the job)."""
        if self.running and self.panel.strip.following():
            return
        from cnnstudio.core import images

        try:
            self.tab.preview.set_image(images.load_image(self.panel.strip.path(index)))
        except (StudioError, OSError) as error:
            self.tab.status.emit(error_text(error))

    def save_video(self, wait: bool = False) -> bool:
        """Ask where, then write the video of the frames so far on a worker (``wait``:
        until it is written, as closing the window needs). False when not saved."""
        if not self.has_frames() or self.frames_dir is None:
            self.tab.status.emit("No frames to save yet: run the video or the zoom first")
            return False
        if self.save_runner.running:
            return False
        name = self.spec.suggested_name if self.spec is not None else "video.mp4"
        path = self.ask_save_video(name)
        if not path:
            return False
        self.tab.status.emit(f"Saving {Path(path).name}...")
        self.save_runner.run_function(jobs.save_video, str(self.frames_dir), path)
        self._update()
        if wait:
            self.save_runner.wait()
            return self.save_runner.error is None
        return True

    def _saved(self, video: object) -> None:
        if video is None:
            return
        running = " (so far: the job goes on)" if self.running else ""
        self.saved = not self.running
        self.tab.recent_file.emit(str(video.path))
        self.tab.status.emit(f"Saved {video.path} ({video.frames} frames){running}")

    def discard_saved_frames(self) -> None:
        """The frames of a finished job whose video is saved are not needed any more:
        their folder goes (a stopped job's stay, so that Run can continue it)."""
        complete = self.result is not None and self.spec is not None
        complete = complete and self.result.frames >= self.spec.frames
        if self.frames_dir is None or self.running or not (self.saved and complete):
            return
        from cnnstudio.core.video.frames import FramesFolder

        try:
            FramesFolder.existing(self.frames_dir).remove()
        except (StudioError, OSError):
            pass  # already gone, or not ours to remove
        self.frames_dir, self.result = None, None
        self.panel.strip.clear()

    def unsaved_work(self) -> str | None:
        """One sentence when finished frames are in no saved video."""
        if self.running or self.saved or not self.has_frames():
            return None
        label = self.spec.label if self.spec is not None else "the video"
        return (
            f"{self.tab.title}: the {self.frame_count()} frames of {label} are not saved as "
            "a video (they stay in their frames folder; running it again continues)."
        )

    def may_discard(self, what: str) -> bool:
        """Before the frames of the last job give way to another input: ask (Save,
        Discard, Cancel) when they are not saved; True when it may go on."""
        message = self.unsaved_work()
        if message is None:
            return True
        from cnnstudio.gui.widgets import dialogs

        answer = self.tab.ask_unsaved(f"{message} Save them before {what}?", can_save=True)
        if answer == dialogs.SAVE:
            return self.save_video(wait=True)
        if answer == dialogs.DISCARD:
            self.saved = True  # the frames stay in their folder: a Run of it continues
        return answer == dialogs.DISCARD

    # ------------------------------------------------------------------ questions (tests replace)

    def ask_workload(self, text: str, workload: Workload) -> str:
        return questions.ask_workload(self.tab, text, workload)

    def ask_resume(self, text: str) -> str:
        return questions.ask_resume(self.tab, text)

    def ask_save_video(self, suggested_name: str) -> str | None:
        return questions.ask_save_video(self.tab, suggested_name, "Save video")

    def shutdown(self) -> None:
        self.probe_runner.shutdown()
        self.save_runner.shutdown()
        self.discard_saved_frames()
