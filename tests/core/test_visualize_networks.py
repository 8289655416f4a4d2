"""Feature visualisation on every kind of model (nested transfer models, fixed grey
inputs, library models with their preprocessing, classifiers), bad input, and dataset
examples."""

from __future__ import annotations

import numpy as np
import pytest
from visualize_models import designed, grey_fixed, transfer

from cnnstudio.core import image_saving, library
from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Notice
from cnnstudio.core.visualize import examples, network
from cnnstudio.core.visualize.grid import ExamplesDone, GridLayout
from cnnstudio.core.visualize.job import visualize
from cnnstudio.core.visualize.params import VisualizeParams

SMALL = VisualizeParams(model="designed", layer="detect", size=32, steps=4, batch=4)


def run(generator):
    events = []
    while True:
        try:
            events.append(next(generator))
        except StopIteration as stop:
            return events, stop.value


@pytest.fixture(scope="module")
def net():
    return network.network_from_model(designed(), "designed")


# ---------------------------------------------------------------------------- models


def test_nested_layer_path_gives_the_same_images_as_the_inner_model(net):
    nested = network.network_from_model(transfer(), "transfer")
    assert "designed/detect" in nested.suggested_layers
    params = SMALL.replace(channels=(0, 4), steps=5)
    flat = run(visualize(params, net=net))[1]
    inner = run(visualize(params.replace(layer="designed/detect"), net=nested))[1]
    np.testing.assert_array_equal(inner.grid, flat.grid)
    assert [r.objective for r in inner.records] == pytest.approx(
        [r.objective for r in flat.records], rel=1e-4
    )


def test_class_objective_climbs_the_logit_not_the_saturated_probability(net):
    params = SMALL.replace(objective="class", layer="", channels=(0, 2), steps=30)
    events, result = run(visualize(params, net=net))
    # scores = 40 x the channel means: logits, far above any probability
    assert all(r.objective > 3.0 for r in result.records)
    assert result.layer == "mix"  # the last convolution, for the diversity term
    with pytest.raises(InputError, match=r"channel 3 is out of range.*3 classes \(0\.\.2\)"):
        run(visualize(params.replace(channels=(3,)), net=net))


def test_fixed_size_grey_model_gets_tiles_of_its_own_size():
    net = network.network_from_model(grey_fixed(), "digits")
    assert net.grayscale and net.fixed_size == (28, 28)
    _, result = run(visualize(SMALL.replace(layer="c1", channels=(0, 1), size=128), net=net))
    assert result.tile_size == (28, 28)
    x, y, w, h = result.records[0].box
    tile = result.grid[y : y + h, x : x + w]
    assert (w, h) == (28, 28)
    # a grey model sees only luminance: nothing drives the colours apart
    assert np.abs(tile.astype(int) - tile.mean(axis=2, keepdims=True)).max() < 40


def test_library_model_by_name_and_path_uses_its_sidecar_preprocessing(tmp_path):
    model = designed("lib")
    entry = library.save_to_library(model, "lib", {"preprocessing": "mobilenet_v2"})
    by_name = network.load_network(SMALL.replace(model="lib"))
    assert by_name.label == "lib" and by_name.preprocessing == "mobilenet_v2"
    # 0..255 -> [-1, 1] for mobilenet_v2
    np.testing.assert_allclose(np.asarray(by_name.preprocess(np.array([255.0] * 3))), 1.0)
    by_path = network.load_network(SMALL.replace(model=str(entry.path)))
    assert by_path.preprocessing == "mobilenet_v2"
    _, result = run(visualize(SMALL.replace(model="lib", channels=(6,), steps=2)))
    assert result.model_label == "lib" and [r.channel for r in result.records] == [6]


