"""``cnnstudio runs``: list, show, compare, rename and delete, with everything printed
from a run folder made harmless for the terminal."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from cnnstudio.cli.main import main
from cnnstudio.cli.text import printable
from cnnstudio.core import paths
from cnnstudio.core.training.lock import RunLock


@pytest.fixture()
def two_runs(tmp_path, capsys):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    x = rng.integers(0, 40, (60, 28, 28)).astype(np.uint8)
    x[y == 1, :14] = 220
    npz = tmp_path / "halves.npz"
    np.savez(npz, x_train=x[:40], y_train=y[:40], x_test=x[40:], y_test=y[40:])
    for name, epochs in (("first", 2), ("second", 3)):
        argv = ["train", "lenet5", "--data", str(npz), "--epochs", str(epochs)]
        argv += ["--batch-size", "10", "--run-dir", str(paths.runs_dir() / name)]
        argv += ["-o", str(tmp_path / f"{name}.keras")]
        assert main(argv) == 0
    capsys.readouterr()
    return paths.runs_dir()


def test_list_shows_every_run_and_its_json_has_the_documented_fields(two_runs, capsys):
    (two_runs / "stray").mkdir()
    assert main(["runs", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["name", "status", "recipe", "dataset", "epochs"]
    first = next(line for line in lines if line.startswith("first "))
    assert "finished" in first and "halves.npz" in first and "2/2" in first
    assert "lr=0.001 batch=10 augment=off" in first
    stray = next(line for line in lines if line.startswith("stray "))
    assert "unreadable" in stray and "not a run folder" in stray

    assert main(["runs", "list", "--json"]) == 0
    runs = {run["name"]: run for run in json.loads(capsys.readouterr().out)}
    for key in (
        "name",
        "path",
        "recipe",
        "status",
        "epochs_completed",
        "epochs",
        "best_val_accuracy",
        "test_accuracy",
        "started",
        "params",
    ):
        assert key in runs["second"]
    assert runs["second"]["epochs_completed"] == 3 and runs["second"]["status"] == "finished"
    assert runs["second"]["params"]["batch_size"] == 10
    assert runs["stray"]["status"] == "unreadable"


def test_show_and_compare(two_runs, tmp_path, capsys):
    assert main(["runs", "show", "second", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [row["epoch"] for row in shown["history"]] == [1, 2, 3]
    assert set(shown["history"][0]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert main(["runs", "show", str(two_runs / "first")]) == 0
    out = capsys.readouterr().out
    assert "epoch  accuracy" in out and "\n2 " in out

    assert main(["runs", "compare", "first", "second"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["1: first", "2: second"]
    assert out[2].split()[:5] == ["epoch", "loss[1]", "loss[2]", "accuracy[1]", "accuracy[2]"]
    assert out[-1].split()[0] == "3" and out[-1].split()[1] == "-"  # first has 2 epochs

    table = tmp_path / "side.csv"
    assert main(["runs", "compare", "first", "second", "--csv", str(table)]) == 0
    rows = list(csv.reader(table.open()))
    assert rows[0][:3] == ["epoch", "first:loss", "second:loss"] and len(rows) == 4
    assert rows[3][1] == "" and float(rows[3][2]) > 0
    assert main(["runs", "compare", "first", "second", "--csv", str(table)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["runs", "compare", "first"]) == 2
    assert "at least two runs" in capsys.readouterr().err


def test_delete_asks_and_refuses_a_running_run(two_runs, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["runs", "delete", "first"]) == 2
    assert "add --yes" in capsys.readouterr().err
    with RunLock(two_runs / "first"):
        assert main(["runs", "delete", "first", "--yes"]) == 2
        err = capsys.readouterr().err
        assert "is in use" in err and err.count("\n") == 1
    assert (two_runs / "first").is_dir()
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert main(["runs", "delete", "first"]) == 0
    assert not (two_runs / "first").exists()
    assert main(["runs", "rename", "second", "best"]) == 0
    assert (two_runs / "best").is_dir()
    assert main(["runs", "show", "nothing"]) == 2
    assert "no run named 'nothing'" in capsys.readouterr().err


def test_text_from_run_folders_cannot_drive_the_terminal(tmp_path, capsys):
    evil = "evil\x1b]0;pwned\x07\x1b[2J\u202e"
    folder = paths.runs_dir() / evil
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"recipe": "x\x1b[31mred", "epochs": 1}))
    (folder / "status.json").write_text(
        json.dumps({"state": "finished", "dataset": "\x1b[2Jdata", "epochs_completed": 0})
    )
    assert main(["runs", "list"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J\\u202e" in out and "x\\x1b[31mred" in out
    assert main(["runs", "list", "--json"]) == 0
    assert "\x1b" not in capsys.readouterr().out
    assert printable("caf\udce9") == "caf\\udce9"  # a file name that is not UTF-8
    assert printable("plain text") == "plain text"
