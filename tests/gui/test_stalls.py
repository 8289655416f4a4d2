"""The window does not freeze while a job starts and runs (issue 15).

A Dream job on the real tab, watched by the StallWatchdog from Run to the end. The bound
is generous (250 ms) because the CI machine is shared, and it is applied to the gaps the
GUI thread spent *working* (collections, painting, slots: what this code controls); a gap
in which the GUI thread only waited (for a loaded machine's CPU) fails only past 1.5 s.
The 100 ms goal is measured, per tab, by ``python -m bench stalls``.
"""

from __future__ import annotations

import gc

import pytest

from cnnstudio.gui.garbage import freeze_heap
from cnnstudio.gui.watchdog import StallWatchdog

BOUND_MS = 250
WAITING_BOUND_MS = 1500


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
    working = [s for s in dog.stalls if s.gui_busy >= 0.5]
    assert not working, dog.report()
    assert all(s.milliseconds < WAITING_BOUND_MS for s in dog.stalls), dog.report()
    # TensorFlow's long-lived objects were frozen once it was imported: collections in
    # the GUI thread no longer scan them
    assert gc.get_freeze_count() > 100_000
    assert freeze_heap() is False  # once per process
