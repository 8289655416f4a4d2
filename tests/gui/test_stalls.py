"""The window does not freeze while a job starts and runs (issue 15).

A Dream job and a Train job on the real tabs, watched by the StallWatchdog from Run to the
end. The bounds are generous because the CI machine is shared, and they tell the causes
apart: a gap the GUI thread spent *working* (collections, painting, slots) fails past
250 ms; one it spent *blocked* on a lock, mostly the interpreter lock a worker held (a
native call that keeps it, a wait for a worker thread), fails past 1 s; one it only
spent waiting for a loaded machine's CPU fails past 1.5 s. The 100 ms goal is measured,
per tab, by ``python -m bench stalls``.
"""

from __future__ import annotations

import gc

import pytest

from cnnstudio.gui.garbage import freeze_heap
from cnnstudio.gui.watchdog import StallWatchdog

BOUND_MS = 250
BLOCKED_BOUND_MS = 1000
WAITING_BOUND_MS = 1500


def assert_no_stall(dog: StallWatchdog) -> None:
    working = [s for s in dog.stalls if s.gui_busy * s.milliseconds >= BOUND_MS]
    assert not working, dog.report()
    blocked = [s for s in dog.stalls if s.gui_blocked * s.milliseconds >= BLOCKED_BOUND_MS]
    assert not blocked, dog.report()
    assert all(s.milliseconds < WAITING_BOUND_MS for s in dog.stalls), dog.report()


@pytest.fixture
def dream_tab(window, qtbot, tmp_path):
    import tensorflow  # noqa: F401 - the app loads it in the background at start-up

    from cnnstudio.core.image_saving import save_image
    from cnnstudio.core.images import noise_image

    tab = next(
        window.tabs.widget(i)
        for i in range(window.tabs.count())
        if window.tabs.widget(i).settings_key == "dream"
    )
    window.tabs.setCurrentWidget(tab)
    window.show()
    picture = tmp_path / "photo.png"
    save_image(picture, noise_image(200, 150, seed=1))
    tab.open_image(str(picture))
    tab.form.weights_picker.set_value("random")
    tab.form.set_params(tab.form.params().replace(steps=6, octaves=2, max_size=160))
    return tab


def test_a_dream_starts_and_runs_without_freezing_the_window(dream_tab, qtbot):
    with StallWatchdog(threshold_ms=BOUND_MS) as dog:
        with qtbot.waitSignal(dream_tab.runner.done, timeout=120_000):
            dream_tab.run_job()
    assert dream_tab.runner.error is None, dream_tab.runner.error_message
    assert_no_stall(dog)
    # TensorFlow's long-lived objects were frozen once it was imported: collections in
    # the GUI thread no longer scan them
    assert gc.get_freeze_count() > 100_000
    assert freeze_heap() is False  # once per process


def test_a_training_run_starts_and_runs_without_freezing_the_window(window, qtbot, digits_npz):
    """LeNet-5 on a small .npz: the Train tab's start (its process, whose dataset, model
    and first trace of fit once held the window's GIL) and its live plots, a second run
    right after the first (the runner's thread may still be leaving the first job: the
    window must not wait for it)."""
    npz = digits_npz(train=256, test=64, classes=10)
    tab = window.tab_by_key("train")
    window.tabs.setCurrentWidget(tab)
    window.show()
    assert tab.set_dataset(str(npz))
    tab.form.epochs.setValue(1)
    tab.form.batch_size.setValue(32)
    with StallWatchdog(threshold_ms=BOUND_MS) as dog:
        for _ in range(2):
            with qtbot.waitSignal(tab.runner.done, timeout=180_000):
                tab.start_training()
            assert tab.runner.error is None, tab.runner.error_message
    assert_no_stall(dog)
