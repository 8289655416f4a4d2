"""JobRunner: events reach the GUI thread, previews never pile up, stop is prompt, errors
are readable, and every job ends with exactly one outcome followed by done()."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Notice, Preview, Progress
from cnnstudio.gui import workers
from cnnstudio.gui.workers import JobRunner


class Recorder:
    """Collects every signal of a runner, in order, with the thread it arrived in."""

    def __init__(self, runner: JobRunner) -> None:
        self.log: list[tuple[str, object]] = []
        self.threads: set[int] = set()
        for name in ("started", "stopped", "done"):
            getattr(runner, name).connect(lambda name=name: self._add(name, None))
        for name in ("progress", "preview", "notice", "finished", "failed"):
            getattr(runner, name).connect(lambda value, name=name: self._add(name, value))

    def _add(self, name: str, value: object) -> None:
        self.threads.add(threading.get_ident())
        self.log.append((name, value))

    def names(self) -> list[str]:
        return [name for name, _ in self.log]

    def values(self, name: str) -> list[object]:
        return [value for n, value in self.log if n == name]


@pytest.fixture
def runner(qtbot):
    runner = JobRunner("Test job", imports_tensorflow=False)  # toy jobs: no TF needed
    yield runner
    runner.shutdown(5000)
    assert not runner.running


def counting_job(steps: int):
    for step in range(1, steps + 1):
        yield Progress(step, steps, loss=float(step))
        if step == 2:
            yield Notice("half way")
        yield Preview(np.full((4, 4, 3), step, np.uint8), step, steps)
    return "result"


def test_generator_job_events_arrive_in_gui_thread_in_order(qtbot, runner):
    rec = Recorder(runner)
    with qtbot.waitSignal(runner.done, timeout=10000):
        runner.run_generator(counting_job, 3)
    assert rec.names()[0] == "started"
    assert rec.names()[-2:] == ["finished", "done"]
    assert [p.step for p in rec.values("progress")] == [1, 2, 3]
    assert rec.values("notice") == ["half way"]
    assert rec.values("finished") == ["result"]
    assert rec.values("preview"), "no preview arrived"
    assert rec.values("preview")[-1].step == 3  # the last frame is never lost
    assert rec.threads == {threading.get_ident()}
    assert not runner.running
    assert runner.result == "result"


def test_latest_preview_wins_under_a_flood(qtbot, runner):
    """The worker yields 500 frames while the GUI thread is blocked: when the GUI comes
    back it gets one frame (the newest), not a queue of 500."""
    flooded = threading.Event()
    release = threading.Event()

    def flood():
        for step in range(1, 501):
            yield Preview(np.full((8, 8, 3), step % 256, np.uint8), step, 500)
        flooded.set()
        release.wait(10)  # keep the job alive until the test has looked
        return None

    rec = Recorder(runner)
    runner.run_generator(flood)
    assert flooded.wait(10), "the job did not run"  # GUI thread blocked meanwhile
    release.set()
    with qtbot.waitSignal(runner.done, timeout=10000):
        pass
    previews = rec.values("preview")
    assert len(previews) == 1
    assert previews[0].step == 500


def test_stop_takes_effect_within_one_step(qtbot, runner):
    steps_taken = []
    closed = threading.Event()
    first_step = threading.Event()
    gate = threading.Semaphore(0)

    def endless():
        try:
            step = 0
            while True:
                step += 1
                steps_taken.append(step)
                first_step.set()
                gate.acquire(timeout=10)  # one step per permit from the test
                yield Progress(step, 10**9, 0.0)
        finally:
            closed.set()

    rec = Recorder(runner)
    runner.run_generator(endless)
    assert first_step.wait(10)
    runner.stop()
    gate.release()  # let the current step finish: the job must end at this yield
    with qtbot.waitSignal(runner.done, timeout=10000):
        pass
    assert closed.is_set(), "the generator was not closed (its finally did not run)"
    assert steps_taken == [1]
    assert rec.names()[-2:] == ["stopped", "done"]
    assert "finished" not in rec.names()


def test_studio_error_becomes_its_message(qtbot, runner):
    def bad_input():
        yield Progress(1, 2, 0.0)
        raise InputError("photo.png: not an image file; choose a PNG or JPEG")

    rec = Recorder(runner)
    with qtbot.waitSignal(runner.done, timeout=10000):
        runner.run_generator(bad_input)
    assert rec.values("failed") == ["photo.png: not an image file; choose a PNG or JPEG."]
    assert rec.names()[-2:] == ["failed", "done"]
    assert runner.error_details == ""


def test_unexpected_error_names_job_type_and_keeps_traceback(qtbot, runner, caplog):
    def buggy():
        yield Progress(1, 2, 0.0)
        return {}["missing"]

    rec = Recorder(runner)
    with qtbot.waitSignal(runner.done, timeout=10000):
        runner.run_generator(buggy)
    (message,) = rec.values("failed")
    assert message == "Unexpected error in Test job: KeyError: 'missing'"
    assert "Traceback" in runner.error_details and "buggy" in runner.error_details
    assert any("Unexpected error in Test job" in r.getMessage() for r in caplog.records)


def test_error_raised_before_the_first_yield_is_reported(qtbot, runner):
    def checks_arguments(size):
        if size < 0:
            raise InputError(f"size {size}: must be positive")
        yield Progress(1, 1, 0.0)

    rec = Recorder(runner)
    with qtbot.waitSignal(runner.done, timeout=10000):
        runner.run_generator(checks_arguments, -3)
    assert rec.values("failed") == ["Size -3: must be positive."]


def test_callback_job_events_and_stop(qtbot, runner):
    permits = threading.Semaphore(0)
    seen_stop = []

    def train(epochs, on_event, should_stop):
        for epoch in range(1, epochs + 1):
            permits.acquire(timeout=10)
            if should_stop():
                seen_stop.append(epoch)
                return "partial model"
            on_event(Progress(epoch, epochs, loss=1.0 / epoch, stage=epoch, stages=epochs))
        return "full model"

    rec = Recorder(runner)
    with qtbot.waitSignal(runner.progress, timeout=10000):
        runner.run_callbacks(train, 100)
        permits.release()
    runner.stop()
    permits.release()
    with qtbot.waitSignal(runner.done, timeout=10000):
        pass
    assert seen_stop == [2]
    assert [p.step for p in rec.values("progress")] == [1]
    assert rec.names()[-2:] == ["stopped", "done"]
    assert runner.result == "partial model"  # a stopped training still hands back its model

    # the runner is reusable after a stop: the new job's should_stop starts false
    permits.release(3)
    with qtbot.waitSignal(runner.finished, timeout=10000) as blocker:
        runner.run_callbacks(train, 3)
    assert blocker.args == ["full model"]


def test_function_job_and_wait_delivers_done(qtbot, runner):
    rec = Recorder(runner)
    runner.run_function(lambda a, b: a * b, 6, b=7)
    assert runner.wait(10000)
    # wait() flushes the queued signals: the outcome is known when it returns
    assert rec.names() == ["started", "finished", "done"]
    assert rec.values("finished") == [42]
    assert not runner.running


def test_one_job_at_a_time_and_reuse(qtbot, runner):
    gate = threading.Event()

    def waits():
        gate.wait(10)
        yield Progress(1, 1, 0.0)
        return 1

    runner.run_generator(waits)
    with pytest.raises(RuntimeError, match="already running"):
        runner.run_generator(waits)
    gate.set()
    with qtbot.waitSignal(runner.done, timeout=10000):
        pass
    with qtbot.waitSignal(runner.finished, timeout=10000) as blocker:
        runner.run_generator(counting_job, 2)
    assert blocker.args == ["result"]


def test_base_exception_in_a_job_still_ends_with_failed_and_done(qtbot, runner):
    """superqt's WorkerBase.run() would emit nothing here and leave the window waiting."""

    def exits():
        yield Progress(1, 2, 0.0)
        raise SystemExit(3)

    rec = Recorder(runner)
    with qtbot.waitSignal(runner.done, timeout=10000):
        runner.run_generator(exits)
    assert rec.names()[-2:] == ["failed", "done"]
    assert rec.values("failed") == ["Unexpected error in Test job: SystemExit: 3"]


