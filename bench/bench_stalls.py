"""Does the window freeze? GUI-thread gaps from Run through Stop, per tab (issue 15).

The real main window (offscreen), as a user has it: TensorFlow loaded in the background
while the window opens. Then for Dream, Style, Classify and Train in turn: put an input in
the tab, press Run, let a few steps run, press Stop, wait until the job ended. A 10 ms timer
in the GUI thread and the StallWatchdog measure every gap; each tab runs twice, cold (its
network not built yet) and warm, and the time from Run to the first progress and to the
first preview is reported too (issue 9's "first preview within 3 s of Run when the network
is already loaded").

Random weights and small sizes: a stall does not depend on the weights' values. The goal
is no gap over 100 ms; the test suite holds a generous 250 ms bound on the Dream tab
(tests/gui/test_stalls.py).

    python -m bench stalls            # all tabs
    python -m bench stalls -- dream   # (or set BENCH_STALL_TABS=dream,style)
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import record

THRESHOLD_MS = 100.0
STEPS_BEFORE_STOP = 6
SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"


def _spin(seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def _wait(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        _spin(0.02)
    return True


def _tiny_npz(folder: Path) -> str:
    rng = np.random.default_rng(0)
    path = folder / "digits.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (600, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 600),
        x_test=rng.integers(0, 256, (100, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 100),
    )
    return str(path)


def _prepare(window, key: str, scratch: Path):
    """The tab called ``key``, with an input, small settings and random weights."""
    tabs = window.tabs
    tab = next(tabs.widget(i) for i in range(tabs.count()) if tabs.widget(i).settings_key == key)
    tabs.setCurrentWidget(tab)
    form = getattr(tab, "form", None)
    if form is not None and hasattr(form, "weights_picker"):
        form.weights_picker.set_value("random")
    if key == "dream":
        tab.open_image(str(SAMPLES / "chelsea.png"))
        form.set_params(form.params().replace(steps=20, octaves=2, max_size=320))
    elif key == "style":
        tab.open_image(str(SAMPLES / "chelsea.png"))
        tab.add_style_file(str(SAMPLES / "coffee.png"))
        form.size_spin.setValue(192)
        form.steps_spin.setValue(40)
    elif key == "classify":
        form.set_model_spec("mobilenet_v2")
    elif key == "train":
        tab.set_dataset(_tiny_npz(scratch))
        form.epochs.setValue(2)
    return tab


def _run_once(tab, key: str) -> dict:
    from cnnstudio.gui.watchdog import StallWatchdog

    events: list[float] = []
    previews: list[float] = []
    runner = tab.runner
    on_progress = lambda event: events.append(time.perf_counter())  # noqa: E731
    on_preview = lambda event: previews.append(time.perf_counter())  # noqa: E731
    runner.progress.connect(on_progress)
    runner.preview.connect(on_preview)
    dog = StallWatchdog(threshold_ms=THRESHOLD_MS)
    dog.start()
    start = time.perf_counter()
    try:
        if key == "classify":
            tab.classify_paths([str(p) for p in sorted(SAMPLES.glob("*.png"))] * 4)
        else:
            tab.run_job()
        _wait(lambda: len(events) >= STEPS_BEFORE_STOP or not runner.running, 300)
        tab.stop_job()
        _wait(lambda: not runner.running, 120)
        _spin(0.3)
    finally:
        dog.stop()
        runner.progress.disconnect(on_progress)
        runner.preview.disconnect(on_preview)
    worst = sorted(dog.stalls, key=lambda s: s.seconds, reverse=True)[:3]
    return {
        "longest_gap_ms": round(dog.longest_ms, 1),
        "stalls_over_100ms": len(dog.stalls),
        "first_progress_s": round(events[0] - start, 2) if events else None,
        "first_preview_s": round(previews[0] - start, 2) if previews else None,
        "collections_over_20ms": [
            (c.generation, c.thread, round(c.seconds * 1000))
            for c in dog.collections
            if c.seconds > 0.02
        ],
        "worst": [s.describe() for s in worst],
    }


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="cnnstudio-bench-stalls-"))
    os.environ["CNNSTUDIO_HOME"] = str(home)
    os.environ["CNNSTUDIO_OFFLINE"] = "1"
    wanted = os.environ.get("BENCH_STALL_TABS", "dream,style,classify,train").split(",")

    from cnnstudio.gui.app import create_app
    from cnnstudio.gui.main_window import MainWindow

    app = create_app([])
    window = MainWindow()  # detects the device in the background: TensorFlow loads now
    window.resize(1280, 800)
    window.show()
    _wait(lambda: "TensorFlow" in str(window.statusBar().currentMessage()) or False, 1)
    _spin(8.0)  # let the background start-up finish, as a user reading the window would
    results = {}
    for key in wanted:
        tab = _prepare(window, key, home)
        _spin(0.5)
        results[key] = {"cold": _run_once(tab, key), "warm": _run_once(tab, key)}
        for phase in ("cold", "warm"):
            r = results[key][phase]
            print(
                f"{key:9s} {phase}: longest gap {r['longest_gap_ms']:6.0f} ms, "
                f"{r['stalls_over_100ms']} over {THRESHOLD_MS:.0f} ms; first progress "
                f"{r['first_progress_s']} s, first preview {r['first_preview_s']} s"
            )
            for text in r["worst"]:
                print("    " + text.replace("\n", "\n    "))
    window.close()
    app.processEvents()
    path = record("stalls", {"threshold_ms": THRESHOLD_MS, "tabs": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
