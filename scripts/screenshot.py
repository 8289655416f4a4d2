"""Render the real main window and save it as a PNG: a short dream in the Dream tab (the
default), a Quick look in the Style tab (``--scene style``), a fast style model trained in
the Style tab and then used on the sample cat (``--scene faststyle``; ``--train-shot
FILE`` also saves the training under way), or the keyboard-shortcuts sheet (``--scene
shortcuts``).

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python scripts/screenshot.py docs/dream-tab.png
    .venv/bin/python scripts/screenshot.py --scene style docs/style-tab.png

(Without a display on Linux the script re-runs itself under xvfb-run when it is installed.)

The dream uses an untrained (random-weights) InceptionV3 and the style an untrained VGG19,
because pretrained weights cannot be assumed on a build machine; the window says so. Settings go to a temporary
CNN Studio home so the picture does not depend on (or change) the user's settings.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sample_image_path(workdir: Path) -> Path:
    """A sample photo from resources/samples, or a colourful generated pattern."""
    samples = sorted((REPO / "resources" / "samples").glob("*.png"))
    preferred = [p for p in samples if p.stem == "chelsea"]
    if preferred or samples:
        return (preferred or samples)[0]
    import numpy as np

    from cnnstudio.core.image_saving import save_image

    y, x = np.mgrid[0:360, 0:480].astype(np.float32)
    pattern = np.stack(
        [
            127 + 127 * np.sin(x / 23.0),
            127 + 127 * np.sin(y / 17.0 + x / 41.0),
            127 + 127 * np.cos((x + y) / 29.0),
        ],
        axis=-1,
    ).astype(np.uint8)
    return save_image(workdir / "pattern.png", pattern, overwrite=True)


def wait_until(app, condition, timeout_s: float) -> bool:
    """Run the event loop until ``condition()`` or the timeout."""
    from PySide6.QtCore import QDeadlineTimer, QEventLoop

    deadline = QDeadlineTimer(int(timeout_s * 1000))
    while not condition():
        if deadline.hasExpired():
            return False
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    return True


def _reexec_under_xvfb(argv: list[str]) -> None:
    """No display on Linux: run this script again under ``xvfb-run`` if it is installed
    (so `make screenshot` works on a headless build machine too)."""
    if not sys.platform.startswith("linux") or os.environ.get("CNNSTUDIO_UNDER_XVFB"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    if os.environ.get("QT_QPA_PLATFORM"):
        return  # the caller chose a platform (e.g. offscreen)
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        return
    os.environ["CNNSTUDIO_UNDER_XVFB"] = "1"
    command = [xvfb, "-a", "-s", "-screen 0 1400x900x24", sys.executable, __file__, *argv]
    os.execv(xvfb, command)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _reexec_under_xvfb(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="PNG file to write")
    parser.add_argument(
        "--scene", choices=("dream", "style", "faststyle", "shortcuts"), default="dream"
    )
    parser.add_argument("--train-shot", type=Path, help="faststyle: also the training, here")
    parser.add_argument("--fast-steps", type=int, default=200, help="faststyle: training steps")
    parser.add_argument("--steps", type=int, default=12, help="steps per octave")
    parser.add_argument("--size", type=int, default=420, help="max image size")
    parser.add_argument("--width", type=int, default=1360)
    parser.add_argument("--height", type=int, default=860)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="cnnstudio-shot-"))
    os.environ.setdefault("CNNSTUDIO_HOME", str(workdir / "home"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from cnnstudio.gui.app import create_app
    from cnnstudio.gui.main_window import MainWindow
    from cnnstudio.gui.widgets import dialogs

    # the pictures made here are not the user's: closing must not ask to save them
    dialogs.ask_unsaved_work = lambda *args, **kwargs: dialogs.DISCARD
    app = create_app([sys.argv[0]])
    window = MainWindow(detect_device=True)
    window.resize(args.width, args.height)
    window.show()
    scene = {
        "dream": dream_scene,
        "style": style_scene,
        "faststyle": faststyle_scene,
        "shortcuts": shortcuts_scene,
    }
    shot = scene[args.scene](app, window, args, workdir)
    if shot is None:
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    pixmap = shot.grab()
    if not pixmap.save(str(args.output), "PNG"):
        print(f"screenshot: cannot write {args.output}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} ({pixmap.width()}x{pixmap.height()})")
    window.close()
    return 0


def dream_scene(app, window, args, workdir: Path):
    """A short dream on the sample cat with an untrained InceptionV3."""
    tab = window.tab_by_key("dream")
    window.tabs.setCurrentWidget(tab)
    tab.ask_restore_params = lambda path: False
    tab.open_image(str(sample_image_path(workdir)))
    tab.form.weights_picker.set_value("random")
    tab.form.steps_spin.setValue(args.steps)
    tab.form.octaves_spin.setValue(3)
    tab.form.max_size_spin.setValue(args.size)
    tab.form.seed_spin.setValue(7)
    tab.form.step_size_spin.setValue(0.02)
    if not _run(app, window, tab):
        return None
    tab.split_button.setChecked(True)  # before/after, the divider in the middle
    wait_until(app, lambda: False, 0.5)  # let the loss plot's timer draw the last points
    return window


def style_scene(app, window, args, workdir: Path):
    """A Quick look in the Style tab (untrained VGG19), with the run time over Run."""
    tab = window.tab_by_key("style")
    window.tabs.setCurrentWidget(tab)
    tab.ask_restore_params = lambda path: False
    samples = REPO / "resources" / "samples"
    tab.open_image(str(sample_image_path(workdir)))
    tab.add_style_file(str(samples / "coffee.png"))
    tab.form.weights_picker.set_value("random")
    tab.form.recipe_combo.activated.emit(tab.form.recipe_combo.findData("quick"))
    tab.form.seed_spin.setValue(7)
    # the speed of this computer is measured once the device is known
    wait_until(app, lambda: "about" in tab.estimate.text(), 300)
    if not _run(app, window, tab):
        return None
    wait_until(app, lambda: False, 0.5)
    return window


def _photo_crops(workdir: Path, count: int = 18) -> Path:
    """A folder of photos: squares cut from the sample pictures at seeded places."""
    import numpy as np

    from cnnstudio.core import images
    from cnnstudio.core.image_saving import save_image

    folder = workdir / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    samples = [images.load_image(p) for p in sorted((REPO / "resources" / "samples").glob("*.*g"))]
    for index in range(count):
        picture = samples[index % len(samples)]
        height, width = picture.shape[:2]
        side = int(min(height, width) * rng.uniform(0.45, 0.8))
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        save_image(folder / f"crop{index:02d}.png", picture[top : top + side, left : left + side])
    return folder


def faststyle_scene(app, window, args, workdir: Path):
    """A style model trained in "Train a fast style model" (untrained VGG19, the made-up
    style of docs/faststyle-style.png, crops of the sample pictures), saved to the
    library, then "Use a fast style model" on the sample cat, before/after split."""
    tab = window.tab_by_key("style")
    window.tabs.setCurrentWidget(tab)
    tab.ask_restore_params = lambda path: False
    tab.set_mode("train")
    panel = tab.train_panel
    panel.add_style_files([str(REPO / "docs" / "faststyle-style.png")])
    panel.set_photo_folder(str(_photo_crops(workdir)))
    form = panel.form
    form.weights_picker.set_value("random")
    form.size_spin.setValue(128)
    form.steps_spin.setValue(args.fast_steps)
    form.preview_spin.setValue(10)
    panel.start()
    if args.train_shot is not None:
        wait_until(app, lambda: panel.progress.value() >= args.fast_steps // 2, 1800)
        wait_until(app, lambda: False, 0.5)
        args.train_shot.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.train_shot), "PNG")
        print(f"wrote {args.train_shot}")
    if not wait_until(app, lambda: not panel.runner.running, 3600) or panel.result is None:
        print(f"screenshot: training failed: {panel.runner.error_message}", file=sys.stderr)
        return None
    panel.ask_model_name = lambda suggested: "swirls"
    panel.save_to_library()
    tab.set_mode("use")
    tab.open_image(str(sample_image_path(workdir)))
    use = tab.use_panel
    wait_until(app, lambda: use.result is not None, 120)
    wait_until(app, lambda: "detecting" not in window.device_label.text(), 120)
    use.split_button.setChecked(True)  # before/after, the divider in the middle
    wait_until(app, lambda: False, 0.5)
    return window


def shortcuts_scene(app, window, args, workdir: Path):
    """Help > Keyboard shortcuts, made from the window's actions."""
    sheet = window.show_shortcuts()
    sheet.resize(620, 640)
    wait_until(app, lambda: False, 0.5)
    return sheet


def _run(app, window, tab) -> bool:
    tab.run_job()
    if not wait_until(app, lambda: not tab.runner.running, 900):
        print("screenshot: the job did not finish in 15 minutes", file=sys.stderr)
        tab.shutdown()
        return False
    if tab.runner.error_message:
        print(f"screenshot: the job failed: {tab.runner.error_message}", file=sys.stderr)
    wait_until(app, lambda: "detecting" not in window.device_label.text(), 120)
    return True


if __name__ == "__main__":
    sys.exit(main())