def test_a_runtime_error_in_a_job_ends_with_failed_and_done(qtbot, runner):
    """Missing weights raise a ResourceMissingError, a RuntimeError: superqt's workers
    emit no ``finished`` for one (the reason this module runs plain QRunnables)."""
    from cnnstudio.core.errors import Remedy, ResourceMissingError

    def needs_weights():
        yield Progress(1, 2, 0.0)
        raise ResourceMissingError("the weights are not here", remedy=Remedy.SUPPLY_WEIGHTS)

    rec = Recorder(runner)
    with qtbot.waitSignal(runner.done, timeout=10000):
        runner.run_generator(needs_weights)
    assert rec.names()[-2:] == ["failed", "done"]
    assert isinstance(runner.error, ResourceMissingError)
    assert rec.values("failed")[0].startswith("The weights are not here.")
    assert "Import weights" in rec.values("failed")[0]  # worded for the window


def test_a_job_returning_an_exception_object_finishes(qtbot, runner):
    with qtbot.waitSignal(runner.finished, timeout=10000) as blocker:
        runner.run_function(lambda: RuntimeError("a value, not a failure"))
    assert isinstance(blocker.args[0], RuntimeError)


def test_jobs_run_at_a_lower_priority_than_the_window(qtbot, runner):
    """On a busy machine the window still gets the CPU: a job's thread (and the threads
    TensorFlow starts from it) runs 'nicer' than the GUI thread."""
    import os
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("thread priorities are set on Linux only")

    def niceness():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    gui = niceness()
    rec = Recorder(runner)
    with qtbot.waitSignal(runner.done, timeout=10000):
        runner.run_function(niceness)
    assert rec.values("finished") == [max(gui, workers.JOB_NICENESS)]
    assert niceness() == gui  # the window's own thread is untouched
