"""The Train tab trains in a process of its own (issue 15: building a training graph in
the window's process held its interpreter lock for 100-200 ms as each run started).

While the tab is in view a spare process has TensorFlow imported; Start hands the run to
it and a new spare follows for the next run. A training process that dies (killed, or a
crash inside TensorFlow) is a failure the window survives, and Resume continues the run."""

from __future__ import annotations

import os
import signal

import pytest

from cnnstudio.core import child_process
from cnnstudio.core.training.runs import completed_epochs
from cnnstudio.core.training.status import read_status
from cnnstudio.gui.tabs.train.tab import TrainTab


@pytest.fixture
def tab(qtbot, digits_npz):
    tab = TrainTab()
    qtbot.addWidget(tab)
    assert tab.set_dataset(str(digits_npz(train=96, test=24, classes=3)))
    tab.form.batch_size.setValue(8)
    yield tab
    tab.shutdown()
    assert not tab.runner.running and child_process.spare_pid() is None


def _training_pid(tab: TrainTab) -> int:
    return read_status(tab._last_run_dir)["pid"]


def test_a_run_trains_in_the_spare_started_while_the_tab_is_in_view(qtbot, tab, monkeypatch):
    monkeypatch.setenv("CNNSTUDIO_SPARE_PROCESS", "1")  # the suite turns spares off
    assert child_process.spare_pid() is None
    tab.show()
    spare = child_process.spare_pid()
    assert spare is not None and spare != os.getpid()
    tab.form.epochs.setValue(1)
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        tab.start_training()
    assert tab.runner.error is None, tab.runner.error_message
    assert _training_pid(tab) == spare  # the run was the spare's, not the window's
    # the next Start or Resume finds a new one ready
    qtbot.waitUntil(lambda: child_process.spare_pid() not in (None, spare), timeout=10_000)


def test_a_training_process_that_dies_is_a_failure_and_resume_continues(qtbot, tab):
    """kill -9 of the training process (as a crash inside TensorFlow would end it): the
    window says so and stays; the run folder keeps its finished epochs for Resume."""
    tab.form.epochs.setValue(500)  # far more than the test waits for
    errors: list[str] = []
    tab.show_error = lambda message, details="": errors.append(message)
    with qtbot.waitSignal(tab.runner.failed, timeout=180_000) as failed:
        tab.start_training()
        qtbot.waitUntil(lambda: completed_epochs(tab._last_run_dir or ".") >= 1, timeout=120_000)
        pid = _training_pid(tab)
        assert pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
    assert "killed by SIGKILL" in failed.args[0]
    assert errors == [f"{failed.args[0]} Resume continues the run from its last finished epoch."]
    assert tab.progress.format() == "Failed"
    qtbot.waitUntil(lambda: tab.start_button.isEnabled(), timeout=10_000)

    run_dir = tab._last_run_dir
    done = completed_epochs(run_dir)
    tab.form.epochs.setValue(done + 1)
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        tab.resume_training()
    assert completed_epochs(run_dir) == done + 1
    assert _training_pid(tab) not in (pid, os.getpid())


def test_closing_the_window_during_a_run_ends_it_and_leaves_no_process(qtbot, tab, monkeypatch):
    """Shutdown stops the run (ending its process if it does not stop in time) and
    starts no spare afterwards, although the run's end would start one in view."""
    import multiprocessing

    monkeypatch.setenv("CNNSTUDIO_SPARE_PROCESS", "1")
    tab.show()
    tab.form.epochs.setValue(500)
    tab.start_training()
    qtbot.waitUntil(lambda: tab.progress.value() > 0, timeout=120_000)
    tab.shutdown()
    assert not tab.runner.running
    assert child_process.spare_pid() is None
    assert not [p for p in multiprocessing.active_children() if p.name == "cnnstudio-job"]


