"""Render the real main window on the Train tab's Runs page: three finished runs overlaid
(learning rates 3e-4, 1e-3 and 3e-3) and a fourth one training live, and save it as a PNG.

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python scripts/screenshot_runs.py docs/runs-browser.png

(Without a display on Linux it re-runs itself under xvfb-run, as scripts/screenshot.py.)
The runs are real LeNet-5 runs on a small generated dataset (noisy bands, some labels
wrong, so the runs differ), in a temporary CNN Studio home.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshot import wait_until  # noqa: E402


def _reexec_under_xvfb(argv: list[str]) -> None:
    """No display on Linux: run this script again under ``xvfb-run`` when it is there."""
    if not sys.platform.startswith("linux") or os.environ.get("CNNSTUDIO_UNDER_XVFB"):
        return
    if any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        return
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        return
    os.environ["CNNSTUDIO_UNDER_XVFB"] = "1"
    command = [xvfb, "-a", "-s", "-screen 0 1400x900x24", sys.executable, __file__, *argv]
    os.execv(xvfb, command)


RATES = {"lenet5-lr3e-4": 3e-4, "lenet5-lr1e-3": 1e-3, "lenet5-lr3e-3": 3e-3}


def _dataset(folder: Path) -> Path:
    import numpy as np

    rng = np.random.default_rng(7)
    count, size, classes = 1400, 28, 5
    y = rng.integers(0, classes, count)
    x = rng.integers(0, 170, (count, size, size)).astype(np.int16)
    band = size // classes
    for i, c in enumerate(y):  # a faint band: the class, under heavy noise
        x[i, c * band : (c + 1) * band, :] += rng.integers(25, 60)
    x = np.clip(x, 0, 255).astype(np.uint8)
    wrong = rng.random(count) < 0.08  # some labels are wrong: accuracy stays below 100%
    y[wrong] = rng.integers(0, classes, int(wrong.sum()))
    path = folder / "bands.npz"
    np.savez(path, x_train=x[:1100], y_train=y[:1100], x_test=x[1100:], y_test=y[1100:])
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _reexec_under_xvfb(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="PNG file to write")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="cnnstudio-runs-shot-"))
    os.environ["CNNSTUDIO_HOME"] = str(home)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from cnnstudio.core import paths
    from cnnstudio.core.training import job
    from cnnstudio.core.training.events import EpochEnd
    from cnnstudio.core.training.params import TrainConfig

    data = _dataset(home)
    root = paths.runs_dir()

    def config(name: str, **values) -> TrainConfig:
        settings = dict(recipe="lenet5", data=str(data), epochs=10, batch_size=50)
        settings.update(values)
        return TrainConfig(run_dir=str(root / name), **settings)

    for name, rate in RATES.items():
        print(f"training {name}", flush=True)
        job.train(config(name, learning_rate=rate))

    from PySide6.QtCore import QPointF
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from cnnstudio.gui.app import create_app
    from cnnstudio.gui.main_window import MainWindow

    app = create_app([])
    window = MainWindow(detect_device=False)
    window.resize(1400, 900)
    window.show()
    # a fourth run trains while the window follows it
    epochs: list[int] = []
    stop = threading.Event()

    def live_run() -> None:
        job.train(
            config("lenet5-lr1e-3-batch20", learning_rate=1e-3, batch_size=20, epochs=40),
            on_event=lambda e: epochs.append(e.epoch) if isinstance(e, EpochEnd) else None,
            should_stop=stop.is_set,
        )

    trainer = threading.Thread(target=live_run)
    trainer.start()
    window.show_runs()
    page = window.tab_by_key("train").pages.runs_page
    wait_until(app, lambda: page.model.rowCount() == 4 and len(epochs) >= 4, 300)
    wait_until(app, lambda: False, 1.5)  # the follower's next poll
    page.select_runs(list(RATES))  # the live one stays unselected: its status shows
    page.curves.smoothing.setValue(30)
    page.splitter.setSizes([260, 640])
    wait_until(app, lambda: False, 1.0)  # laid out and auto-ranged
    plot = page.curves.loss_plot
    point = page.curves.view.mapFromScene(plot.vb.mapViewToScene(QPointF(6.0, 1.3)))
    QTest.mouseMove(page.curves.view.viewport(), point)
    wait_until(app, lambda: page.curves._labels["loss"].isVisible(), 5)
    wait_until(app, lambda: False, 0.3)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.output))
    print(f"wrote {args.output}")
    stop.set()
    while trainer.is_alive():
        app.processEvents()
        trainer.join(0.05)
    window.close()
    QApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
