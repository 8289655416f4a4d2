"""The command line against hostile input (issue 10, bugs 7, 10 and 11): outputs checked
before the job, text from files escaped, user-caused errors in one line with exit 2."""

from __future__ import annotations

import io
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from fault_tools import CLASSES, tiny_model, tiny_model_file
from PIL import Image

from cnnstudio.cli.main import main
from cnnstudio.cli.text import printable, printable_lines
from cnnstudio.core import files, library, paths

pytestmark = pytest.mark.faults

ESCAPES = ("\x1b]0;pwned\x07", "\x1b[2J\x1b[H", "\x1b[31mred", "right\u202eleft", "bell\x07")


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([*argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err: str) -> str:
    assert err.startswith("cnnstudio: ") and err.count("\n") == 1, err
    assert "unexpected" not in err, err
    return err


@pytest.fixture
def picture(tmp_path) -> Path:
    path = tmp_path / "p.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), np.uint8)).save(path)
    return path


def _job_must_not_run(*args, **kwargs):
    raise AssertionError("the job ran before its output was checked")


def test_outputs_are_checked_before_the_job(tmp_path, picture, capsys, monkeypatch):
    from cnnstudio.core.classify import classifier
    from cnnstudio.core.dream import job as dream_job
    from cnnstudio.core.visualize import job as visualize_job

    monkeypatch.setattr(classifier, "load_classifier", _job_must_not_run)
    monkeypatch.setattr(dream_job, "dream", _job_must_not_run)
    monkeypatch.setattr(visualize_job, "visualize", _job_must_not_run)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    model = str(tiny_model_file(tmp_path / "m.keras"))
    cases = [
        (["dream", str(picture), "-o", f"{blocker}/x.png", "--weights", "random"], "is a file"),
        (["classify", model, str(picture), "--csv", f"{blocker}/x.csv"], "is a file"),
        (["classify", model, str(picture), "--gradcam", f"{blocker}/cams"], "not a folder"),
        (["visualize", model, "--layer", "conv", "-o", f"{blocker}/v.png"], "is a file"),
        (["dream", str(picture), "-o", str(blocker.with_suffix(".txt"))], "cannot save as"),
    ]
    for argv, says in cases:
        code, _, err = _run(capsys, *argv)
        assert code == 2 and says in _one_line(err), (argv, err)
    # a read-only folder (root may write anywhere: ask os.access what a user would hear)
    read_only = tmp_path / "ro"
    read_only.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        files.os, "access", lambda p, m: False if Path(p) == read_only else real_access(p, m)
    )
    for argv in (
        ["dream", str(picture), "-o", f"{read_only}/x.png", "--weights", "random"],
        ["classify", model, str(picture), "--gradcam", f"{read_only}/cams"],
        ["classify", model, str(picture), "--csv", f"{read_only}/x.csv"],
    ):
        code, _, err = _run(capsys, *argv)
        assert code == 2 and "is read-only for you" in _one_line(err), (argv, err)
    # never replaced without being told to
    existing = tmp_path / "done.png"
    existing.write_bytes(b"a picture the user made")
    code, _, err = _run(capsys, "dream", str(picture), "-o", str(existing), "--weights", "random")
    assert code == 2 and "already exists; pass --overwrite" in _one_line(err)
    assert existing.read_bytes() == b"a picture the user made"


def test_text_from_files_cannot_drive_the_terminal(tmp_path, capsys):
    """Class names, recipes and file names that carry escape sequences are printed with
    the sequences escaped: no title set, no screen cleared, no colour."""
    meta = {"class_names": list(ESCAPES[:3]), "recipe": ESCAPES[3], "dataset": ESCAPES[4]}
    library.save_to_library(tiny_model(), "esc", meta)
    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("RGB", (16, 16), "red").save(folder / "a\x1b[2Jb.png")
    code, out, err = _run(capsys, "classify", "esc", str(folder), "--top", "3")
    assert code == 0
    assert "\x1b" not in out + err and "\x07" not in out + err and "\u202e" not in out
    assert "a\\x1b[2Jb.png: " in out and "\\x1b]0;pwned\\x07" in out
    code, out, err = _run(capsys, "models", "list")
    assert code == 0 and "right\\u202eleft" in out and "bell\\x07" in out
    assert "\x1b" not in out + err and "\u202e" not in out
    code, out, _ = _run(capsys, "models", "list", "--json")
    assert json.loads(out)[0]["recipe"] == ESCAPES[3] and "\x1b" not in out  # JSON escapes


