"""``cnnstudio train``: a real run on a generated .npz, the files it writes, exit codes."""

from __future__ import annotations

import io
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


def _train_argv(npz, out, run, *extra: str, epochs: int = 3) -> list[str]:
    return [
        "train",
        "lenet5",
        "--data",
        str(npz),
        "--epochs",
        str(epochs),
        "--batch-size",
        "10",
        "--run-dir",
        str(run),
        "-o",
        str(out),
        *extra,
    ]


def test_train_writes_model_and_sidecar(npz, tmp_path, capsys):
    out = tmp_path / "halves.keras"
    run = tmp_path / "run"
    code = main(_train_argv(npz, out, run, "--save-to-library", "halves", epochs=2))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = [line for line in captured.out.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2: loss ")
    assert "val_accuracy" in lines[0] and "images/s" in lines[0]
    assert "test accuracy" in captured.out
    assert "Total params" in captured.err  # the model summary comes first
    # each on lines of its own, not one line of "\x0a" (review of issue 10, item 7)
    err_lines = captured.err.splitlines()
    assert "\\x0a" not in captured.err and 'Model: "lenet5"' in err_lines
    assert any(line.strip().startswith("Total params:") for line in err_lines), err_lines
    assert any(line.startswith("training images per class") for line in err_lines), err_lines
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["recipe"] == "lenet5" and sidecar["class_names"] == ["0", "1"]
    assert sidecar["input_size"] == [28, 28] and sidecar["preprocessing"] == "none"
    model = library.load_model_file(out)
    assert model.output_shape == (None, 2)
    assert [e.name for e in library.list_models()] == ["halves"]

    # same run folder again with more epochs: resumes at epoch 3; output exists -> refused
    code = main(_train_argv(npz, out, run))
    assert code == 2
    assert "exists already" in capsys.readouterr().err
    code = main(_train_argv(npz, out, run, "--overwrite"))
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
    if "weird" in argv:  # argparse refuses it and exits itself
        with pytest.raises(SystemExit) as caught:
            main(argv)
        code = caught.value.code
    else:
        code = main(argv)
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_ctrl_c_saves_then_exits_130(npz, tmp_path, capsys, monkeypatch):
    import os
    import signal

    from cnnstudio.core.training import job
    from cnnstudio.core.training.events import EpochEnd

    real_train = job.train

    def train_with_ctrl_c(config, *, on_event, should_stop):
        sent = []

        def events(event):
            on_event(event)
            if isinstance(event, EpochEnd) and not sent:
                sent.append(True)
                os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C once

        return real_train(config, on_event=events, should_stop=should_stop)

    monkeypatch.setattr(job, "train", train_with_ctrl_c)
    out, run = tmp_path / "cut.keras", tmp_path / "run"
    code = main(_train_argv(npz, out, run))
    captured = capsys.readouterr()
    assert code == 130, captured.err
    assert out.exists() and out.with_suffix(".json").exists()  # still saved
    assert "stopping after this batch" in captured.err
    assert f"the partly trained model is in {out}" in captured.err
    assert f"--run-dir {run}" in captured.err
    # stopped at the first batch of epoch 2; epoch 1 is kept for a resume
    assert "epoch 2/3" in captured.out and "(stopped mid-epoch)" in captured.out
    assert "interrupted after 1 finished epoch(s)" in captured.err


def test_run_dir_made_for_another_recipe_is_refused(npz, tmp_path, capsys):
    run = tmp_path / "run1"
    assert main(_train_argv(npz, tmp_path / "a.keras", run, epochs=1)) == 0, capsys.readouterr().err
    before = (run / "config.json").read_text()
    capsys.readouterr()
    argv = _train_argv(npz, tmp_path / "b.keras", run)
    argv[1] = "cifar-cnn"
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "run folder" in err and "was made for lenet5 on halves.npz" in err
    assert "--run-dir" in err and err.count("\n") == 1 and "Traceback" not in err
    assert (run / "config.json").read_text() == before
    assert not (tmp_path / "b.keras").exists()


def test_transfer_weights_download_is_shown_and_ctrl_c_stops_it(
    tmp_path, capsys, monkeypatch, fake_weights_download
):
    import os
    import signal

    from cnnstudio.core import backbones
    from cnnstudio.core.events import DownloadProgress
    from cnnstudio.core.training import job

    payload = bytes(range(256)) * (8 * 4096)  # 8 MB: eight chunks, never loaded

    fake_weights_download(payload)
    real_train = job.train

    def train_with_ctrl_c(config, *, on_event, should_stop):
        def events(event):
            on_event(event)
            if isinstance(event, DownloadProgress) and event.received == 3 << 20:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the weights download

        return real_train(config, on_event=events, should_stop=should_stop)

    monkeypatch.setattr(job, "train", train_with_ctrl_c)
    rng = np.random.default_rng(0)
    data = tmp_path / "colour.npz"
    x = rng.integers(0, 255, (20, 32, 32, 3)).astype(np.uint8)
    y = rng.integers(0, 2, 20)
    np.savez(data, x_train=x[:16], y_train=y[:16], x_test=x[16:], y_test=y[16:])
    out, run = tmp_path / "transfer.keras", tmp_path / "run"
    argv = ["train", "transfer", "--data", str(data), "--backbone", "mobilenet_v2"]
    argv += ["--image-size", "32", "--run-dir", str(run), "-o", str(out)]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 130, captured.err
    name = backbones.get_backbone("mobilenet_v2").weights_file(False)
    lines = [line for line in captured.err.splitlines() if line.startswith("downloading ")]
    # a line per tenth of the file until the stop: 1, 2 and 3 of 8 MB
    assert lines == [f"downloading {name}: {mb}/8 MB" for mb in (1, 2, 3)]
    assert "nothing was trained" in captured.err and f"{out} was not written" in captured.err
    assert not out.exists() and not run.exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_shows_a_batch_line_with_the_eta_of_core_eta():
    from cnnstudio.cli.train_cmd import _Reporter
    from cnnstudio.core.eta import Eta
    from cnnstudio.core.training.events import BatchEnd, EpochEnd

    err, out = _Terminal(), io.StringIO()
    reporter = _Reporter(err, out)
    clock = iter([100.0, 110.0])
    reporter.eta = Eta(clock=lambda: next(clock))

    def batch(step: int) -> BatchEnd:
        return BatchEnd(1, 2, step, 10, 0.5, 0.75, 300.0, global_step=step, total_steps=20)

    reporter.event(batch(2))  # 10% of the session's batches: the ETA starts from here
    assert err.getvalue().endswith("300 images/s ETA --:--")
    reporter.event(batch(4))  # 10 s for another 10%: 80 s left
    assert err.getvalue().endswith(
        "\r\033[Kepoch 1/2 batch 4/10: loss 0.5000 accuracy 0.7500 300 images/s ETA 1:20"
    )
    reporter.event(EpochEnd(1, 2, 0.5, 0.75, None, None, 300.0, 3.0))
    assert err.getvalue().endswith("\r\033[K")  # the batch line is cleared first
    assert out.getvalue() == "epoch 1/2: loss 0.5000 accuracy 0.7500 300 images/s 3.0s\n"


def test_missing_dataset_is_worded_with_the_import_flag(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "lenet5", "--data", "cifar10", "-o", "m.keras"]) == 2
    err = capsys.readouterr().err
    assert "cifar-10-python.tar.gz" in err and "Import dataset file" not in err
    assert "`cnnstudio train --import-dataset cifar-10-python.tar.gz`" in err


