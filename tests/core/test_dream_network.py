"""Dreaming with other networks than the backbones: Keras models in memory, and models of
the library or .keras files (loaded safely, preprocessing from the sidecar, nested layers,
grey inputs), as the Dream tab and ``cnnstudio dream --model`` use them."""

from __future__ import annotations

import json
import os

import numpy as np
import payloads
import pytest
from dreams import of, run

from cnnstudio.core import images, layers, library
from cnnstudio.core.dream import network
from cnnstudio.core.dream.job import dream
from cnnstudio.core.dream.params import DreamParams
from cnnstudio.core.errors import InputError, UnsafeModelError
from cnnstudio.core.events import Progress

# one octave, no roll, a few pixels' step (these models take 0..255 pixels)
QUICK = DreamParams(steps=2, octaves=1, jitter=0, step_size=4.0, max_size=48, seed=0)


def picture(seed: int = 2, shape=(40, 48, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(60, 200, shape, dtype=np.uint8)


def changed(result: np.ndarray, start: np.ndarray) -> bool:
    return (
        result.shape == start.shape and np.abs(result.astype(int) - start.astype(int)).mean() > 0.5
    )


@pytest.fixture(autouse=True)
def forget_loaded_models():
    """Each test's library is new (conftest): loaded models must not leak between them."""
    yield
    network.clear_model_cache()


def save_flat_model(name: str = "tiny", preprocessing: str = "none") -> library.ModelEntry:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv_a"),
            # linear: a random ReLU layer can be dead everywhere and leave nothing to climb
            keras.layers.Conv2D(8, 3, name="conv_b"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    meta = {"input_size": [32, 32], "channels": 3, "preprocessing": preprocessing}
    return library.save_to_library(model, name, {**meta, "class_names": ["a", "b", "c"]})


def save_nested_model(name: str = "nested") -> library.ModelEntry:
    """A transfer-style model: its first convolution lives in a sub-model called "base"."""
    import keras

    keras.utils.set_random_seed(1)
    inner = keras.Sequential(
        [keras.Input((None, None, 3)), keras.layers.Conv2D(6, 3, name="conv_a")], name="base"
    )
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(10, 3, activation="relu", name="conv_b")(inner(x))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalMaxPooling2D()(x))
    model = keras.Model(inputs, outputs)
    return library.save_to_library(model, name, {"input_size": [32, 32]})


def test_custom_model_with_fixed_grayscale_input():
    import keras

    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    # linear: a random ReLU layer can be dead everywhere and leave nothing to climb
    x = keras.layers.Conv2D(6, 3, name="c2")(x)
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs, name="tiny")
    assert layers.dream_layer_paths(model) == ["c1", "pool", "c2"]
    params = DreamParams(layers={"c2": 1.0}, steps=2, octaves=2, step_size=2.0, seed=1)
    image = np.random.default_rng(2).integers(60, 200, (64, 90, 3), dtype=np.uint8)
    events, result = run(dream(image, params, model=model))
    assert result.shape == (64, 90, 3)
    assert not np.array_equal(result, image)
    with pytest.raises(InputError, match=r"'mixed3' is not in model tiny.*c1, pool, c2"):
        run(dream(image, DreamParams(), model=model))


def test_layers_inside_a_transfer_models_backbone_dream():
    """A library transfer model (a MobileNetV2 nested in it): its inner layers are listed
    as "base/layer", their channels are known, and a dream on one of them (one channel)
    changes the picture. The CIFAR CNN lists no rescaling or dropout layers."""
    import keras

    from cnnstudio.core.training import recipes

    keras.utils.set_random_seed(0)
    model = recipes.build_model(
        "transfer", num_classes=3, input_size=(48, 48), backbone="mobilenet_v2", weights="random"
    )
    base = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    names = layers.dream_layer_paths(model)
    assert f"{base.name}/Conv1_relu" in names and names[-1] == f"{base.name}/out_relu"
    assert base.name not in names  # the backbone itself is no one layer to pick
    assert layers.layer_channels(model, f"{base.name}/Conv1_relu") == 32
    assert layers.layer_channels(model, f"{base.name}/out_relu") == 1280

    layer = f"{base.name}/Conv1_relu"
    params = DreamParams(layers={layer: 1.0}, channel=(layer, 5), steps=2, octaves=1, step_size=4.0)
    image = np.random.default_rng(3).integers(60, 200, (48, 48, 3), dtype=np.uint8)
    _, result = run(dream(image, params, model=model))
    assert result.shape == (48, 48, 3) and not np.array_equal(result, image)
    with pytest.raises(InputError, match=r"channel 40 is out of range.*32 channels"):
        run(dream(image, params.replace(channel=(layer, 40)), model=model))
    with pytest.raises(InputError, match=rf"'{base.name}/nope' is not in model"):
        run(dream(image, DreamParams(layers={f"{base.name}/nope": 1.0}), model=model))

    cifar = recipes.build_model("cifar-cnn", num_classes=10, input_size=(32, 32))
    kinds = {type(cifar.get_layer(name)).__name__ for name in layers.dream_layer_paths(cifar)}
    assert kinds == {"Conv2D", "MaxPooling2D"}


def test_a_library_model_dreams_by_name_or_by_path_and_loads_once(monkeypatch):
    entry = save_flat_model()
    loads = []
    real_load = library.load_model_file
    monkeypatch.setattr(
        library, "load_model_file", lambda path: loads.append(path) or real_load(path)
    )
    start = picture()
    params = QUICK.replace(layers={"conv_b": 1.0})
    events, by_name = run(dream(start, params, model="tiny"))
    assert changed(by_name, start)
    assert all(list(p.terms) == ["conv_b"] for p in of(events, Progress))
    # the same file by its path, and its layers for the tab: the loaded model is reused
    _, by_path = run(dream(start, params, model=str(entry.path)))
    np.testing.assert_array_equal(by_path, by_name)
    assert network.library_model_layers(entry) == (["conv_a", "conv_b"], {"conv_a": 6, "conv_b": 8})
    assert len(loads) == 1
    # a file that changed on disk is loaded again
    stat = os.stat(entry.path)
    os.utime(entry.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    run(dream(start, params, model="tiny"))
    assert len(loads) == 2
    with pytest.raises(InputError, match=r"'mixed3' is not in model tiny: choose from conv_a"):
        run(dream(start, DreamParams(), model="tiny"))


def test_a_nested_library_models_own_layers_dream():
    save_nested_model()
    names, channels = network.library_model_layers("nested")
    assert names == ["base/conv_a", "conv_b"]
    assert channels == {"base/conv_a": 6, "conv_b": 10}
    assert network.library_default_layers("nested") == {"conv_b": 1.0}  # the deepest
    start = picture(shape=(48, 64, 3))
    params = QUICK.replace(layers={"base/conv_a": 1.0}, channel=("base/conv_a", 4), max_size=64)
    events, result = run(dream(start, params, model="nested"))
    assert changed(result, start)
    assert all(list(p.terms) == ["base/conv_a"] for p in of(events, Progress))
    with pytest.raises(InputError, match=r"channel 6 is out of range.*6 channels"):
        run(dream(start, params.replace(channel=("base/conv_a", 6)), model="nested"))


def test_a_grey_library_model_dreams_in_colour():
    """A LeNet-like model on 28x28 grey pictures: the picture stays RGB (the model sees the
    mean of its channels), at the picture's own size."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Conv2D(4, 5, activation="relu", name="c1"),
            keras.layers.MaxPooling2D(name="s1"),
            keras.layers.Conv2D(6, 5, activation="relu", name="c3"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    library.save_to_library(
        model, "lenet", {"class_names": list("0123456789"), "input_size": [28, 28], "channels": 1}
    )
    names, _ = network.library_model_layers("lenet")
    assert {"c1", "s1", "c3"} <= set(names) and "flatten" not in names
    net = network.library_network("lenet")
    assert net.grayscale and net.fixed_size == (28, 28) and net.label == "model lenet"

    rgb = np.random.default_rng(0).uniform(0, 255, size=(40, 50, 3)).astype(np.uint8)
    params = QUICK.replace(layers={"c3": 1.0}, step_size=5.0)
    _, result = run(dream(rgb, params, model="lenet"))
    assert result.shape[2] == 3 and max(result.shape[:2]) == 48
    assert changed(result, images.resize_max_side(rgb, 48))

    # layer_outputs_model: the layers before the flatten take any image size
    features = layers.layer_outputs_model(net.model, ["c1", "c3"], input_shape=(None, None, 1))
    c1, c3 = features(np.zeros((1, 40, 50, 1), np.float32))
    assert c1.shape == (1, 36, 46, 4) and c3.shape == (1, 14, 19, 6)


def test_the_sidecars_preprocessing_decides_the_input_units():
    save_flat_model("on_mobilenet", preprocessing="mobilenet_v2")
    net = network.library_network("on_mobilenet")
    assert np.allclose(net.preprocess(np.array([[[0.0, 127.5, 255.0]]])), [[[-1.0, 0.0, 1.0]]])
    assert np.allclose(net.deprocess(np.array([[[-1.0, 0.0, 1.0]]])), [[[0.0, 127.5, 255.0]]])
    assert network.library_network(save_flat_model("pixels")).preprocess(3.0) == 3.0
    odd = save_flat_model("odd")
    # a hand-made sidecar (the app writes none such): the entry is damaged, and says why
    odd.sidecar_path.write_text(json.dumps({**odd.meta, "preprocessing": "sepia"}))
    with pytest.raises(InputError, match=r"sidecar odd\.json: preprocessing is 'sepia'"):
        run(dream(picture(), QUICK.replace(layers={"conv_b": 1.0}), model="odd"))


def test_unknown_and_missing_models_are_named(tmp_path):
    save_flat_model()
    with pytest.raises(InputError, match=r"unknown model 'nope': .*library model.*\(tiny\)"):
        run(dream(picture(), QUICK, model="nope"))
    with pytest.raises(InputError, match=r"model file not found: .*gone\.keras"):
        network.find_library_model(str(tmp_path / "gone.keras"))


def test_a_model_file_with_code_is_refused_and_never_runs(tmp_path, monkeypatch):
    marker = tmp_path / "ran.txt"
    path = payloads.model_with_code(monkeypatch, tmp_path, marker, input_shape=(16, 16, 3))
    with pytest.raises(UnsafeModelError, match="evil.keras"):
        run(dream(picture(), QUICK.replace(layers={"lambda": 1.0}), model=str(path)))
    with pytest.raises(UnsafeModelError):
        network.library_model_layers(path)
    assert not marker.exists()
