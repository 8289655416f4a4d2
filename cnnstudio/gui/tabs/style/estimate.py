"""RunEstimate: the line over Run that says how long a style run will take here.

The speed of this computer is measured once per session, in the background, once the
device is known (TensorFlow is loaded by then) and the Style tab has been shown: a few
compiled steps at a small size (:func:`cnnstudio.core.style.timing.measure_step`). Every
run that gets far enough replaces the figure with its own. The line follows every change
of the form and of the content picture; a run that would be long says so and names the
Quick look preset's time. While a video is open, the line is the whole video's (its
frames, their size and the painter: :meth:`RunEstimate.set_video`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QWidget

from cnnstudio.core.eta import format_duration
from cnnstudio.core.events import Progress
from cnnstudio.core.style import params as style_params
from cnnstudio.core.style import timing
from cnnstudio.core.style.params import StyleParams
from cnnstudio.gui.workers import JobRunner

#: a run longer than this is called long, with Quick look's time beside it
LONG_RUN_S = 10 * 60

#: the rate of this session: measured once, then the last run's
_session_rate: timing.StepRate | None = None


def session_rate() -> timing.StepRate | None:
    return _session_rate


def set_session_rate(rate: timing.StepRate | None) -> None:
    """Replace this session's rate (tests, and runs that finish)."""
    global _session_rate
    _session_rate = rate


def _measure() -> timing.StepRate:
    """Worker job: time a few steps of the style loss on this computer."""
    return timing.measure_step()


class RunEstimate(QObject):
    """The label (``label``) and the measurement behind it."""

    #: the line's text changed (the tab puts it in Run's tooltip too)
    text_changed = Signal(str)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.label = QLabel("")
        self.label.setObjectName("styleTimeEstimate")
        self.label.setWordWrap(True)
        self.runner = JobRunner("Style speed measurement", self)
        self.runner.finished.connect(self._measured)
        self.runner.failed.connect(self._measure_failed)
        self._device_known = False
        self._shown = False
        self._failed = False
        self._params: StyleParams | None = None
        self._shape: tuple[int, ...] | None = None
        self._video: str | None = None  # the video's line, while a video is open
        self._first: tuple[float, float] | None = None  # (time, fraction) of a run
        self._last: tuple[float, float] | None = None

    # -- the measurement ----------------------------------------------------------------

    def device_known(self) -> None:
        self._device_known = True
        self.maybe_measure()

    def tab_shown(self) -> None:
        self._shown = True
        self.maybe_measure()

    def maybe_measure(self) -> None:
        """Measure once per session, when the device is known and the tab was shown."""
        if _session_rate is not None or self.runner.running or self._failed:
            return
        if self._device_known and self._shown:
            self.runner.run_function(_measure)
            self._show()

    def _measured(self, rate: object) -> None:
        if isinstance(rate, timing.StepRate) and _session_rate is None:
            set_session_rate(rate)
        self._show()

    def _measure_failed(self, _message: str) -> None:
        self._failed = True  # no retry loop: the line says the time is unknown
        self._show()

    # -- runs -----------------------------------------------------------------------------

    def run_started(self) -> None:
        self._first = self._last = None

    def run_progress(self, event: Progress) -> None:
        point = (time.monotonic(), event.done)
        if self._first is None:
            self._first = point  # from the first step on: building the network is not work
        self._last = point

    def run_ended(self, params: StyleParams, content_shape: Sequence[int]) -> None:
        """A run ended (finished or stopped): its own speed is the better figure."""
        if self._first is None or self._last is None:
            return
        rate = timing.rate_from_run(
            params, content_shape, self._last[1] - self._first[1], self._last[0] - self._first[0]
        )
        if rate is not None:
            set_session_rate(rate)
        self._show()

    # -- the line -------------------------------------------------------------------------

    def update(self, params: StyleParams | None, content_shape: Sequence[int] | None) -> None:
        self._params = params
        self._shape = None if content_shape is None else tuple(content_shape)
        self._show()

    def set_video(self, line: str | None) -> None:
        """The line for painting every frame of the open video (None: no video)."""
        self._video = line
        self._show()

    def text(self) -> str:
        return self.label.text()

    def _show(self) -> None:
        rate = _session_rate
        params, shape = self._params, self._shape
        tip = "How long a run with these settings takes on this computer"
        if self._video is not None:
            text = self._video
            tip = "How long painting every frame takes here (the painter, frames and size)"
            params = None  # not a picture's run: never called long in orange
        elif params is None or shape is None:
            text = "Run time: shown once a content picture is open"
        elif rate is None:
            if self.runner.running:
                text = "Run time: measuring this computer's speed..."
            elif self._failed:
                text = "Run time: unknown (this computer's speed could not be measured)"
            else:
                text = "Run time: known once this computer's speed is measured"
        else:
            seconds = timing.estimate_seconds(params, shape, rate)
            text = f"Run time: about {format_duration(seconds)} on this computer"
            if seconds > LONG_RUN_S:
                quick = style_params.preset_params("quick", params)
                quick_s = timing.estimate_seconds(quick, shape, rate)
                text += f" - long: Quick look (Presets) takes about {format_duration(quick_s)}"
            source = "the last run" if rate.source == "last run" else "a measured step"
            tip = (
                f"From {source}: {rate.seconds_per_megapixel:.1f} s per megapixel and "
                "iteration, times the pixels of every scale and the iterations (for "
                "L-BFGS, the loss evaluations)"
            )
        changed = text != self.label.text()
        self.label.setText(text)
        self.label.setToolTip(tip)
        if changed:
            self.text_changed.emit(text)
        long_run = params is not None and rate is not None and "long:" in text
        self.label.setStyleSheet(
            "QLabel { color: #b35900; font-weight: bold; }" if long_run else ""
        )
