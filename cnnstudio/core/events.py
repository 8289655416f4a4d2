"""Events that long jobs yield while they run.

A job (dreaming, styling, ...) is a generator: it yields these small frozen objects and
returns its result. The CLI prints them, the GUI forwards them through Qt signals, tests
collect them. Closing the generator (``gen.close()``) cancels the job at its next step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Progress:
    """One optimisation step has finished.

    ``step`` counts from 1 up to ``total`` over the whole job; ``stage``/``stages`` name the
    outer loop (octave of a dream, scale of a multi-scale style run). ``fraction`` is the
    share of the job's work done when steps cost differently (a dream's later octaves have
    more pixels); None means every step costs the same. Front ends feed :attr:`done` to
    :class:`cnnstudio.core.eta.Eta`.
    """

    step: int
    total: int
    loss: float
    terms: dict[str, float] = field(default_factory=dict)  # named loss terms, if any
    stage: int = 1
    stages: int = 1
    message: str = ""
    fraction: float | None = None

    @property
    def done(self) -> float:
        """Share of the work done, 0..1."""
        if self.fraction is not None:
            return float(self.fraction)
        return min(self.step / self.total, 1.0) if self.total > 0 else 0.0


@dataclass(frozen=True, eq=False)
class Preview:
    """An intermediate picture: uint8 RGB array of shape (H, W, 3)."""

    image: np.ndarray
    step: int
    total: int


@dataclass(frozen=True)
class Notice:
    """Something the user should read (a stage starting, an early stop, a download)."""

    text: str


@dataclass(frozen=True)
class DownloadProgress:
    """Part of a file has been downloaded (pretrained weights before a job can start).

    Not a :class:`Progress`: it has no loss and its own units (bytes), so loss plots and
    step counters leave it alone; the GUI shows it in the progress bar, the CLI as a line.
    """

    file_name: str
    received: int  # bytes so far
    total: int  # bytes expected (``received`` when the server did not say)

    @property
    def text(self) -> str:
        """``downloading inception_v3_..._notop.h5: 12/84 MB``."""
        total = round(self.total / 2**20)
        # whole megabytes received; the last event shows the total, never "83/84"
        got = total if self.received >= self.total else self.received // 2**20
        return f"downloading {self.file_name}: {got}/{total} MB"