def test_random_backbone_layer_in_the_middle():
    params = VisualizeParams(
        model="mobilenet_v2", weights="random", layer="block_1_expand_relu", channels=(0, 95),
        size=48, steps=2, batch=2,
    )  # fmt: skip
    events, result = run(visualize(params))
    assert result.untrained and "MobileNetV2" in result.model_label
    assert result.grid.shape == GridLayout(2, (48, 48)).blank().shape
    with pytest.raises(InputError, match=r"channel 96 is out of range.*96 channels \(0\.\.95\)"):
        run(visualize(params.replace(channels=(96,))))
    with pytest.raises(InputError, match="image size 16 is below MobileNetV2's minimum"):
        run(visualize(params.replace(size=16)))


def test_default_channels_are_the_first_sixteen_or_all(net):
    _, result = run(visualize(SMALL.replace(steps=1), net=net))
    assert [r.channel for r in result.records] == list(range(7))
    assert result.params.channels == tuple(range(7))


# ------------------------------------------------------------------------- bad input


def test_unknown_layer_lists_the_layers_that_exist(net):
    with pytest.raises(InputError, match=r"no layer 'nope' in designed.*detect, mix") as caught:
        run(visualize(SMALL.replace(layer="nope"), net=net))
    assert caught.value.param == "layer"
    nested = network.network_from_model(transfer(), "transfer")
    with pytest.raises(InputError, match=r"no layer 'designed/nope'.*designed/detect"):
        run(visualize(SMALL.replace(layer="designed/nope"), net=nested))


def test_channel_out_of_range_gives_the_layers_channel_count(net):
    with pytest.raises(InputError, match=r"channel 7 is out of range.*7 channels \(0\.\.6\)") as caught:  # fmt: skip
        run(visualize(SMALL.replace(channels=(1, 7)), net=net))
    assert caught.value.param == "channels" and caught.value.details["count"] == 7


def test_layer_without_channels_is_refused():
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(7, 3, padding="same", name="conv")(inputs)
    x = keras.layers.Reshape((64, 7), name="positions")(x)  # (batch, positions, channels)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(x))
    net = network.network_from_model(keras.Model(inputs, outputs, name="seq"), "seq")
    with pytest.raises(InputError, match=r"'positions' of seq has no channels.*rank 3.*conv"):
        run(visualize(SMALL.replace(layer="positions"), net=net))


def test_unknown_model_names_the_choices():
    with pytest.raises(InputError, match=r"unknown model 'resnet'.*inception_v3"):
        network.load_network(SMALL.replace(model="resnet"))
    with pytest.raises(InputError, match="model file not found"):
        network.load_network(SMALL.replace(model="/nowhere/m.keras"))


# -------------------------------------------------------------------------- examples


@pytest.fixture
def photos(tmp_path):
    """A folder of coloured images (the reddest is "red_big"), one in a subfolder; a
    text file, a broken PNG and a hidden file."""
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)

    def solid(name, colour, size=(40, 60)):
        pixels = np.zeros((*size, 3), np.uint8) + np.array(colour, np.uint8)
        image_saving.save_image(folder / name, pixels)

    solid("red_big.png", (250, 10, 10))
    solid("red_dull.png", (150, 90, 90))
    solid("green.png", (10, 240, 10))
    solid("more/blue.png", (10, 10, 240))
    (folder / "notes.txt").write_text("not a picture")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (folder / ".hidden.png").write_bytes(b"ignored")
    return folder


def test_examples_rank_the_folder_and_list_unreadable_files(net, photos, monkeypatch):
    monkeypatch.setattr(examples, "BATCH", 2)  # streamed: several batches
    params = SMALL.replace(channels=(0, 1), steps=2, examples_folder=str(photos), top=3)
    events, result = run(visualize(params, net=net))
    red, green = result.records
    assert [e.file.split("/")[-1] for e in red.examples[:2]] == ["red_big.png", "red_dull.png"]
    assert green.examples[0].file.endswith("green.png")
    assert len(red.examples) == 3 and red.examples[0].score > red.examples[1].score
    skipped = {path.split("/")[-1]: reason for path, reason in result.skipped}
    assert set(skipped) == {"notes.txt", "broken.png"} and "text file" in skipped["notes.txt"]
    done = [e for e in events if isinstance(e, ExamplesDone)]
    assert len(done) == 1 and done[0].skipped == result.skipped
    # each example has its tile in the row of its channel, after the channel's image
    layout = GridLayout(2, (32, 32), 1, 3)
    assert red.examples[0].box == layout.example_box(0, 0)
    x, y, w, h = red.examples[0].box
    tile = result.grid[y : y + h, x : x + w].astype(int)
    assert tile[..., 0].mean() > 200 and tile[..., 1].mean() < 60
    assert result.grid.shape[:2] == (layout.size[1], layout.size[0])


