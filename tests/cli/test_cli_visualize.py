"""``cnnstudio visualize`` in-process (cli.main.main): exit codes, --json records, the
grid's embedded parameters, dataset examples and bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from cnnstudio.cli.main import main
from cnnstudio.core import image_saving, images

FAST = ["--size", "32", "--steps", "3", "--seed", "1"]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A small seeded CNN saved as .keras: c1 (4 channels), c2 (8 channels), softmax."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="out")(x)
    path = tmp_path_factory.mktemp("models") / "small.keras"
    keras.Model(inputs, outputs, name="small").save(path)
    return path


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_json_records_and_the_grid_carries_them(tmp_path, model_file, capsys):
    out = tmp_path / "grid.png"
    args = ["visualize", str(model_file), "--layer", "c2", "--channels", "0-2,5", "-o", str(out)]
    assert main([*args, *FAST, "--json"]) == 0
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    assert [r["channel"] for r in records] == [0, 1, 2, 5]
    assert all(set(r) == {"channel", "objective", "box"} for r in records)
    assert all(isinstance(r["objective"], float) for r in records)
    grid = images.load_image(out)
    for record in records:
        x, y, w, h = record["box"]
        assert (w, h) == (32, 32) and x + w <= grid.shape[1] and y + h <= grid.shape[0]
    assert len({tuple(r["box"]) for r in records}) == 4
    meta = images.read_params(out)
    assert meta["job"] == "visualize" and meta["channels"] == records
    assert meta["params"]["layer"] == "c2" and meta["params"]["channels"] == [0, 1, 2, 5]
    assert meta["tile_size"] == [32, 32] and meta["untrained"] is False
    assert captured.err.strip().splitlines()[-1].startswith(f"visualize: saved {out}")


def test_default_channels_and_quiet(tmp_path, model_file, capsys):
    out = tmp_path / "all.png"
    assert main(["visualize", str(model_file), "--layer", "c1", "-o", str(out), *FAST, "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    assert images.read_params(out)["params"]["channels"] == [0, 1, 2, 3]  # all 4 of c1


def test_unknown_layer_lists_the_layers(tmp_path, model_file, capsys):
    out = tmp_path / "x.png"
    assert main(["visualize", str(model_file), "--layer", "c9", "-o", str(out), *FAST]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("cnnstudio: no layer 'c9' in small") and "c1, c2" in line
    assert not out.exists()


def test_channel_out_of_range_gives_the_count(tmp_path, model_file, capsys):
    args = ["visualize", str(model_file), "--layer", "c2", "--channels", "6-8"]
    assert main([*args, "-o", str(tmp_path / "x.png"), *FAST]) == 2
    line = one_line(capsys.readouterr().err)
    assert "channel 8 is out of range" in line and "8 channels (0..7)" in line


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--channels", "3-1"], "empty or negative"),
        (["--size", "9999"], "image size 9999"),
        (["--steps", "0"], "steps 0"),
        (["--objective", "class", "--channels", "3"], "3 classes (0..2)"),
    ],
)
def test_bad_values_exit_2_with_one_line(tmp_path, model_file, capsys, extra, message):
    args = ["visualize", str(model_file), "--layer", "c2", "-o", str(tmp_path / "x.png")]
    assert main([*args, *FAST, *extra]) == 2
    assert message in one_line(capsys.readouterr().err)


def test_layer_is_required_except_for_classes(tmp_path, model_file, capsys):
    out = tmp_path / "x.png"
    assert main(["visualize", str(model_file), "-o", str(out), *FAST]) == 2
    assert "--layer" in one_line(capsys.readouterr().err)
    args = ["visualize", str(model_file), "--objective", "class", "--json", "-o", str(out)]
    assert main([*args, *FAST]) == 0
    captured = capsys.readouterr()
    assert [r["channel"] for r in json.loads(captured.out)] == [0, 1, 2]
    # it said "3 channels of <the diversity term's layer>" (review item 13)
    assert f"visualize: saved {out} (3 classes, " in captured.err, captured.err
    assert "channels of" not in captured.err


def test_existing_output_is_refused_before_the_job(tmp_path, model_file, capsys):
    out = tmp_path / "taken.png"
    out.write_bytes(b"precious")
    args = ["visualize", str(model_file), "--layer", "c1", "-o", str(out), *FAST]
    assert main([*args, "--steps", "4000"]) == 2  # refused at once, not after 4000 steps
    line = one_line(capsys.readouterr().err)
    assert "taken.png" in line and "--overwrite" in line
    assert out.read_bytes() == b"precious"
    assert main([*args, "--overwrite", "-q"]) == 0
    assert images.read_params(out)["job"] == "visualize"


def test_examples_folder_lists_unreadable_files(tmp_path, model_file, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for index in range(3):
        image_saving.save_image(
            folder / f"p{index}.png", rng.integers(0, 256, (30, 40, 3), np.uint8)
        )
    (folder / "readme.txt").write_text("hello")
    # a FIFO and a device were dropped unsaid (review item 12): listed, and nothing waits
    os.mkfifo(folder / "pipe.png")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    out = tmp_path / "grid.png"
    args = ["visualize", str(model_file), "--layer", "c1", "--channels", "0,1", "-o", str(out)]
    assert main([*args, *FAST, "--examples", str(folder), "--top", "2", "--json"]) == 0
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    assert [len(r["examples"]) for r in records] == [2, 2]
    assert all(e["file"].endswith(".png") for r in records for e in r["examples"])
    assert "skipped 3 file(s)" in captured.err and "readme.txt" in captured.err
    assert "pipe.png: is a named pipe (FIFO), not an image file" in captured.err
    assert "zero.jpg: is a device (/dev/zero), not an image file" in captured.err
    meta = images.read_params(out)
    assert meta["params"]["top"] == 2
    assert [Path(file).name for file, _ in meta["skipped"]] == [
        "pipe.png",
        "readme.txt",
        "zero.jpg",
    ]


def test_random_weight_backbone(tmp_path, capsys):
    out = tmp_path / "mobile.png"
    args = ["visualize", "mobilenet_v2", "--weights", "random", "--layer", "block_1_expand_relu"]
    assert main([*args, "--channels", "0-1", "-o", str(out), *FAST]) == 0
    err = capsys.readouterr().err
    assert "(untrained network)" in err.strip().splitlines()[-1]
    meta = images.read_params(out)
    assert meta["untrained"] is True and meta["model_label"] == "MobileNetV2, untrained (random)"
