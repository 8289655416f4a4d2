"""``cnnstudio train -o``: checked before the run, never half-written, never replacing a
file nobody said to replace, and a full disk in one line with the old files intact."""

from __future__ import annotations

import errno
import hashlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from cnnstudio.cli.main import main
from cnnstudio.core import library


@pytest.fixture()
def npz(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    x = rng.integers(0, 40, (60, 28, 28)).astype(np.uint8)
    x[y == 1, :14] = 220
    path = tmp_path / "halves.npz"
    np.savez(path, x_train=x[:40], y_train=y[:40], x_test=x[40:], y_test=y[40:])
    return path


def _argv(npz, out, run, *extra):
    return ["train", "lenet5", "--data", str(npz), "--epochs", "1", "--batch-size", "10"] + [
        "--run-dir",
        str(run),
        "-o",
        str(out),
        *extra,
    ]


def _one_line_exit_2(code, capsys, after_the_run: bool = False) -> str:
    """The error line (after the run's own output on stderr, when it ran)."""
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    if after_the_run:
        err = err.splitlines(keepends=True)[-1]
    assert err.count("\n") == 1 and err.startswith("cnnstudio: ")
    return err


def test_unwritable_output_is_refused_before_the_run(npz, tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    err = _one_line_exit_2(main(_argv(npz, blocker / "m.keras", tmp_path / "run")), capsys)
    assert f"{blocker} is a file, not a folder" in err
    assert not (tmp_path / "run").exists()  # refused before anything was trained

    (tmp_path / "m.json").write_text("{}")  # somebody's file where the sidecar would go
    err = _one_line_exit_2(main(_argv(npz, tmp_path / "m.keras", tmp_path / "run")), capsys)
    assert "m.json exists already" in err and "--overwrite" in err
    assert not (tmp_path / "run").exists()


def test_a_file_that_appears_at_the_output_during_the_run_is_left_alone(
    npz, tmp_path, capsys, monkeypatch
):
    from cnnstudio.core.training import job
    from cnnstudio.core.training.events import TrainingDone

    out = tmp_path / "m.keras"
    real_train = job.train

    def train_while_someone_writes(config, *, on_event, should_stop):
        def events(event):
            on_event(event)
            if isinstance(event, TrainingDone):
                out.write_bytes(b"the user's own file")

        return real_train(config, on_event=events, should_stop=should_stop)

    monkeypatch.setattr(job, "train", train_while_someone_writes)
    err = _one_line_exit_2(main(_argv(npz, out, tmp_path / "run")), capsys, True)
    assert "appeared during the run and was left as it is" in err
    assert out.read_bytes() == b"the user's own file"
    assert not (tmp_path / "m.json").exists()  # no sidecar for a model it does not describe
    assert sorted(p.name for p in tmp_path.iterdir()) == ["halves.npz", "m.keras", "run"]


def test_full_disk_while_saving_keeps_the_old_model_and_sidecar(npz, tmp_path, capsys, monkeypatch):
    import keras

    from cnnstudio.core.training import job
    from cnnstudio.core.training.events import TrainingDone

    out = tmp_path / "m.keras"
    assert main(_argv(npz, out, tmp_path / "run1")) == 0
    old = {p.name: p.read_bytes() for p in tmp_path.glob("m.*")}
    real_save, real_train = keras.Model.save, job.train

    def save_until_full(self, filepath, *args, **kwargs):
        real_save(self, filepath, *args, **kwargs)
        with open(filepath, "r+b") as handle:
            handle.truncate(1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    def train_then_fill_the_disk(config, *, on_event, should_stop):
        def events(event):
            on_event(event)
            if isinstance(event, TrainingDone):
                monkeypatch.setattr(keras.Model, "save", save_until_full)

        return real_train(config, on_event=events, should_stop=should_stop)

    monkeypatch.setattr(job, "train", train_then_fill_the_disk)
    capsys.readouterr()
    argv = _argv(npz, out, tmp_path / "run2", "--overwrite")
    err = _one_line_exit_2(main(argv), capsys, True)
    assert f"cannot write {out}: the disk is full" in err
    assert {p.name: p.read_bytes() for p in tmp_path.glob("m.*")} == old
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


def test_save_to_library_is_atomic_and_keeps_its_sidecar(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    first = library.save_to_library(model, "m", {"recipe": "x"})
    second = library.save_to_library(model, "m", {"recipe": "y"})
    assert (first.name, second.name) == ("m", "m-2")
    assert second.meta["recipe"] == "y" and first.sidecar_path.exists()
    assert not [p for p in first.path.parent.iterdir() if p.name.startswith(".")]


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None or not sys.platform.startswith("linux"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


def test_full_disk_on_a_real_small_tmpfs(npz, tmp_path):
    """The same on a real 1 MB tmpfs (a private mount namespace: nothing else sees it)."""
    if not _can_mount_tmpfs():
        pytest.skip("this machine does not let an unprivileged process mount a tmpfs")
    disk = tmp_path / "small"
    disk.mkdir()
    old = bytes(np.random.default_rng(0).integers(0, 256, 400_000, dtype=np.uint8))
    script = f"""
mount -t tmpfs -o size=1m tmpfs {disk} || exit 99
printf old > {disk}/m.json
head -c 400000 {tmp_path}/old.bin > {disk}/m.keras
{sys.executable} -m cnnstudio {" ".join(_argv(npz, disk / "m.keras", tmp_path / "run"))} \\
    --overwrite >/dev/null 2>{tmp_path}/err.txt
echo "exit $?"
sha256sum {disk}/m.keras {disk}/m.json
ls -A {disk}
"""
    (tmp_path / "old.bin").write_bytes(old)
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=240
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "exit 2", (done.stdout, (tmp_path / "err.txt").read_text())
    err = (tmp_path / "err.txt").read_text().strip().splitlines()
    assert (
        err[-1]
        == f"cnnstudio: cannot write {disk / 'm.keras'}: the disk is full; free some space and save again"
    )
    assert lines[1].split()[0] == hashlib.sha256(old).hexdigest()
    assert lines[2].split()[0] == hashlib.sha256(b"old").hexdigest()
    assert lines[3:] == ["m.json", "m.keras"]  # no temporary file left
