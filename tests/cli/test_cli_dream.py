"""``cnnstudio dream`` in-process (cli.main.main) and once as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from cnnstudio.cli.main import main
from cnnstudio.core import image_saving, images

FAST = ["--weights", "random", "--steps", "2", "--octaves", "2", "--tile-size", "80"]
FAST += ["--jitter", "20", "--seed", "1"]


@pytest.fixture
def photo_file(tmp_path):
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)
    return image_saving.save_image(tmp_path / "photo.png", pixels)


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_dream_an_image(tmp_path, photo_file, capsys):
    out = tmp_path / "dreamed.png"
    code = main(["dream", str(photo_file), "-o", str(out), "--max-size", "120", *FAST])
    assert code == 0
    result = images.load_image(out)
    assert result.shape == (90, 120, 3)  # the input's size after --max-size
    meta = images.read_params(out)
    assert meta["job"] == "dream" and meta["untrained"] is True
    assert meta["source"] == "photo.png"
    assert meta["params"]["steps"] == 2 and meta["params"]["tile_size"] == 80
    err = capsys.readouterr().err
    # not a terminal: a line per octave plus a final line
    assert "octave 1/2 done" in err and "octave 2/2 done" in err
    assert err.strip().splitlines()[-1].startswith(f"dream: saved {out}")


def test_layers_with_weights_and_channel(tmp_path):
    out = tmp_path / "a.png"
    args = ["dream", "--noise", "96x80", "-o", str(out), *FAST, "--objective", "l2"]
    assert main([*args, "--layers", "mixed4=0,mixed5=3"]) == 0
    assert images.read_params(out)["params"]["layers"] == {"mixed4": 0.0, "mixed5": 3.0}
    out2 = tmp_path / "b.png"
    assert main(["dream", "--noise", "96x80", "-o", str(out2), *FAST, "--channel", "mixed3:7"]) == 0
    assert images.read_params(out2)["params"]["channel"] == ["mixed3", 7]
    assert images.load_image(out2).shape == (80, 96, 3)


def test_bad_input_file_is_exit_2_naming_it(tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not a png")
    code = main(["dream", str(bad), "-o", str(tmp_path / "out.png"), *FAST])
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("cnnstudio: ") and "broken.png" in line
    assert not (tmp_path / "out.png").exists()


def test_existing_output_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "taken.png"
    out.write_bytes(b"precious")
    code = main(["dream", "--noise", "96x80", "-o", str(out), *FAST])
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert "taken.png" in line and "overwrite" in line
    assert out.read_bytes() == b"precious"
    assert main(["dream", "--noise", "96x80", "-o", str(out), *FAST, "--overwrite"]) == 0
    assert images.read_params(out)["job"] == "dream"


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--layers", "mixed3=abc"], "'abc'"),
        (["--layers", "nosuchlayer"], "'nosuchlayer'"),
        (["--channel", "mixed3"], "LAYER:INDEX"),
        (["--noise", "12by4"], "12by4"),
        (["--step-size", "0"], "step size 0"),
        (["--tile-size", "40"], "tile size 40"),
    ],
)
def test_bad_values_are_exit_2_naming_them(tmp_path, capsys, flags, named):
    args = ["dream", "--noise", "96x80", "-o", str(tmp_path / "x.png"), *FAST, *flags]
    assert main(args) == 2
    assert named in one_line(capsys.readouterr().err)


def test_missing_imagenet_weights_offline_is_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CNNSTUDIO_OFFLINE", "1")
    out = tmp_path / "x.png"
    assert main(["dream", "--noise", "96x80", "-o", str(out), "--steps", "1"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5" in line
    assert not out.exists()


def test_other_backbone_gets_its_own_default_layers(tmp_path):
    out = tmp_path / "m.png"
    args = ["dream", "--noise", "64x48", "-o", str(out), *FAST, "--backbone", "mobilenet_v2"]
    assert main([*args, "--tile-size", "64", "--jitter", "0"]) == 0
    meta = images.read_params(out)
    assert meta["params"]["backbone"] == "mobilenet_v2"
    assert meta["params"]["layers"] == {"block_9_add": 1.0, "block_12_add": 1.0}
    assert images.load_image(out).shape == (48, 64, 3)


def test_input_or_noise_is_required(tmp_path, capsys):
    assert main(["dream", "-o", str(tmp_path / "x.png"), *FAST]) == 2
    assert "--noise" in one_line(capsys.readouterr().err)


def test_python_m_cnnstudio_dream(tmp_path, private_home):
    out = tmp_path / "sub.png"
    env = {**os.environ, "CNNSTUDIO_HOME": str(private_home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "cnnstudio", "dream", "--noise", "100x90", "-o", str(out), *FAST],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert images.load_image(out).shape == (90, 100, 3)
    assert images.read_params(out)["params"]["weights"] == "random"
    assert "dream: saved" in proc.stderr


def test_progress_on_a_terminal_is_one_updating_line():
    import io

    from cnnstudio.cli.dream_cmd import _Reporter
    from cnnstudio.core.events import Notice, Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    reporter = _Reporter(stream, quiet=False)
    reporter.event(Notice("octave 1/2: 96x80 px"))
    for step in (1, 2, 3, 4):
        stage = 1 if step <= 2 else 2
        reporter.event(Progress(step, 4, 0.5, stage=stage, stages=2, message=f"octave {stage}/2"))
    reporter.event(Notice("octave 2/2 stopped early at step 2: loss 11 exceeds the maximum 10"))
    reporter.done("dream: saved out.png")
    text = stream.getvalue()
    assert text.count("\r") >= 4 and "step 4/4" in text and "ETA" in text
    lines = text.split("\n")
    # only the early stop and the final message end a line; octave starts do not
    assert len([line for line in lines if line.strip()]) == 2
    assert "stopped early" in lines[0] and lines[1].endswith("dream: saved out.png")


def test_vgg19_default_step_changes_the_image(tmp_path, photo_file):
    out = tmp_path / "vgg.png"
    args = ["dream", str(photo_file), "-o", str(out), "--backbone", "vgg19", "--weights"]
    args += ["random", "--layers", "block3_conv1", "--steps", "2", "--octaves", "1"]
    assert main([*args, "--jitter", "0", "--tile-size", "64", "--max-size", "64"]) == 0
    before = images.load_image(photo_file, max_side=64).astype(int)
    after = images.load_image(out).astype(int)
    # the old fixed 0.01 is a hundredth of a level in VGG19's caffe units: no change
    assert np.abs(after - before).mean() > 1.0


def test_download_progress_lines(tmp_path, capsys, fake_weights_download):

    from cnnstudio.core import backbones

    model = backbones.build_backbone_uncached("mobilenet_v2", "random", input_shape=(32, 32, 3))
    model.save_weights(tmp_path / "m.weights.h5")
    payload = (tmp_path / "m.weights.h5").read_bytes()

    fake_weights_download(payload)
    out = tmp_path / "m.png"
    args = ["dream", "--noise", "64x48", "-o", str(out), "--backbone", "mobilenet_v2"]
    args += ["--weights", "imagenet", "--steps", "1", "--octaves", "1", "--tile-size", "64"]
    assert main(args) == 0
    backbones.clear_model_cache()
    err = capsys.readouterr().err
    name = backbones.get_backbone("mobilenet_v2").weights_file(False)
    lines = [line for line in err.splitlines() if line.startswith("downloading")]
    total_mb = round(len(payload) / 2**20)
    assert lines[-1] == f"downloading {name}: {total_mb}/{total_mb} MB"
    assert 2 <= len(lines) <= 11  # about a line per tenth, not one per chunk


def test_download_on_a_terminal_is_one_updating_line():
    import io

    from cnnstudio.cli.dream_cmd import _Reporter
    from cnnstudio.cli.style_cmd import _Reporter as StyleReporter
    from cnnstudio.core.events import DownloadProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for reporter_class in (_Reporter, StyleReporter):
        stream = Terminal()
        reporter = reporter_class(stream, quiet=False)
        mb = 2**20
        for received in range(1, 85):
            reporter.event(DownloadProgress("inception_notop.h5", received * mb, 84 * mb))
        text = stream.getvalue()
        assert text.count("\r") == 84 and text.count("\n") == 1
        assert "downloading inception_notop.h5: 12/84 MB" in text
        assert text.rstrip().endswith("downloading inception_notop.h5: 84/84 MB")


# ------------------------------------------------------------------ --model: the library


@pytest.fixture
def nested_model():
    """A transfer-style library model: a sub-model "base" with conv_a, then conv_b."""
    import keras

    from cnnstudio.core import library

    keras.utils.set_random_seed(1)
    inner = keras.Sequential(
        [keras.Input((None, None, 3)), keras.layers.Conv2D(6, 3, name="conv_a")], name="base"
    )
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(10, 3, activation="relu", name="conv_b")(inner(x))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalMaxPooling2D()(x))
    entry = library.save_to_library(
        keras.Model(inputs, outputs), "nested", {"input_size": [32, 32]}
    )
    yield entry
    from cnnstudio.core.dream import network

    network.clear_model_cache()


MODEL_FAST = ["--steps", "2", "--octaves", "1", "--jitter", "0", "--seed", "1"]


def test_dream_with_a_library_model_and_its_nested_layer(
    tmp_path, photo_file, nested_model, capsys
):
    out = tmp_path / "nested.png"
    args = ["dream", str(photo_file), "-o", str(out), "--model", "nested", "--max-size", "64"]
    assert main([*args, *MODEL_FAST, "--layers", "base/conv_a=2"]) == 0
    result = images.load_image(out)
    before = images.load_image(photo_file, max_side=64)
    assert result.shape == before.shape == (48, 64, 3)
    assert np.abs(result.astype(int) - before.astype(int)).mean() > 0.5
    meta = images.read_params(out)
    assert meta["model"] == "nested" and meta["weights_label"] == "model nested"
    assert meta["untrained"] is False
    assert meta["params"]["layers"] == {"base/conv_a": 2.0}
    assert meta["params"]["backbone"] == "inception_v3"  # it takes pixels: no backbone's
    assert "with nested" in capsys.readouterr().err.strip().splitlines()[-1]


def test_a_model_file_dreams_on_its_deepest_layer_by_default(tmp_path, nested_model):
    out = tmp_path / "deepest.png"
    args = ["dream", "--noise", "64x48", "-o", str(out), "--model", str(nested_model.path)]
    assert main([*args, *MODEL_FAST]) == 0
    meta = images.read_params(out)
    assert meta["params"]["layers"] == {"conv_b": 1.0} and meta["model"] == "nested"
    assert images.load_image(out).shape == (48, 64, 3)


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--model", "nested", "--backbone", "vgg19"], "--backbone"),
        (["--model", "nested", "--weights", "random"], "--weights"),
        (["--model", "nope"], "unknown model 'nope'"),
        (["--model", "nested", "--layers", "base/nope"], "'base/nope' is not in model nested"),
    ],
)
def test_bad_model_choices_are_exit_2_naming_them(tmp_path, capsys, nested_model, flags, named):
    out = tmp_path / "x.png"
    assert main(["dream", "--noise", "64x48", "-o", str(out), *MODEL_FAST, *flags]) == 2
    line = one_line(capsys.readouterr().err)
    assert named in line and line.startswith("cnnstudio: ")
    assert not out.exists()


def test_help_says_what_model_layers_default_to(capsys):
    with pytest.raises(SystemExit):
        main(["dream", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--model NAME_OR_PATH" in text and "deepest layer" in text
