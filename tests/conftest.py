"""Test set-up shared by every test: headless Qt, quiet TensorFlow, private user folders."""

from __future__ import annotations

import io
import os
import threading
import time

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests never depend on a GPU
# a spare training process imports TensorFlow for seconds: only the tests about it start one
os.environ.setdefault("CNNSTUDIO_SPARE_PROCESS", "0")


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory, monkeypatch):
    """Each test gets its own CNN Studio home and Keras cache: nothing leaks between tests
    and nothing touches the developer's real library, settings or downloads."""
    home = tmp_path_factory.mktemp("cnnstudio-home")
    monkeypatch.setenv("CNNSTUDIO_HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(home / "keras"))
    return home


@pytest.fixture(autouse=True)
def offline_by_default(monkeypatch):
    """Tests never reach the internet: the connectivity probe in front of every weights
    download answers "offline" (the real offline path), unless a test fakes a download.
    A patch reaches this process only: the Train tab's runs train in a child process
    (cnnstudio.core.child_process), which sees environment variables, so a window test
    whose run may look for ImageNet weights sets CNNSTUDIO_OFFLINE=1."""
    from cnnstudio.core import weights

    monkeypatch.setattr(weights, "_is_online", lambda host, *args, **kwargs: False)


#: the free memory every test sees (the style job's memory check): tests never depend on
#: how much memory the machine happens to have free while they run
TEST_AVAILABLE_MEMORY = 16 * 2**30


@pytest.fixture(scope="session")
def _fake_meminfo(tmp_path_factory):
    path = tmp_path_factory.mktemp("proc") / "meminfo"
    path.write_text(f"MemTotal: 33554432 kB\nMemAvailable: {TEST_AVAILABLE_MEMORY // 1024} kB\n")
    return path


@pytest.fixture(autouse=True)
def fixed_available_memory(monkeypatch, _fake_meminfo):
    """The memory check reads a meminfo that says TEST_AVAILABLE_MEMORY bytes are free,
    never the live /proc/meminfo (a run on a busy machine once failed on it)."""
    from cnnstudio.core.style import memory

    monkeypatch.setattr(memory, "MEMINFO", _fake_meminfo)


@pytest.fixture(autouse=True)
def no_thread_left_running():
    """Fail a test that leaves a thread running (DESIGN.md: tests wait on signals), daemon
    threads included: every helper thread the core starts is one. Threads that Python did
    not start (Qt's pool threads, seen by ``threading`` once they run Python code, as
    ``_DummyThread``s that never end) are the JobRunners' business: their tests check the
    pools. A thread already told to stop (ffmpeg's log reader after its process ended)
    gets a grace of up to two seconds to finish: ending is not running on."""
    before = {t.ident for t in threading.enumerate()}
    yield
    leftover = [
        t
        for t in threading.enumerate()
        if t.ident not in before and t.is_alive() and not isinstance(t, threading._DummyThread)  # noqa: SLF001 - no public name
    ]
    deadline = time.monotonic() + 2.0
    for thread in leftover:
        thread.join(max(0.0, deadline - time.monotonic()))
    running = [t.name for t in leftover if t.is_alive()]
    assert not running, f"test left threads running: {running}"


@pytest.fixture
def fake_weights_download(monkeypatch):
    """``serve(payload, hold=None)``: every weights URL answers with ``payload`` (nothing
    goes online); with a ``threading.Event`` as ``hold``, the download stops after its first
    chunk until the event is set (to catch a job mid-download). Returns the list of URLs
    asked for, filled in as downloads happen."""
    from cnnstudio.core import weights

    requested: list[str] = []

    def serve(payload: bytes, hold=None) -> list[str]:
        class FakeResponse(io.BytesIO):
            headers = {"Content-Length": str(len(payload))}

            def read(self, size=-1):
                if hold is not None and self.tell() > 0:
                    hold.wait(30)
                return super().read(size)

        def fake_urlopen(url, timeout):
            requested.append(url)
            return FakeResponse(payload)

        monkeypatch.setattr(weights, "_is_online", lambda host: True)
        monkeypatch.setattr(weights.urllib.request, "urlopen", fake_urlopen)
        return requested

    return serve


# ----------------------------------------------------------------------------- the end
# With TensorFlow, Keras and Qt loaded and hundreds of windows, networks and worker
# pools made and gone, the interpreter's own teardown after the last test sometimes
# crashed (a segmentation fault in 1 run of 3, after "N passed" was printed, so `make
# test` failed with nothing failing). Once pytest has reported, the process ends with
# pytest's exit status and skips that teardown; every test's own clean-up has run.


def pytest_sessionfinish(session, exitstatus):
    session.config._cnnstudio_exitstatus = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    status = getattr(config, "_cnnstudio_exitstatus", None)
    if status is None or os.environ.get("CNNSTUDIO_TEST_TEARDOWN"):
        return  # an interrupted session, or the teardown wanted (to look for the crash)
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