def test_printable_escapes_controls_overrides_and_undecodable_bytes():
    assert printable("ok é ü 中") == "ok é ü 中"
    assert printable("a\x1b[31mb\nc\td\x7f\x9b") == "a\\x1b[31mb\\x0ac\\x09d\\x7f\\x9b"
    assert printable("x\u202ey\u2066") == "x\\u202ey\\u2066"
    assert printable(os.fsdecode(b"caf\xe9.png")) == "caf\\udce9.png"
    # a multi-line notice keeps its lines; each line is escaped
    assert printable_lines("a\x1b[2J\nb\r\n") == "a\\x1b[2J\nb\\x0d\n"


def test_a_reporter_prints_a_summary_on_several_lines():
    """The model and dataset summaries came out as one line with literal "\\x0a"."""
    from cnnstudio.cli.reporting import JobReporter

    stream = io.StringIO()
    reporter = JobReporter(stream, quiet=False)
    reporter.done('Model: "m"\n\x1b]0;pwned\x07Total params: 3')
    assert stream.getvalue() == 'Model: "m"\n\\x1b]0;pwned\\x07Total params: 3\n'


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file names must be UTF-8")
def test_file_names_that_are_not_utf8(tmp_path, capsys, monkeypatch):
    library.save_to_library(tiny_model(), "m", {"class_names": CLASSES})
    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9.png")
    Image.new("RGB", (16, 16), "red").save(folder / name)
    # a strict UTF-8 stdout, as a terminal's: a raw surrogate would raise on it
    strict = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", strict)
        assert main(["classify", "m", str(folder)]) == 0
        strict.flush()
    assert b"caf\\udce9.png: " in strict.buffer.getvalue()
    capsys.readouterr()
    table = tmp_path / "out.csv"
    assert main(["classify", "m", str(folder), "--csv", str(table)]) == 0, capsys.readouterr()
    assert b"caf\xe9.png" in table.read_bytes()  # the file's own name, byte for byte


def test_user_errors_exit_2_in_one_line(tmp_path, picture, capsys, monkeypatch):
    from cnnstudio.core.dream import network

    monkeypatch.setattr(network, "network_for", _job_must_not_run)  # refused before it
    out = str(tmp_path / "o.png")
    dream = ["dream", "-o", out, "--weights", "random"]
    cases = [
        ([*dream, str(picture), "--octave-scale", "1e308"], r"octave scale 1e\+308 must be a"),
        ([*dream, str(picture), "--octave-scale", "1e6"], "must be a number from 1 to 3"),
        ([*dream, str(picture), "--steps", str(2**31)], "steps 2147483648 must be a whole"),
        ([*dream, str(picture), "--seed", str(2**64)], "seed 18446744073709551616 must"),
        (
            [*dream, "--noise", "2000x2000", "--max-size", "2000", "--octave-scale", "3"],
            r"largest octave, 18000x18000 px, needs about \d+\.\d GB .* pass --max-size \d+ "
            "or less",
        ),
        (
            [
                *dream,
                "--noise",
                "600x600",
                "--octaves",
                "12",
                "--top-octave",
                "12",
                "--octave-scale",
                "3",
            ],  # fmt: skip
            "use fewer octaves or a smaller octave scale",
        ),
        (["classify", "mobilenet_v2", str(picture), "--top", str(2**40)], "top-k 1099511627776"),
    ]
    for argv, says in cases:
        code, _, err = _run(capsys, *argv)
        assert code == 2 and re.search(says, _one_line(err)), (argv, err)


