"""How long a job has left: one estimate for every job and both front ends.

A job says how much of its *work* is done, as a fraction (``Progress.fraction``). Steps are
not equal work: a dream's last octave has ~3x the pixels of its first, a multi-scale style
run's full-size scale costs 16x its quarter-size one, so each job weighs its steps by what
they cost (:func:`staged_fraction`). :class:`Eta` then extrapolates from the time the work
done so far took, measured from the first report on, so building the network and tracing
the step (before the first report) do not count as work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence


def format_duration(seconds: float) -> str:
    """``41`` -> ``0:41``, ``3700`` -> ``1:01:40``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def staged_fraction(step: int, steps_per_stage: int, stage_costs: Sequence[float]) -> float:
    """Share of the work done after ``step`` steps (counted over the whole job) of a job
    whose stages have ``steps_per_stage`` steps each and cost ``stage_costs`` per step
    (any unit: pixels of an octave, say)."""
    costs = [max(float(c), 0.0) for c in stage_costs]
    per_stage = max(int(steps_per_stage), 1)
    total = sum(costs) * per_stage
    if total <= 0:
        return 0.0
    step = min(max(int(step), 0), per_stage * len(costs))
    full, rest = divmod(step, per_stage)
    done = sum(costs[:full]) * per_stage + (costs[full] * rest if rest else 0.0)
    return min(done / total, 1.0)


class Eta:
    """Seconds left, from fractions of work done and when they were reported.

    ``update(fraction)`` after every step; it returns None until two reports are apart in
    time and in work. The rate is the work done since the first report over the time since
    then: with work weighted by cost (:func:`staged_fraction`) that is steadier than a
    moving window, and it does not underestimate a job whose later steps cost more.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._first: tuple[float, float] | None = None
        self.seconds_left: float | None = None

    def reset(self) -> None:
        """Forget the run (a new run, or a resumed one whose set-up must not count)."""
        self._first = None
        self.seconds_left = None

    def update(self, fraction: float, now: float | None = None) -> float | None:
        """Seconds left once ``fraction`` (0..1) of the work is done; None at first."""
        now = self._clock() if now is None else now
        fraction = min(max(float(fraction), 0.0), 1.0)
        if self._first is None:
            self._first = (now, fraction)
            self.seconds_left = None
            return None
        start, start_fraction = self._first
        if fraction <= start_fraction or now <= start:
            return self.seconds_left
        per_work = (now - start) / (fraction - start_fraction)
        self.seconds_left = per_work * (1.0 - fraction)
        return self.seconds_left

    def text(self) -> str:
        """``0:41``, or ``--:--`` while unknown."""
        return "--:--" if self.seconds_left is None else format_duration(self.seconds_left)
