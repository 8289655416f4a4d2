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
    outer loop (octave of a dream, scale of a multi-scale style run).
    """

    step: int
    total: int
    loss: float
    terms: dict[str, float] = field(default_factory=dict)  # named loss terms, if any
    stage: int = 1
    stages: int = 1
    message: str = ""


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
