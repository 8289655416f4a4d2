"""Feature visualisation's parameters, channel lists, metadata and grid layout: all
without TensorFlow (the window imports them at start-up)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cnnstudio.core import image_saving, images
from cnnstudio.core.errors import InputError
from cnnstudio.core.visualize import params as vparams
from cnnstudio.core.visualize.grid import PAD, ChannelRecord, Example, GridLayout, paste
from cnnstudio.core.visualize.params import VisualizeParams, parse_channels, validate_params


def test_defaults_are_the_distill_recipe_and_valid():
    params = VisualizeParams()
    validate_params(params)
    assert (params.size, params.steps, params.learning_rate) == (128, 256, 0.05)
    assert (params.jitter, params.scale, params.rotation) == (16, 0.1, 5.0)
    assert params.fourier and params.decorrelate and params.objective == "channel"
    assert params.with_channels(512).channels == tuple(range(16))
    assert params.with_channels(5).channels == tuple(range(5))
    assert params.replace(channels=(3,)).with_channels(512).channels == (3,)


@pytest.mark.parametrize(
    ("change", "param", "message"),
    [
        ({"objective": "max"}, "objective", "objective 'max'"),
        ({"layer": ""}, "layer", "no layer chosen"),
        ({"channels": (1, -2)}, "channels", "channel -2"),
        ({"channels": (1, 1)}, "channels", "listed twice"),
        ({"channels": tuple(range(vparams.MAX_CHANNELS + 1))}, "channels", "too many"),
        ({"size": 8}, "size", "image size 8 must be a whole number from 16 to 512"),
        ({"size": 4096}, "size", "from 16 to 512"),
        ({"steps": 0}, "steps", "steps 0"),
        ({"steps": 10**6}, "steps", "from 1 to 4096"),
        ({"learning_rate": 0.0}, "learning_rate", "learning rate 0"),
        ({"learning_rate": float("nan")}, "learning_rate", "learning rate nan"),
        ({"jitter": 100}, "jitter", "jitter 100"),
        ({"scale": 0.9}, "scale", "scale change 0.9"),
        ({"rotation": 90.0}, "rotation", "rotation 90.0"),
        ({"fourier": 1}, "fourier", "fourier must be true or false"),
        ({"diversity": -1.0}, "diversity", "diversity weight -1.0"),
        ({"images_per_channel": 9}, "images_per_channel", "images per channel 9"),
        ({"batch": 0}, "batch", "batch 0"),
        ({"seed": -1}, "seed", "seed -1"),
        ({"top": 0}, "top", "number of examples 0"),
        ({"model": " "}, "model", "no model chosen"),
        ({"steps": True}, "steps", "steps True"),
    ],
)
def test_bad_values_are_named_with_their_parameter(change, param, message):
    with pytest.raises(InputError, match=message) as caught:
        validate_params(VisualizeParams().replace(**change))
    assert caught.value.param == param


def test_class_objective_needs_no_layer():
    validate_params(VisualizeParams(objective="class", layer=""))


def test_numpy_integers_are_whole_numbers():
    validate_params(VisualizeParams(channels=(np.int64(3),), size=np.int32(64)))


@pytest.mark.parametrize(
    ("text", "channels"),
    [("0-3", (0, 1, 2, 3)), ("5", (5,)), ("3,7,10-12", (3, 7, 10, 11, 12)), (" 2 , 0 ", (2, 0))],
)
def test_channel_lists(text, channels):
    assert parse_channels(text) == channels
    assert parse_channels(vparams.format_channels(channels)) == channels


@pytest.mark.parametrize(
    ("text", "message"),
    [("a-3", "'a-3' is not an index"), ("5-2", "empty or negative"), ("", "give an index"),
     ("1,1", "listed twice"), ("0-5000", "at most 2048")],
)  # fmt: skip
def test_bad_channel_lists(text, message):
    with pytest.raises(InputError, match=message) as caught:
        parse_channels(text)
    assert caught.value.param == "channels"


def test_format_channels_joins_runs():
    assert vparams.format_channels((0, 1, 2, 5, 7, 8)) == "0-2,5,7-8"


def test_metadata_round_trips_through_a_saved_png(tmp_path):
    params = VisualizeParams(model="vgg19", layer="block3_conv1", channels=(4, 9), seed=3)
    record = ChannelRecord(4, 1.5, (2, 2, 64, 64))
    meta = vparams.visualize_metadata(
        params,
        model_label="VGG19, untrained (random)",
        untrained=True,
        tile_size=(64, 64),
        records=[record.to_dict()],
        skipped=[("a/notes.txt", "a text file")],
    )
    path = image_saving.save_image(tmp_path / "grid.png", np.zeros((10, 10, 3), np.uint8), meta)
    read = images.read_params(path)
    assert read["job"] == "visualize" and read["untrained"] is True
    assert read["channels"] == [{"channel": 4, "objective": 1.5, "box": [2, 2, 64, 64]}]
    assert read["skipped"] == [["a/notes.txt", "a text file"]]
    assert vparams.params_from_metadata(read) == params
    assert vparams.params_from_metadata({"job": "dream", "params": {}}) is None
    with pytest.raises(InputError, match="channels must be a list of indices"):
        vparams.params_from_dict({"channels": 5})


def test_square_layout_and_rows_with_examples():
    layout = GridLayout(5, (10, 8))
    assert (layout.columns, layout.rows) == (3, 2)
    assert layout.image_box(0) == (PAD, PAD, 10, 8)
    assert layout.image_box(4) == (PAD + 12, PAD + 10, 10, 8)
    assert layout.size == (PAD + 3 * 12, PAD + 2 * 10)
    rows = GridLayout(2, (10, 8), per_channel=2, examples=3)
    assert (rows.columns, rows.rows) == (5, 2)
    assert rows.channel_box(1) == (PAD, PAD + 10, 22, 8)
    assert rows.example_box(1, 0)[0] > rows.channel_box(1)[0] + 22  # after a gap
    grid = rows.blank()
    assert grid.shape == (rows.size[1], rows.size[0], 3)
    x, y, w, h = rows.example_box(1, 2)
    assert x + w <= grid.shape[1] and y + h <= grid.shape[0]
    paste(grid, (x, y, w, h), np.full((h, w, 3), 200, np.uint8))
    assert grid[y, x, 0] == 200 and grid[y - 1, x, 0] != 200


def test_record_json_has_channel_objective_box_and_only_what_applies():
    plain = ChannelRecord(3, 0.123456789, (1, 2, 3, 4), (0.1,), ((1, 2, 3, 4),))
    assert plain.to_dict() == {"channel": 3, "objective": 0.123457, "box": [1, 2, 3, 4]}
    example = Example("x.png", 2.0, (0, 0, 5, 5), (9, 9, 4, 4))
    rich = ChannelRecord(3, 2.0, (0, 0, 9, 4), (2.0, 1.0), ((0, 0, 4, 4), (5, 0, 4, 4)), (example,))
    data = rich.to_dict()
    assert data["images"] == [
        {"objective": 2.0, "box": [0, 0, 4, 4]},
        {"objective": 1.0, "box": [5, 0, 4, 4]},
    ]
    assert data["examples"] == [
        {"file": "x.png", "score": 2.0, "region": [0, 0, 5, 5], "box": [9, 9, 4, 4]}
    ]


def test_params_and_grid_import_no_tensorflow():
    code = (
        "import sys\n"
        "import cnnstudio.core.visualize.params, cnnstudio.core.visualize.grid\n"
        "import cnnstudio.cli.visualize_cmd\n"
        "print(any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