def test_a_process_that_dies_before_the_run_starts_says_so(qtbot, tab, monkeypatch):
    """No RunStarted came from the run that died: its message does not offer Resume for
    Start (Resume would continue the run before it), names Resume for a Resume, and no
    spare is started after a process was killed (memory may be short)."""
    monkeypatch.setenv("CNNSTUDIO_SPARE_PROCESS", "1")
    tab.show()
    tab.form.epochs.setValue(1)
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        tab.start_training()  # a run that started and finished: Resume knows it
    real_start = child_process.start

    def start_then_die(*args):
        child = real_start(*args)
        child.kill("it was killed for the test")
        return child

    monkeypatch.setattr(child_process, "start", start_then_die)
    errors: list[str] = []
    tab.show_error = lambda message, details="": errors.append(message)
    with qtbot.waitSignal(tab.runner.failed, timeout=60_000):
        tab.start_training()
    assert "it was killed for the test" in errors[-1]
    assert errors[-1].endswith("It ended before the run started: press Start to try again.")
    assert child_process.spare_pid() is None
    tab.form.epochs.setValue(2)
    with qtbot.waitSignal(tab.runner.failed, timeout=60_000):
        tab.resume_training()
    assert errors[-1].endswith("It ended before the run started: press Resume to try again.")


def test_force_stop_ends_the_process_after_a_question(qtbot, tab, monkeypatch):
    """Stop, then Stop again while it stops (Force stop): after a question, the process
    is ended; no error dialog, as the user asked for it."""
    tab.form.epochs.setValue(500)
    errors: list[str] = []
    asked: list[str] = []
    tab.show_error = lambda message, details="": errors.append(message)
    monkeypatch.setattr(tab, "ask_continue", lambda text: asked.append(text) or True)
    tab.start_training()
    qtbot.waitUntil(lambda: tab.progress.value() > 0, timeout=120_000)
    with qtbot.waitSignal(tab.runner.done, timeout=60_000):
        tab.stop_job()  # Esc
        assert tab.stop_button.text() == "Force stop" and asked == []
        tab.stop_job()  # Esc again
    assert len(asked) == 1 and "last finished epoch" in asked[0]
    assert isinstance(tab.runner.error, child_process.ProcessEndedError)
    assert "Force stop was pressed" in str(tab.runner.error)
    assert errors == [] and tab.progress.format() == "Stopped"
    assert tab.stop_button.text() == "Stop" and tab.start_button.isEnabled()


def test_a_closing_window_ends_a_job_that_does_not_stop(qtbot):
    """The window waits PROCESS_CLOSE_GRACE_MS for a job in its own process to stop, then
    ends it: closing never hangs on a job stuck in a native call."""
    import time

    import child_jobs

    from cnnstudio.gui import workers

    runner = workers.JobRunner("Training")
    failures: list[str] = []
    runner.failed.connect(failures.append)
    started: list[object] = []
    runner.progress.connect(started.append)
    runner.run_callbacks_in_process(child_jobs.hang)
    qtbot.waitUntil(lambda: started == ["started"], timeout=60_000)
    begin = time.monotonic()
    assert runner.shutdown()
    waited = time.monotonic() - begin
    assert workers.PROCESS_CLOSE_GRACE_MS / 1000 <= waited < 60
    assert not runner.running and "the window closed while it ran" in failures[0]


def test_save_after_the_run_folder_was_renamed(qtbot, tab, monkeypatch):
    """The model waits for Save outside the run folder: renaming the run (Runs page)
    does not take it away. A model that could not be kept is said, with where the best
    epoch still is."""
    import dataclasses

    from cnnstudio.core import library
    from cnnstudio.core.training import monitor

    tab.form.epochs.setValue(1)
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        tab.start_training()
    monitor.rename_run(tab._last_run_dir, "renamed-run")
    monkeypatch.setattr(tab, "ask_model_name", lambda suggested: "digits")
    errors: list[str] = []
    tab.show_error = lambda message, details="": errors.append(message)
    tab.save_to_library()
    assert errors == [] and [e.name for e in library.list_models()] == ["digits"]
    assert library.load_entry(library.find_model("digits")).output_shape == (None, 3)

    tab._result = dataclasses.replace(tab._result, model_path="", model_error="disk full")
    tab.save_to_library()
    assert len(errors) == 1 and "disk full" in errors[0]
    assert "checkpoints/best.keras" in errors[0]
