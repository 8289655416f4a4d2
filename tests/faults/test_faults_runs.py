"""Run folders that hold a FIFO (review of issues 10 and 14, item 5): a ``lock``,
``history.csv``, ``status.json`` or ``config.json`` that is a named pipe hung training, the
fast style trainer and ``runs delete``. Each is refused at once in one line naming the
folder and the file, or, for a deletion, removed with the folder. Nothing waits."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from cnnstudio.cli.main import main
from cnnstudio.core import paths
from cnnstudio.core.errors import InputError
from cnnstudio.core.training.lock import RunLock, read_holder

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]  # a hang fails, not stalls


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)
    x = rng.integers(0, 40, (40, 28, 28)).astype(np.uint8)
    path = tmp_path_factory.mktemp("data") / "halves.npz"
    np.savez(path, x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    return path


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("cnnstudio: ") and err.count("\n") == 1, err
    assert "unexpected" not in err, err
    return err


def test_a_fifo_lock_is_refused_and_never_read(tmp_path):
    os.mkfifo(tmp_path / "lock")
    assert read_holder(tmp_path) is None  # blocked for ever in read()
    with pytest.raises(InputError, match=r"its lock is a named pipe \(FIFO\), not a file"):
        RunLock(tmp_path).acquire()
    (tmp_path / "lock").unlink()
    (tmp_path / "lock").write_text("[" * 4000)  # not our note, and no RecursionError
    assert read_holder(tmp_path) is None


@pytest.mark.parametrize("name", ["lock", "history.csv", "status.json", "config.json"])
def test_training_in_a_run_folder_with_a_fifo_is_one_line(npz, tmp_path, capsys, name):
    run = tmp_path / "R"
    run.mkdir()
    os.mkfifo(run / name)
    out = tmp_path / "x.keras"
    argv = ["train", "lenet5", "--data", str(npz), "--epochs", "1", "--run-dir", str(run)]
    assert main([*argv, "-o", str(out)]) == 2
    err = _one_line(capsys)
    assert name in err and "named pipe (FIFO), not a file" in err and str(run) in err, err
    assert not out.exists()


def test_deleting_a_run_whose_lock_is_a_fifo(npz, capsys):
    run = paths.runs_dir() / "h"
    argv = ["train", "lenet5", "--data", str(npz), "--epochs", "1", "--run-dir", str(run)]
    assert main([*argv, "-o", str(run.parent / "h.keras")]) == 0
    (run / "lock").unlink(missing_ok=True)
    os.mkfifo(run / "lock")
    capsys.readouterr()
    assert main(["runs", "rename", "h", "g"]) == 2
    assert "its lock is a named pipe (FIFO), not a file; remove it" in _one_line(capsys)
    assert main(["runs", "delete", "h", "--yes"]) == 0
    assert not run.exists()


def test_a_fast_style_run_folder_with_a_fifo_history(tmp_path):
    from cnnstudio.core.faststyle import job, runs
    from cnnstudio.core.faststyle.params import FastStyleParams

    style = tmp_path / "style.png"
    Image.new("RGB", (32, 32), "red").save(style)
    run = tmp_path / "run"
    run.mkdir()
    os.mkfifo(run / runs.HISTORY)
    assert runs.read_history(run) == {}  # the curves of a resumed run: blocked in open()
    params = FastStyleParams(styles=[str(style)], data=str(tmp_path), size=32, run_dir=str(run))
    with pytest.raises(InputError, match=r"run folder .*history.csv: is a named pipe"):
        job.train(params)
