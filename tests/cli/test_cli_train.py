"""``cnnstudio train``: a real run on a generated .npz, the files it writes, exit codes."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest

from cnnstudio.cli.main import main
from cnnstudio.core import library


@pytest.fixture()
def npz(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    x = rng.integers(0, 40, (80, 28, 28)).astype(np.uint8)
    x[y == 1, :14] = 220  # class 1: bright top half
    path = tmp_path / "halves.npz"
    np.savez(path, x_train=x[:60], y_train=y[:60], x_test=x[60:], y_test=y[60:])
    return path


def test_train_writes_model_and_sidecar(npz, tmp_path, capsys):
    out = tmp_path / "halves.keras"
    run = tmp_path / "run"
    code = main(
        [
            "train",
            "lenet5",
            "--data",
            str(npz),
            "--epochs",
            "2",
            "--batch-size",
            "10",
            "--run-dir",
            str(run),
            "-o",
            str(out),
            "--save-to-library",
            "halves",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = [line for line in captured.out.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2: loss ")
    assert "val_accuracy" in lines[0] and "images/s" in lines[0]
    assert "test accuracy" in captured.out
    assert "Total params" in captured.err  # the model summary comes first
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["recipe"] == "lenet5" and sidecar["class_names"] == ["0", "1"]
    assert sidecar["input_size"] == [28, 28] and sidecar["preprocessing"] == "none"
    model = library.load_model_file(out)
    assert model.output_shape == (None, 2)
    assert [e.name for e in library.list_models()] == ["halves"]

    # same run folder again with more epochs: resumes at epoch 3; output exists -> refused
    code = main(
        [
            "train",
            "lenet5",
            "--data",
            str(npz),
            "--epochs",
            "3",
            "--batch-size",
            "10",
            "--run-dir",
            str(run),
            "-o",
            str(out),
        ]
    )
    assert code == 2
    assert "exists already" in capsys.readouterr().err
    code = main(
        [
            "train",
            "lenet5",
            "--data",
            str(npz),
            "--epochs",
            "3",
            "--batch-size",
            "10",
            "--run-dir",
            str(run),
            "-o",
            str(out),
            "--overwrite",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert [
        line.split(":")[0] for line in captured.out.splitlines() if line.startswith("epoch ")
    ] == ["epoch 3/3"]
    assert "resuming" in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "lenet5", "--data", "mnist", "-o", "m.keras"], "mnist.npz"),
        (["train", "lenet5", "--data", "nowhere.npz", "-o", "m.keras"], "not found"),
        (["train", "lenet5", "--data", "mnist"], "-o MODEL.keras"),
        (["train", "lenet5", "--data", "mnist", "-o", "m.h5"], "must end in .keras"),
        (["train", "--import-dataset", "nothing.npz"], "not found"),
        (["train", "lenet5", "--epochs", "-1", "--data", "x", "-o", "m.keras"], "at least 1"),
        (["train", "lenet5", "--schedule", "weird"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) if "weird" in argv else contextlib.nullcontext():
        code = main(argv)
        assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and err.count("\n") == 1
