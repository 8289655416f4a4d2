"""``cnnstudio style``: runs in-process and as a real subprocess, saves its parameters,
reports progress on stderr, and turns bad input into exit 2 with one line."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cnnstudio.cli.main import main
from cnnstudio.core import images
from cnnstudio.core.eta import staged_fraction


@pytest.fixture
def pictures(tmp_path):
    rng = np.random.default_rng(0)
    x = np.linspace(0, 255, 60)[None, :, None]
    content = np.clip(x * [1.0, 0.3, 0.6] + rng.normal(0, 10, (48, 60, 3)), 0, 255)
    content_path = tmp_path / "content.png"
    Image.fromarray(content.astype(np.uint8)).save(content_path)
    style_paths = []
    for index in range(2):
        stripes = ((np.arange(40) // (4 + 3 * index)) % 2 * 200)[:, None, None]
        pattern = np.broadcast_to(stripes + [20, 40 * index, 90], (40, 40, 3))
        path = tmp_path / f"style{index}.jpg"
        Image.fromarray(np.clip(pattern, 0, 255).astype(np.uint8)).save(path)
        style_paths.append(path)
    return content_path, style_paths


def _exit_code(argv: list[str]) -> int:
    """main()'s return value, or argparse's exit status for a bad flag."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


def test_style_in_process_saves_png_with_parameters(pictures, tmp_path, capsys):
    content, styles = pictures
    out = tmp_path / "out" / "result.png"
    code = main(
        ["style", str(content), str(styles[0]), "-o", str(out), "--weights", "random",
         "--size", "48", "--steps", "3", "--seed", "1"]
    )  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "step 3/3" in err and "saved" in err and "untrained" in err
    result = images.load_image(out)
    assert result.shape == (38, 48, 3)  # content's aspect, longest side --size
    meta = images.read_params(out)
    assert meta["job"] == "style" and meta["untrained"] is True
    assert meta["content"] == "content.png" and meta["styles"] == ["style0.jpg"]
    assert meta["steps"] == 3 and meta["size"] == 48 and meta["optimizer"] == "adam"


def test_style_lbfgs_blend_and_colours_report_loss_evaluations(pictures, tmp_path, capsys):
    content, styles = pictures
    out = tmp_path / "blend.png"
    code = main(
        ["style", str(content), str(styles[0]), str(styles[1]), "-o", str(out),
         "--style-blend", "0.7,0.3", "--weights", "random", "--size", "40",
         "--optimizer", "lbfgs", "--steps", "2", "--lbfgs-evaluations", "3",
         "--preserve-colors", "--layers", "gatys", "--init", "noise"]
    )  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "loss evaluations" in err and "step 2/2" in err
    meta = images.read_params(out)
    assert meta["style_blend"] == [0.7, 0.3] and meta["optimizer"] == "lbfgs"
    assert meta["preserve_colors"] == "luminance" and meta["layers"] == "gatys"


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--style-blend", "1,2,3"], "3 weights for 1 style"),
        (["--style-blend", "a"], "'a' is not a number"),
        (["--size", "8"], "size 8"),
        (["--style-layers", "block7_conv1"], "block7_conv1"),
        (["--optimizer", "sgd"], "sgd"),
        (["--size", "8000"], "GB is available; pass --size "),  # memory, before any work
        (["--size", "100000"], "size 100000 must be a whole number from 1 to 8192"),
        (["--seed", str(2**31)], "seed 2147483648 must be a whole number from 0 to"),
        (["--learning-rate", "1e308"], "learning rate 1e+308 must be a number above 0 to 100"),
        (["--style-layers", "block1_conv1=0,block2_conv1=0"], "--style-layers"),
        (["--content-layers", "block4_conv2=0"], "--content-layers"),
    ],
)
def test_bad_values_exit_2_with_one_line(pictures, tmp_path, capsys, extra, fragment):
    content, styles = pictures
    code = _exit_code(
        ["style", str(content), str(styles[0]), "-o", str(tmp_path / "x.png"), "--weights",
         "random", *extra]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("cnnstudio: ") and err.count("\n") == 1 and fragment in err
    assert not (tmp_path / "x.png").exists()


def test_unreadable_style_file_and_existing_output(pictures, tmp_path, capsys):
    content, styles = pictures
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    out = tmp_path / "r.png"
    code = main(["style", str(content), str(bad), "-o", str(out), "--weights", "random"])
    err = capsys.readouterr().err
    assert code == 2 and "notes.png" in err and err.count("\n") == 1
    assert "Traceback" not in err
    out.write_bytes(b"keep me")
    code = main(["style", str(content), str(styles[0]), "-o", str(out), "--weights", "random"])
    assert code == 2 and "already exists" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"


def test_style_as_a_subprocess(pictures, tmp_path):
    content, styles = pictures
    out = tmp_path / "sub.webp"
    env = {**os.environ, "CNNSTUDIO_OFFLINE": "1"}
    # `python -m cnnstudio`, with a fixed free-memory figure: never this machine's
    run_cnnstudio = (
        "import runpy, sys\n"
        "from cnnstudio.core.style import memory\n"
        "memory.available_memory = lambda: 16 * 2**30\n"
        "sys.argv[0] = 'cnnstudio'\n"
        "runpy.run_module('cnnstudio', run_name='__main__', alter_sys=True)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", run_cnnstudio, "style", str(content), str(styles[1]), "-o",
         str(out), "--weights", "random", "--size", "40", "--steps", "2", "--multi-scale"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert out.exists() and images.load_image(out).shape == (32, 40, 3)
    assert "saved" in completed.stderr


def test_progress_eta_weighs_multi_scale_stages_by_their_pixels():
    import io

    from cnnstudio.cli import style_cmd
    from cnnstudio.core.eta import Eta
    from cnnstudio.core.events import Progress

    costs = [1 / 16, 1 / 4, 1.0]  # the scales' pixels, relative to the full size
    stream = io.StringIO()
    clock = [0.0]
    reporter = style_cmd._Reporter(stream, quiet=False)
    reporter.eta = Eta(clock=lambda: clock[0])
    for step in range(1, 11):  # the quick 1/4 scale: one second per full-size step's work
        fraction = staged_fraction(step, 10, costs)
        clock[0] = fraction * 10 * sum(costs)
        reporter.event(
            Progress(step=step, total=30, loss=1.0, stage=1, stages=3, fraction=fraction)
        )
    last = stream.getvalue().strip().splitlines()[-1]
    assert reporter.eta.seconds_left == pytest.approx(12.5)  # the work left, not 1.25 s
    assert "scale 1/3  step 10/30" in last and last.endswith(f"ETA {reporter.eta.text()}")
    assert reporter.eta.text() in ("0:12", "0:13")