def test_quiet_run_prints_the_result_only(npz, tmp_path, capsys):
    out = tmp_path / "quiet.keras"
    code = main(_train_argv(npz, out, tmp_path / "run", "-q", "--seed", "3", epochs=1))
    captured = capsys.readouterr()
    assert code == 0 and captured.err == ""
    assert captured.out.splitlines() == [
        line for line in captured.out.splitlines() if "accuracy" in line
    ]
    assert len(captured.out.splitlines()) == 1 and out.exists()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["seed"] == 3


def test_summary_looks_at_the_data_and_trains_nothing(npz, tmp_path, capsys):
    from PIL import Image

    assert main(["train", "lenet5", "--data", str(npz), "--summary"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("halves.npz: 60 training images in 2 classes")
    assert "balance: " in out and "#" in out
    folder = tmp_path / "shapes"
    for name in ("round", "square"):
        (folder / name).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(folder / name / "a.png")
    (folder / "square" / "b.png").write_bytes(b"broken")
    assert main(["train", "--data", str(folder), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "shapes: 3 images in 2 classes" in out
    assert "1 unreadable file among all 3 files" in out and "b.png" in out
    assert not list(tmp_path.glob("**/*.keras"))


def test_untrained_frozen_base_is_warned_about_first(npz, tmp_path, capsys, monkeypatch):
    from cnnstudio.core.training import job

    seen: list[str] = []
    monkeypatch.setattr(
        job, "train", lambda *args, **kw: seen.append(capsys.readouterr().err) or None
    )
    argv = ["train", "transfer", "--data", str(npz), "--backbone", "mobilenet_v2"]
    assert main([*argv, "--weights", "random", "-q", "-o", str(tmp_path / "t.keras")]) == 130
    (before,) = seen  # said before the run starts, even when quiet
    assert before.startswith("cnnstudio: warning: the base network MobileNetV2 has random")
    assert "frozen" in before
    seen.clear()
    assert main([*argv, "--weights", "imagenet", "-o", str(tmp_path / "t.keras")]) == 130
    assert "warning" not in seen[0]
