"""JobProgress: a progress bar that reads job events ("Octave 2/5 - step 13/250 - ETA 0:41")."""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtWidgets import QProgressBar, QWidget

_RATE_WINDOW = 30  # steps in the moving average behind the ETA


def format_duration(seconds: float) -> str:
    """``41`` -> ``0:41``, ``3700`` -> ``1:01:40``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class JobProgress(QProgressBar):
    """A QProgressBar fed with :class:`cnnstudio.core.events.Progress` events.

    ``stage_name`` names the outer loop ("Octave", "Scale", "Epoch"); it is shown only
    when a job has more than one stage. The ETA comes from the time per step over the
    last few steps, so it follows a job that speeds up or slows down (octaves grow).
    """

    def __init__(
        self,
        parent: QWidget | None = None,
        stage_name: str = "Stage",
        steps_per_stage: bool = False,
    ) -> None:
        """``steps_per_stage``: count steps within the stage ("Octave 2/5 - step 13/50")
        for jobs whose stages all have total/stages steps (dreams); otherwise the step
        counts over the whole job."""
        super().__init__(parent)
        self.stage_name = stage_name
        self.steps_per_stage = steps_per_stage
        self._samples: deque[tuple[float, int]] = deque(maxlen=_RATE_WINDOW)
        self.setTextVisible(True)
        self.reset_progress()

    def reset_progress(self, text: str = "Idle") -> None:
        """Back to empty, showing ``text``."""
        self._samples.clear()
        self.setRange(0, 1)
        self.setValue(0)
        self.setFormat(text)

    def start(self, text: str = "Starting...") -> None:
        """A job is starting (busy indicator until the first step arrives)."""
        self._samples.clear()
        self.setRange(0, 0)  # indeterminate: building the network, loading weights
        self.setFormat(text)

    def update_progress(self, event: object) -> None:
        """Show a Progress event (anything with step/total and optionally stage/stages)."""
        step = int(getattr(event, "step", 0))
        total = max(int(getattr(event, "total", 0)), 1)
        stage = int(getattr(event, "stage", 1))
        stages = int(getattr(event, "stages", 1))
        if self.maximum() != total:
            self.setRange(0, total)
        self.setValue(min(step, total))
        self._samples.append((time.monotonic(), step))
        self.setFormat(self.describe(step, total, stage, stages, self.eta_seconds(total)))

    # ARCHITECTURE.md calls it update(progress_event); QWidget.update() repaints, so the
    # event form dispatches here and the plain form keeps Qt's meaning.
    def update(self, *args) -> None:  # type: ignore[override]
        if len(args) == 1 and hasattr(args[0], "step"):
            self.update_progress(args[0])
        else:
            super().update(*args)

    def show_download(self, event: object) -> None:
        """Weights downloading before the job's first step (a ``DownloadProgress``): the
        bar counts kilobytes and reads "downloading FILE: 12/84 MB"."""
        total = max(int(getattr(event, "total", 0)) // 1024, 1)
        if self.maximum() != total:
            self.setRange(0, total)
        self.setValue(min(int(getattr(event, "received", 0)) // 1024, total))
        self.setFormat(str(getattr(event, "text", "downloading")))

    def finish(self, text: str = "Done") -> None:
        """The job ended: full bar (or left where it stopped) with ``text``."""
        if self.maximum() == 0:
            self.setRange(0, 1)
            self.setValue(1 if text == "Done" else 0)
        elif text == "Done":
            self.setValue(self.maximum())
        self.setFormat(text)

    def eta_seconds(self, total: int) -> float | None:
        """Seconds left from the recent time per step, or None before two samples."""
        if len(self._samples) < 2:
            return None
        (t0, s0), (t1, s1) = self._samples[0], self._samples[-1]
        if s1 <= s0:
            return None
        return (t1 - t0) / (s1 - s0) * max(total - s1, 0)

    def describe(self, step: int, total: int, stage: int, stages: int, eta: float | None) -> str:
        parts = []
        if stages > 1:
            parts.append(f"{self.stage_name} {stage}/{stages}")
            if self.steps_per_stage and total % stages == 0:
                per_stage = total // stages
                step = min(max(step - (stage - 1) * per_stage, 0), per_stage)
                total = per_stage
        parts.append(f"step {step}/{total}")
        parts.append("ETA " + (format_duration(eta) if eta is not None else "--:--"))
        return " - ".join(parts)
