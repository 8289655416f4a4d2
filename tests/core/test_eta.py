"""core/eta.py: one ETA for every job, weighted by what steps cost."""

from __future__ import annotations

import pytest

from cnnstudio.core.eta import Eta, format_duration, staged_fraction
from cnnstudio.core.events import Progress


def test_format_duration() -> None:
    assert format_duration(41) == "0:41"
    assert format_duration(3700) == "1:01:40"
    assert format_duration(-3) == "0:00"


def test_staged_fraction_weighs_steps_by_their_stage_cost() -> None:
    # two stages of 10 steps; the second costs 3x per step
    assert staged_fraction(0, 10, [1, 3]) == 0.0
    assert staged_fraction(10, 10, [1, 3]) == pytest.approx(0.25)
    assert staged_fraction(15, 10, [1, 3]) == pytest.approx(0.625)
    assert staged_fraction(25, 10, [1, 3]) == 1.0


def test_eta_is_right_for_a_job_whose_later_steps_cost_more() -> None:
    # octaves of 1, 2 and 4 cost units, 5 steps each, one cost unit = 1 s
    costs, per_stage = [1.0, 2.0, 4.0], 5
    eta = Eta()
    now = 10.0  # set-up before the first step does not count
    assert eta.update(staged_fraction(1, per_stage, costs), now) is None
    total_left = None
    for step in range(2, 16):
        now += costs[(step - 1) // per_stage]
        total_left = eta.update(staged_fraction(step, per_stage, costs), now)
        remaining = sum(costs[(s - 1) // per_stage] for s in range(step + 1, 16))
        assert total_left == pytest.approx(remaining)
    assert total_left == pytest.approx(0.0)
    assert eta.text() == "0:00"


def test_eta_unknown_until_work_and_time_move() -> None:
    eta = Eta()
    assert eta.text() == "--:--"
    eta.update(0.1, 5.0)
    assert eta.update(0.1, 6.0) is None
    assert eta.update(0.2, 6.0) == pytest.approx(8.0)  # 1 s for 0.1 of the work
    assert eta.update(0.3, 7.0) == pytest.approx(7.0)
    eta.reset()
    assert eta.update(0.5, 100.0) is None


def test_progress_done_uses_the_jobs_fraction_when_given() -> None:
    assert Progress(5, 10, 0.0).done == 0.5
    assert Progress(5, 10, 0.0, fraction=0.2).done == 0.2
