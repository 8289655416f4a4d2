"""Render the feature visualisation view: a grid of InceptionV3's mixed4 (untrained:
random weights, so it needs no download) saved by the view, and the view itself with a
channel's dataset examples from a folder made of the sample pictures.

    .venv/bin/python scripts/screenshot_visualize.py docs/visualize-view.jpg docs/visualize-grid.jpg

(Without a display on Linux it re-runs itself under xvfb-run, as scripts/screenshot.py.)
Both runs take about two minutes on two cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshot import wait_until  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _reexec_under_xvfb(argv: list[str]) -> None:
    """No display on Linux: run this script again under ``xvfb-run`` when it is there."""
    if not sys.platform.startswith("linux") or os.environ.get("CNNSTUDIO_UNDER_XVFB"):
        return
    if any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        return
    xvfb = shutil.which("xvfb-run")
    if xvfb is not None:
        os.environ["CNNSTUDIO_UNDER_XVFB"] = "1"
        command = [xvfb, "-a", "-s", "-screen 0 1700x1050x24", sys.executable, __file__, *argv]
        os.execv(xvfb, command)


def _photos(folder: Path) -> Path:
    """The sample pictures, a corner and a mirror image of each, and a note that is not
    a picture (the view lists it as skipped)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for sample in sorted((ROOT / "resources" / "samples").glob("*.[pj][np]g")):
        img = Image.open(sample).convert("RGB")
        width, height = img.size
        img.save(folder / f"{sample.stem}.png")
        img.crop((0, 0, width // 2, height // 2)).save(folder / f"{sample.stem}-corner.png")
        img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / f"{sample.stem}-mirror.png")
    (folder / "notes.txt").write_text("not a picture\n")
    return folder


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _reexec_under_xvfb(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("view", type=Path, help="the view's picture (.png or .jpg)")
    parser.add_argument("grid", type=Path, help="the grid as the view saves it")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="cnnstudio-visualize-shot-"))
    os.environ["CNNSTUDIO_HOME"] = str(home)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from PIL import Image
    from PySide6.QtWidgets import QApplication

    from cnnstudio.gui.app import create_app
    from cnnstudio.gui.main_window import MainWindow

    app = create_app([])
    import keras

    keras.utils.set_random_seed(0)  # the untrained network's weights
    window = MainWindow(detect_device=False)
    window.resize(1280, 840)
    window.show()
    view = window.visualize.ensure_view()
    form = view.form
    form.set_model_spec("inception_v3")
    form.weights.set_value("random")
    form.layer_edit.setText("mixed4")
    view.resize(1500, 900)
    window.visualize.show_view()

    def run(channels: str, folder: str) -> None:
        form.channels_edit.setText(channels)
        form.examples_edit.setText(folder)
        form.top_spin.setValue(4)
        view.run_job()
        print(f"visualising mixed4 {channels}", flush=True)
        wait_until(app, lambda: not view.runner.running, 1800)
        print(view.status_line.text(), flush=True)

    run("0-15", "")
    args.grid.parent.mkdir(parents=True, exist_ok=True)
    view.ask_save_path = lambda: str(args.grid)
    view.save_grid()
    print(f"wrote {args.grid}")

    run("0-7", str(_photos(home / "photos")))
    records = view.panel.records
    view.choose(max(range(len(records)), key=lambda i: records[i].objective))
    wait_until(app, lambda: view.panel.example_picture(0) is not None, 60)
    wait_until(app, lambda: False, 0.5)  # laid out
    shot = home / "view.png"
    view.grab().save(str(shot))
    Image.open(shot).convert("RGB").save(args.view, quality=88, optimize=True)
    print(f"wrote {args.view}")
    view._saved_grid = view._grid  # nothing to ask about on closing
    window.close()
    QApplication.processEvents()
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