def test_example_region_is_where_the_channel_fires(net, tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    spot = np.full((80, 120, 3), 128, np.uint8)
    spot[50:60, 90:100] = (255, 0, 0)  # red in the bottom right
    image_saving.save_image(folder / "spot.png", spot)
    params = SMALL.replace(channels=(0,), steps=1, examples_folder=str(folder), top=1)
    _, result = run(visualize(params, net=net))
    x, y, w, h = result.records[0].examples[0].region  # in the file's pixels
    assert x <= 90 and x + w >= 100 and y <= 50 and y + h >= 60
    assert w < 120 and h < 80  # a region, not the whole picture


def test_examples_folder_must_be_a_folder_with_files(net, tmp_path):
    # a folder that does not exist was "not a folder of images" (review item 12)
    with pytest.raises(InputError, match="none: no such folder; check the path") as caught:
        run(visualize(SMALL.replace(examples_folder=str(tmp_path / "none")), net=net))
    assert caught.value.param == "examples_folder"
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InputError, match="a-file: is a regular file, not a folder of images"):
        run(visualize(SMALL.replace(examples_folder=str(tmp_path / "a-file")), net=net))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no files"):
        run(visualize(SMALL.replace(examples_folder=str(tmp_path / "empty")), net=net))


def test_scores_model_gives_the_logits_under_the_softmax_of_a_nested_model():
    import keras

    from cnnstudio.core import layers

    model = transfer("scored")
    scores_of = layers.scores_model(model, ["designed/detect"])
    pixels = np.random.default_rng(6).uniform(0, 255, (2, 16, 16, 3)).astype(np.float32)
    detect, scores = scores_of(pixels)
    assert tuple(detect.shape) == (2, 16, 16, 7) and tuple(scores.shape) == (2, 2)
    probabilities = keras.ops.softmax(scores).numpy()
    np.testing.assert_allclose(probabilities, model(pixels).numpy(), rtol=1e-5, atol=1e-6)
    assert layers.scores_model(model, ["designed/detect"]) is scores_of  # cached
    assert layers.logits_function(model.get_layer("pool")) is None


def test_a_channel_that_never_fires_is_named():
    import keras

    inputs = keras.Input((None, None, 3))
    conv = keras.layers.Conv2D(2, 1, activation="relu", name="conv")
    outputs = conv(inputs)
    kernel = np.full((1, 1, 3, 2), 0.01, np.float32)
    conv.set_weights([kernel, np.array([0.0, -1e3], np.float32)])  # channel 1 is dead
    net = network.network_from_model(keras.Model(inputs, outputs, name="dead"), "dead")
    events, result = run(visualize(SMALL.replace(layer="conv", steps=3), net=net))
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert any(text.startswith("channel 1 did not respond") for text in notices)
    assert not any(text.startswith("channel 0 did not respond") for text in notices)
    assert result.records[1].objective == 0.0 and result.records[0].objective > 0


def test_class_objective_on_a_model_without_convolutions():
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(4, activation="softmax", name="probabilities")(x)
    net = network.network_from_model(keras.Model(inputs, outputs, name="flat"), "flat")
    params = SMALL.replace(objective="class", layer="", channels=(2,), steps=3)
    _, result = run(visualize(params, net=net))
    assert result.layer == "probabilities" and result.tile_size == (8, 8)