def test_a_model_with_a_huge_fixed_input_is_one_line(tmp_path, picture, capsys):
    """classify was killed by the kernel, dream and visualize said "unexpected error"."""
    from fault_tools import with_config

    def huge(config):
        config["build_config"]["input_shape"] = [None, 100_000, 100_000, 3]
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "InputLayer":
                layer["config"]["batch_shape"] = [None, 100_000, 100_000, 3]

    model = str(
        with_config(tiny_model_file(tmp_path / "m.keras"), tmp_path / "huge_in.keras", huge)
    )
    says = "huge_in.keras: its input of 100000x100000x3 is larger than the limit of 2048 pixels"
    for argv in (
        ["classify", model, str(picture)],
        ["dream", str(picture), "--model", model, "-o", str(tmp_path / "d.png")],
        ["visualize", model, "--layer", "conv", "-o", str(tmp_path / "v.png")],
    ):
        code, _, err = _run(capsys, *argv)
        assert code == 2 and says in _one_line(err), (argv, err)


def test_a_sidecar_input_size_too_small_for_the_model(tmp_path, picture, capsys):
    """A free-size model whose sidecar says [1, 1]: "unexpected error" with TensorFlow's
    1000 characters of "Negative dimension size" (review item 8)."""
    import keras

    inputs = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(features)
    )
    keras.Model(inputs, outputs).save(tmp_path / "f1.keras")
    model = str(tmp_path / "f1.keras")
    says = "sidecar f1.json: input_size [1, 1] is too small for f1.keras"
    for size in ([1, 1], [2, 40]):
        (tmp_path / "f1.json").write_text(json.dumps({"input_size": size}))
        for extra in ([], ["--gradcam", str(tmp_path / "cams")]):
            code, _, err = _run(capsys, "classify", model, str(picture), *extra)
            shown = says.replace("[1, 1]", f"[{size[0]}, {size[1]}]")
            assert code == 2 and shown in _one_line(err), (size, extra, err)
    (tmp_path / "f1.json").write_text(json.dumps({"input_size": [3, 3]}))  # the least
    code, out, err = _run(capsys, "classify", model, str(picture))
    assert code == 0 and "p.png" in out, err


@pytest.mark.timeout(300)
def test_a_reader_that_goes_away_is_no_error(picture):
    """``models list --json | head -1`` said "unexpected error: BrokenPipeError", exit 1
    (review item 9): now quiet, with the status of a tool killed by SIGPIPE."""
    import subprocess

    library.save_to_library(tiny_model(), "m", {"class_names": CLASSES})
    for argv in (["models", "list", "--json"], ["classify", "m", str(picture), "--json"]):
        reader, writer = os.pipe()
        os.close(reader)  # gone before anything is written: every write meets EPIPE
        try:
            done = subprocess.run(
                [sys.executable, "-m", "cnnstudio", *argv],
                stdout=writer,
                stderr=subprocess.PIPE,
                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                timeout=240,
            )
        finally:
            os.close(writer)
        err = done.stderr.decode()
        assert done.returncode == 141, (argv, err)
        assert "Error" not in err and "cnnstudio:" not in err, (argv, err)


def test_a_home_that_is_a_file_or_cannot_be_made(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.setenv("CNNSTUDIO_HOME", str(home))
    code, _, err = _run(capsys, "models", "list")
    assert code == 2 and f"{home}/data is inside a file, not a folder" in _one_line(err)
    assert f"(CNNSTUDIO_HOME is {home})" in err

    def read_only(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setenv("CNNSTUDIO_HOME", str(tmp_path / "new-home"))
    with monkeypatch.context() as patch:
        patch.setattr(Path, "mkdir", read_only)
        code, _, err = _run(capsys, "models", "list")
    assert code == 2 and "its parent folder is read-only for you" in _one_line(err)
    assert paths.library_dir() == tmp_path / "new-home" / "data" / "models"


def test_an_os_error_the_user_can_fix_is_one_line(capsys, monkeypatch):
    """Any write that still raises a bare OSError (a full disk, a read-only folder)
    reaches the terminal as one line and exit 2, not as an unexpected error."""
    from cnnstudio.cli import models_cmd

    def full(args):
        raise OSError(28, "No space left on device", "/data/runs/x/history.csv")

    monkeypatch.setattr(models_cmd, "run", full)
    code, _, err = _run(capsys, "models", "list")
    assert code == 2 and "cannot write /data/runs/x/history.csv: the disk is full" in err
