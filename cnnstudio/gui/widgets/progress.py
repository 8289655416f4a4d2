"""JobProgress: a progress bar that reads job events ("Octave 2/5 - step 13/250 - ETA 0:41")."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtWidgets import QProgressBar, QWidget

from cnnstudio.core.eta import Eta, format_duration
from cnnstudio.core.events import DownloadProgress, Progress


class JobProgress(QProgressBar):
    """A QProgressBar fed with :class:`cnnstudio.core.events.Progress` events: the one
    place a job's ETA is shown in the window.

    ``stage_name`` names the outer loop ("Octave", "Scale", "Epoch"); it is shown only
    when a job has more than one stage. The ETA is :class:`cnnstudio.core.eta.Eta` fed
    with ``Progress.done``, the share of the job's *work* done (jobs whose later steps
    cost more say so in ``Progress.fraction``).
    """

    def __init__(
        self,
        parent: QWidget | None = None,
        stage_name: str = "Stage",
        steps_per_stage: bool = False,
        clock: Callable[[], float] = time.monotonic,
        step_word: str = "step",
    ) -> None:
        """``steps_per_stage``: count steps within the stage ("Octave 2/5 - step 13/50")
        for jobs whose stages all have total/stages steps (dreams); otherwise the step
        counts over the whole job. ``clock`` times the work (tests pass their own).
        ``step_word`` names a step as the job's form does ("iteration" for Style)."""
        super().__init__(parent)
        self.stage_name = stage_name
        self.steps_per_stage = steps_per_stage
        self.step_word = step_word
        #: put before the text while a batch runs: "Image 2 of 5"
        self.prefix = ""
        self.eta = Eta(clock)
        self.setTextVisible(True)
        self.reset_progress()

    def reset_progress(self, text: str = "Idle") -> None:
        """Back to empty, showing ``text``."""
        self.eta.reset()
        self.setRange(0, 1)
        self.setValue(0)
        self.setFormat(text)

    def start(self, text: str = "Starting...") -> None:
        """A job is starting (busy indicator until the first step arrives)."""
        self.eta.reset()
        self.setRange(0, 0)  # indeterminate: building the network, loading weights
        self.setFormat(text)

    def update_progress(self, event: Progress) -> None:
        """Show a Progress event: the bar, the step, the stage and the ETA."""
        total = max(int(event.total), 1)
        step = int(event.step)
        if self.maximum() != total:
            self.setRange(0, total)
        self.setValue(min(step, total))
        seconds = self.eta.update(event.done)
        self.setFormat(self.describe(step, total, int(event.stage), int(event.stages), seconds))

    def show_download(self, event: DownloadProgress) -> None:
        """Weights downloading before the job's first step: the bar counts kilobytes and
        reads "downloading FILE: 12/84 MB"."""
        total = max(int(event.total) // 1024, 1)
        if self.maximum() != total:
            self.setRange(0, total)
        self.setValue(min(int(event.received) // 1024, total))
        self.setFormat(event.text)

    def finish(self, text: str = "Done") -> None:
        """The job ended: full bar (or left where it stopped) with ``text``."""
        if self.maximum() == 0:
            self.setRange(0, 1)
            self.setValue(1 if text == "Done" else 0)
        elif text == "Done":
            self.setValue(self.maximum())
        self.setFormat(text)

    def show_within_step(self, step: int, total: int, stage: int, stages: int, detail: str) -> None:
        """Work inside step ``step`` (one count, the same as the steps'): "iteration 2/5:
        evaluation 7 (47 in all) - ETA 0:41", the bar where the last finished step left it."""
        text = self.describe(step, total, stage, stages, self.eta.seconds_left, detail)
        self.setFormat(text)

    def describe(
        self,
        step: int,
        total: int,
        stage: int,
        stages: int,
        eta: float | None,
        detail: str = "",
    ) -> str:
        """ "Octave 2/5 - step 13/50 - ETA 0:41" (the stage only when there are several;
        ``detail`` follows the step: "step 13/50: evaluation 4 - ETA 0:41")."""
        parts = [self.prefix] if self.prefix else []
        if stages > 1:
            parts.append(f"{self.stage_name} {stage}/{stages}")
            if self.steps_per_stage and total % stages == 0:
                per_stage = total // stages
                step = min(max(step - (stage - 1) * per_stage, 0), per_stage)
                total = per_stage
        parts.append(f"{self.step_word} {step}/{total}" + (f": {detail}" if detail else ""))
        parts.append("ETA " + (format_duration(eta) if eta is not None else "--:--"))
        text = " - ".join(parts)
        return text[:1].upper() + text[1:]  # the window's lines start as sentences do
