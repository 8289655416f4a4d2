"""A callback job in a process of its own (cnnstudio.core.child_process): events, results,
Stop, errors with their fields, a child that dies, the spare, and a spare whose parent
dies. The jobs are in child_jobs.py (a child imports them by name)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import child_jobs
import pytest

from cnnstudio.core import child_process
from cnnstudio.core.errors import InputError


def _run(fn, *args, should_stop=lambda: False, **kwargs):
    events = []
    result = child_process.run(
        fn, args, kwargs, on_event=events.append, should_stop=should_stop, pack=None
    )
    return events, result


def test_events_come_in_order_then_the_result_from_another_process():
    events, result = _run(child_jobs.count, 5)
    assert events == [("step", i) for i in range(5)]
    assert result["pid"] != os.getpid()


def test_pack_runs_in_the_child_on_the_result():
    result = child_process.run(
        child_jobs.count,
        (1,),
        on_event=lambda event: None,
        should_stop=lambda: False,
        pack=child_jobs.mark,
    )
    assert result["packed_in"] == result["pid"] != os.getpid()


def test_stop_is_passed_on_and_the_job_ends_its_own_way():
    events: list = []

    def should_stop():
        return len(events) >= 3

    result = child_process.run(
        child_jobs.until_stopped, on_event=events.append, should_stop=should_stop
    )
    assert result["stopped"] is True
    assert 3 <= result["sent"] == len(events)


def test_a_studio_error_keeps_its_fields_and_the_child_traceback():
    with pytest.raises(InputError) as caught:
        _run(child_jobs.refuse)
    error = caught.value
    assert str(error) == "steps 0 must be at least 1"
    assert (error.param, error.remedy) == ("steps", "smaller_size")
    assert "child_jobs.py" in error.child_traceback and "refuse" in error.child_traceback


def test_other_errors_come_back_too_even_one_that_does_not_pickle():
    with pytest.raises(ZeroDivisionError) as caught:
        _run(child_jobs.divide)
    assert "return 1 / 0" in caught.value.child_traceback
    with pytest.raises(RuntimeError, match="Unpicklable: a lock inside") as caught:
        _run(child_jobs.raise_unpicklable)
    assert "raise_unpicklable" in caught.value.child_traceback


def test_a_child_that_dies_is_an_error_that_says_how():
    events: list = []
    with pytest.raises(child_process.ProcessEndedError, match="killed by SIGKILL"):
        child_process.run(child_jobs.die, on_event=events.append, should_stop=lambda: False)
    assert events == ["about to die"]


def test_the_spare_takes_the_next_job_with_the_environment_of_now(monkeypatch):
    """A spare imports TensorFlow ahead; the job it runs sees the environment as it is
    when the job starts, not as it was when the spare started."""
    child_process.prepare_spare()
    try:
        spare = child_process.spare_pid()
        assert spare is not None
        child_process.prepare_spare()  # one is enough
        assert child_process.spare_pid() == spare
        monkeypatch.setenv("CHILD_JOB_MARKER", "set after the spare started")
        _events, result = _run(child_jobs.count, 0)
        assert result == {"pid": spare, "marker": "set after the spare started"}
        assert child_process.spare_pid() is None  # used: the next job gets a new process
        child_process.prepare_spare()
        _events, result = _run(child_jobs.modules)
        assert result["tensorflow"] is True  # imported before the job came
    finally:
        child_process.discard_spare()
    _events, result = _run(child_jobs.modules)  # no spare: a fresh child imports nothing
    assert result["tensorflow"] is False


def test_a_result_sent_just_before_the_child_left_is_read():
    """The child sends its result and leaves at once (os._exit): when that happens
    between a look at the pipe that found nothing and the look at the process, the
    result is still in the pipe and must be read, not taken for a crash."""
    child = child_process.start(child_jobs.count, (0,), {}, None)
    real_poll = child.conn.poll
    looks: list[float] = []

    def slow_first_look(timeout=0.0):
        if not looks:  # found nothing; the child sends and leaves meanwhile
            looks.append(timeout)
            child.process.join(10)
            return False
        return real_poll(timeout)

    child.conn.poll = slow_first_look
    try:
        result = child.pump(lambda event: None, should_stop=lambda: False)
    finally:
        child.end()
    assert result["pid"] == child.pid and child.process.exitcode == 0


def test_a_job_silent_after_stop_is_ended():
    events: list = []
    child = child_process.start(child_jobs.hang, (), {}, None)
    try:
        with pytest.raises(child_process.ProcessEndedError, match="did not answer Stop"):
            child.pump(events.append, should_stop=lambda: bool(events), stop_grace=1.0)
    finally:
        child.end()
    assert events == ["started"] and child.process.exitcode == -signal.SIGKILL


def test_kill_ends_a_running_job_from_another_thread():
    events: list = []
    child = child_process.start(child_jobs.hang, (), {}, None)
    killer = threading.Timer(0.5, child.kill, args=("the window closed while it ran",))
    killer.start()
    try:
        with pytest.raises(child_process.ProcessEndedError, match="the window closed"):
            child.pump(events.append, should_stop=lambda: False)
    finally:
        killer.cancel()
        child.end()


def test_ctrl_c_in_the_terminal_is_not_the_childs(tmp_path):
    marker = tmp_path / "pid"
    events: list = []

    def should_stop():
        if events and len(events) == 1:  # the child is running: Ctrl+C reaches it too
            os.kill(int(marker.read_text()), signal.SIGINT)
            events.append("interrupted")
        return len(events) > 1 and time.monotonic() > stop_at

    stop_at = time.monotonic() + 0.5
    result = child_process.run(
        child_jobs.report_pid_until_stopped,
        (str(marker),),
        on_event=events.append,
        should_stop=should_stop,
    )
    assert result == str(marker) and marker.read_text() == "stopped"


def test_a_deleted_current_folder_does_not_stop_jobs(tmp_path, monkeypatch):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    _events, result = _run(child_jobs.modules)
    assert result["cwd"] == str(Path.home().resolve()) or Path(result["cwd"]).is_dir()


def _state(pid: int) -> str:
    """'' when the process is gone (a zombie left to a parent that does not reap counts
    as gone), else its state letter."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ""
    state = next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))
    return "" if state in ("Z", "X") else state


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_job_whose_window_died_is_stopped(tmp_path):
    """The window is killed while its job runs: the job sees Stop (the run folder would
    say stopped), and the child leaves."""
    marker = tmp_path / "pid"
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path[:0] = {sys.path!r}
        import child_jobs
        from cnnstudio.core import child_process
        child_process.run(child_jobs.report_pid_until_stopped, ({str(marker)!r},),
                          on_event=lambda e: print(e, flush=True), should_stop=lambda: False,
                          pack=child_jobs.mark_packed)
        """
    )
    errors = tmp_path / "stderr"
    with errors.open("w") as stderr:
        window = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    try:
        assert window.stdout.readline().strip() == "pid written"
        child = int(marker.read_text())
    finally:
        window.kill()
        window.wait()
    deadline = time.monotonic() + 30
    while _state(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _state(child)
    assert marker.read_text() == "stopped"
    assert "Traceback" not in errors.read_text()  # it left on purpose, not by a crash
    # nobody takes its result: it is not packed (a training run's model file is not left)
    assert not Path(f"{marker}.packed").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_spare_whose_window_died_leaves(tmp_path):
    code = textwrap.dedent(
        """
        import time
        from cnnstudio.core import child_process
        child_process.prepare_spare()
        print(child_process.spare_pid(), flush=True)
        time.sleep(120)
        """
    )
    errors = tmp_path / "stderr"
    with errors.open("w") as stderr:
        parent = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    try:
        spare = int(parent.stdout.readline())
        assert _state(spare)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 60  # it may be importing TensorFlow still
    while _state(spare) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _state(spare)
    assert "Traceback" not in errors.read_text()  # it left on purpose, not by a crash
