"""Classification, Grad-CAM (plain and nested models), feature maps, unsafe models.

Small generated images, tiny CNNs trained in the test with fixed seeds, random-weight
backbones: nothing is downloaded."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest

from cnnstudio.core import backbones, classify, images, layers, library, paths
from cnnstudio.core.errors import InputError, UnsafeModelError
from cnnstudio.core.events import Progress

SIZE = 32
PATCH = 8
COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.float32)
COLOUR_NAMES = ["red", "green", "blue"]


# ----------------------------------------------------------------------- helpers


def colour_patches(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Grey noise with one bright square whose colour is the class, anywhere."""
    rng = np.random.default_rng(seed)
    x = rng.integers(60, 100, size=(n, SIZE, SIZE, 3)).astype(np.float32)
    y = rng.integers(0, 3, size=n)
    corners = []
    for i in range(n):
        top, left = (int(v) for v in rng.integers(0, SIZE - PATCH + 1, size=2))
        x[i, top : top + PATCH, left : left + PATCH] = COLOURS[y[i]]
        corners.append((top, left))
    return x, y, corners


def quadrant_patches(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Dark noise with a white square; the class is the quadrant it lies in."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 30, size=(n, SIZE, SIZE, 3)).astype(np.float32)
    y = rng.integers(0, 4, size=n)
    half = SIZE // 2
    for i in range(n):
        row, col = divmod(int(y[i]), 2)
        top = row * half + int(rng.integers(0, half - PATCH + 1))
        left = col * half + int(rng.integers(0, half - PATCH + 1))
        x[i, top : top + PATCH, left : left + PATCH] = 255
    return x, y


def conv_base(keras, name: str = "base"):
    inputs = keras.Input((SIZE, SIZE, 3))
    z = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    z = keras.layers.MaxPooling2D()(z)
    z = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="top_conv")(z)
    return keras.Model(inputs, z, name=name)


def train(model, x, y, epochs: int = 5):
    import keras

    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    return model


def colour_model(nested: bool):
    """A colour-patch classifier with a global-average-pooling head (as transfer models
    have); ``nested``: its convolutions live in a sub-model, as a transfer backbone does."""
    import keras

    keras.utils.set_random_seed(1)
    if nested:
        inputs = keras.Input((SIZE, SIZE, 3))
        z = keras.layers.Rescaling(1 / 255.0)(inputs)
        z = conv_base(keras)(z)
        z = keras.layers.GlobalAveragePooling2D()(z)
        model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(z))
    else:
        model = keras.Sequential(
            [
                keras.Input((SIZE, SIZE, 3)),
                keras.layers.Rescaling(1 / 255.0),
                keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                keras.layers.MaxPooling2D(),
                keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="top_conv"),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
    x, y, _ = colour_patches(300, seed=0)
    return train(model, x, y)


@pytest.fixture(scope="module")
def nested_colour_model():
    return colour_model(nested=True)


def save_png(path, array) -> str:
    images.save_image(path, np.clip(array, 0, 255).astype(np.uint8))
    return str(path)


# ------------------------------------------------------------------- class names


def test_imagenet_class_names_are_in_keras_index_order():
    names = classify.imagenet_class_names()
    synsets = classify.imagenet_synsets()
    assert len(names) == len(synsets) == 1000
    assert synsets == sorted(synsets) and len(set(synsets)) == 1000
    assert (synsets[0], names[0]) == ("n01440764", "tench")
    assert names[1] == "goldfish"
    assert (synsets[281], names[281]) == ("n02123045", "tabby")
    assert names[999] == "toilet tissue"
    assert len(set(names)) == 1000  # the two 'crane's and 'maillot's are told apart


# ------------------------------------------------------------- ImageNet backbones


def test_imagenet_backbone_with_random_weights_is_wired_right():
    classifier = classify.load_classifier("mobilenet_v2", weights="random")
    assert classifier.input_size == (224, 224)
    assert classifier.class_names == classify.imagenet_class_names()
    assert classifier.model.outputs[0].shape[-1] == 1000
    assert classifier.untrained and "untrained" in classifier.label

    # MobileNetV2 wants [-1, 1]: white is 1, black is -1, at the model's input size
    white = classifier.prepare(np.full((50, 80, 3), 255, np.uint8))
    black = classifier.prepare(np.zeros((50, 80, 3), np.uint8))
    assert white.shape == (224, 224, 3)
    assert np.allclose(white, 1.0) and np.allclose(black, -1.0)

    image = images.noise_image(120, 90, seed=3)
    predictions = classifier.classify(image, top_k=5)
    assert len(predictions) == 5
    probabilities = [p.probability for p in predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0.0 < sum(probabilities) <= 1.0 + 1e-6
    names = classify.imagenet_class_names()
    assert all(p.label == names[p.index] for p in predictions)
    direct = np.asarray(classifier.model(classifier.prepare(image)[None], training=False))[0]
    assert np.isclose(direct.sum(), 1.0, atol=1e-4)
    assert predictions[0].index == int(direct.argmax())
    assert np.isclose(predictions[0].probability, direct.max(), rtol=1e-4)

    cam = classifier.gradcam(image, class_index=predictions[1].index)
    assert cam.layer == "out_relu" and cam.heatmap.shape == (7, 7)
    assert cam.class_index == predictions[1].index


def test_unknown_model_names_the_choices():
    with pytest.raises(InputError, match="mobilenet_v2"):
        classify.load_classifier("resnet50")
    with pytest.raises(InputError, match="not found"):
        classify.load_classifier("missing_model.keras")


# --------------------------------------------------------- library models, batches


def test_library_model_trained_on_generated_data_classifies_files_and_folders(
    tmp_path, nested_colour_model
):
    entry = library.save_to_library(
        nested_colour_model,
        "patches",
        {
            "recipe": "test",
            "dataset": "colour patches",
            "class_names": COLOUR_NAMES,
            "input_size": [SIZE, SIZE],
            "channels": 3,
            "preprocessing": "none",
        },
    )
    folder = tmp_path / "batch"
    (folder / "sub").mkdir(parents=True)
    x, y, _ = colour_patches(10, seed=42)
    expected = {}
    for i in range(10):
        target = folder / ("sub" if i % 2 else "") / f"img{i:02d}.png"
        expected[save_png(target, x[i])] = COLOUR_NAMES[y[i]]
    (folder / "notes.txt").write_text("not an image")  # not an image suffix: skipped
    (folder / "empty.png").write_bytes(b"")
    (folder / "broken.jpg").write_text("this is not a jpeg")
    good = images.load_image(next(iter(expected)))
    truncated = tmp_path / "truncated.png"
    images.save_image(truncated, images.resize_to(good, 64, 64))
    truncated.write_bytes(truncated.read_bytes()[:120])

    for spec in (entry, "patches", str(entry.path)):
        classifier = classify.load_classifier(spec)
        assert classifier.class_names == COLOUR_NAMES
        assert classifier.input_size == (SIZE, SIZE) and classifier.preprocessing == "none"

    results = list(classify.classify_paths(classifier, [folder, truncated], top_k=2, batch_size=4))
    files = [r.file for r in results]
    assert len(results) == 13 and str(folder / "notes.txt") not in files
    assert [r.index for r in results] == list(range(13))
    errors = {os.path.basename(r.file): r.error for r in results if not r.ok}
    assert set(errors) == {"empty.png", "broken.jpg", "truncated.png"}
    assert all(name in message for name, message in errors.items())
    for result in results:
        if result.ok:
            assert result.top.label == expected[result.file], result.file
            assert len(result.predictions) == 2
            assert result.thumbnail.dtype == np.uint8 and max(result.thumbnail.shape) <= 96

    out = classify.write_csv(results, tmp_path / "results.csv")
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == ["file", "label_1", "probability_1", "label_2", "probability_2", "error"]
    assert len(rows) == 14
    broken_row = next(row for row in rows if row[0].endswith("broken.jpg"))
    assert broken_row[1] == "" and "broken.jpg" in broken_row[-1]
    ok_dicts = [r.to_dict() for r in results if r.ok]
    assert set(ok_dicts[0]) == {"file", "predictions"}
    assert set(ok_dicts[0]["predictions"][0]) == {"label", "probability"}


def test_classify_job_reports_each_file_and_returns_the_results(tmp_path, nested_colour_model):
    x, _, _ = colour_patches(3, seed=9)
    files = [save_png(tmp_path / f"{i}.png", x[i]) for i in range(3)]
    (tmp_path / "bad.png").write_text("nope")
    classifier = classify.Classifier(nested_colour_model, COLOUR_NAMES, (SIZE, SIZE), name="t")
    job = classify.classify_job("t", files + [str(tmp_path / "bad.png")], classifier=classifier)
    events = []
    try:
        while True:
            events.append(next(job))
    except StopIteration as stop:
        returned = stop.value
    progress = [e for e in events if isinstance(e, Progress)]
    results = [e for e in events if isinstance(e, classify.ClassifyResult)]
    assert [p.step for p in progress] == [1, 2, 3, 4] and progress[-1].total == 4
    assert results == returned and [r.ok for r in results] == [True, True, True, False]
    (tmp_path / "empty-folder").mkdir()
    with pytest.raises(InputError, match="no image files"):
        next(classify.classify_job("t", [str(tmp_path / "empty-folder")], classifier=classifier))


def test_outputs_become_probabilities():
    logits = np.array([[2.0, -1.0, 0.5]])
    probs = classify.to_probabilities(logits)
    assert np.isclose(probs.sum(), 1.0) and probs.argmax() == 0
    softmax = np.array([[0.2, 0.7, 0.1]])
    assert np.allclose(classify.to_probabilities(softmax), softmax)
    assert np.allclose(classify.to_probabilities(np.array([[0.8]])), [[0.2, 0.8]])
    sigmoid = 1 / (1 + np.exp(-2.5))  # a single logit
    assert np.allclose(classify.to_probabilities(np.array([[2.5]])), [[1 - sigmoid, sigmoid]])


# ---------------------------------------------------------------------- Grad-CAM


def _peak_on_patch(heatmap: np.ndarray, corner: tuple[int, int]) -> bool:
    scale = SIZE / heatmap.shape[0]
    row, col = np.unravel_index(int(heatmap.argmax()), heatmap.shape)
    top, left = corner
    # the peak's cell overlaps the patch (one cell of slack for the pooling)
    return (top / scale - 1 <= row <= (top + PATCH) / scale) and (
        left / scale - 1 <= col <= (left + PATCH) / scale
    )


@pytest.mark.parametrize("nested", [False, True], ids=["plain", "nested"])
def test_gradcam_is_highest_where_the_signal_is(nested, nested_colour_model):
    model = nested_colour_model if nested else colour_model(nested=False)
    layer = layers.find_last_conv_layer(model)
    assert layer == ("base/top_conv" if nested else "top_conv")
    x, y, corners = colour_patches(12, seed=5)
    assert (model.predict(x, verbose=0).argmax(axis=1) == y).mean() >= 0.9
    for i in range(12):
        cam = classify.gradcam(model, x[i], class_index=int(y[i]))
        assert cam.heatmap.shape == (16, 16) and cam.layer == layer
        assert cam.heatmap.max() == pytest.approx(1.0) and cam.heatmap.min() >= 0.0
        assert _peak_on_patch(cam.heatmap, corners[i]), f"image {i}: peak off the patch"


def test_hirescam_finds_the_quadrant_behind_a_flatten_head():
    """Where the class depends on *where* the patch is (a flatten + dense head), the
    position-wise variant points at the quadrant that decided."""
    import keras

    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    x, y = quadrant_patches(400, seed=0)
    train(model, x, y, epochs=4)
    x_test, y_test = quadrant_patches(16, seed=99)
    for i in range(16):
        heat = classify.gradcam(model, x_test[i], int(y_test[i]), method="hirescam").heatmap
        half = heat.shape[0] // 2
        quadrants = [heat[:half, :half], heat[:half, half:], heat[half:, :half], heat[half:, half:]]
        assert int(np.argmax([q.max() for q in quadrants])) == y_test[i], f"image {i}"
    with pytest.raises(InputError, match="heat-map method"):
        classify.gradcam(model, x_test[0], method="magic")


def test_gradcam_inside_a_nested_mobilenet_matches_the_textbook_computation(tmp_path):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    # uncached: the BatchNorm statistics are changed below
    base = backbones.build_backbone_uncached(
        "mobilenet_v2", "random", include_top=False, input_shape=(96, 96, 3)
    )
    # Random weights with unit BatchNorm statistics shrink activations to ~0 by the last
    # block; statistics from one batch of images keep them alive (the test needs signal).
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    calibration = np.random.default_rng(0).uniform(-1, 1, size=(4, 96, 96, 3)).astype("float32")
    base(calibration, training=True)
    base.trainable = False
    inputs = keras.Input((96, 96, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(base(inputs, training=False))
    dense = keras.layers.Dense(3, activation="softmax")
    model = keras.Model(inputs, dense(pooled))

    layer = layers.find_last_conv_layer(model)
    assert layer == f"{base.name}/out_relu"
    paths = layers.conv_layer_paths(model)
    assert paths[-1] == layer and f"{base.name}/block_6_expand_relu" in paths

    x = np.random.default_rng(1).uniform(-1, 1, size=(96, 96, 3)).astype("float32")
    cam = classify.gradcam(model, x, class_index=2)
    # the textbook Grad-CAM, written out for this model: maps from the base, then the head
    with tf.GradientTape() as tape:
        maps = base(x[None], training=False)
        tape.watch(maps)
        logits = tf.matmul(tf.reduce_mean(maps, axis=(1, 2)), dense.kernel) + dense.bias
        score = logits[0, 2]
    grads = tape.gradient(score, maps)
    expected = tf.nn.relu(tf.reduce_sum(maps[0] * tf.reduce_mean(grads, axis=(1, 2))[0], -1))
    expected = expected.numpy() / expected.numpy().max()
    assert cam.heatmap.shape == (3, 3)
    assert np.allclose(cam.heatmap, expected, atol=1e-4)
    assert cam.score == pytest.approx(float(score), rel=1e-4)

    # the same layers as a Sequential transfer model: same layer found, same heat map
    sequential = keras.Sequential(
        [keras.Input((96, 96, 3)), base, keras.layers.GlobalAveragePooling2D(), dense]
    )
    assert layers.find_last_conv_layer(sequential) == layer
    assert np.allclose(classify.gradcam(sequential, x, 2).heatmap, cam.heatmap, atol=1e-4)

    # an inner layer can be chosen; it has that layer's resolution
    inner = classify.gradcam(model, x, class_index=2, layer=f"{base.name}/block_6_expand_relu")
    assert inner.heatmap.shape == (12, 12)
    with pytest.raises(InputError, match="no layer 'nope'"):
        classify.gradcam(model, x, layer=f"{base.name}/nope")

    # the same nested model after a round trip through the library
    entry = library.save_to_library(
        model,
        "mobile",
        {"class_names": ["a", "b", "c"], "input_size": [96, 96], "preprocessing": "mobilenet_v2"},
    )
    classifier = classify.load_classifier(entry)
    image = images.noise_image(96, 96, seed=4)
    reloaded = classifier.gradcam(image, class_index=1)
    original = classify.gradcam(model, classifier.prepare(image), class_index=1)
    assert reloaded.layer == layer
    assert np.allclose(reloaded.heatmap, original.heatmap, atol=1e-4)
    overlay = reloaded.overlay(image)
    assert overlay.shape == image.shape and overlay.dtype == np.uint8


def test_heatmap_overlay_colours_hot_regions():
    image = np.full((40, 60, 3), 128, np.uint8)
    heat = np.zeros((4, 6), np.float32)
    heat[0, 0] = 1.0
    overlay = classify.heatmap_overlay(image, heat, alpha=0.6)
    assert overlay.shape == (40, 60, 3)
    hot, cold = overlay[2, 2].astype(int), overlay[-2, -2].astype(int)
    assert hot[0] > hot[2] + 40  # red where it is hot
    assert cold[2] > cold[0]  # bluish where it is cold


# ------------------------------------------------------------------- feature maps


def test_feature_maps_and_channel_grid(nested_colour_model):
    x, _, _ = colour_patches(1, seed=3)
    maps = classify.feature_maps(nested_colour_model, x[0], "base/top_conv")
    assert maps.shape == (16, 16, 16) and maps.dtype == np.float32
    # Keras numbers auto-named layers per process ("rescaling_1" after another test's model),
    # so find the rescaling layer by type rather than by name
    rescaling = next(
        layer.name for layer in nested_colour_model.layers if type(layer).__name__ == "Rescaling"
    )
    first = classify.feature_maps(nested_colour_model, x[0], rescaling)
    assert np.allclose(first, x[0] / 255.0, atol=1e-6)

    maps = np.zeros((4, 4, 5), np.float32)
    maps[..., 1] = np.arange(16, dtype=np.float32).reshape(4, 4)  # a ramp
    grid = classify.tile_channels(maps, pad=1)  # 5 channels: 3 columns x 2 rows
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 3) and grid.dtype == np.uint8
    assert (grid[1:5, 1:5] == 0).all()  # channel 0 is dead: black
    ramp = grid[1:5, 6:10, 0]
    assert ramp[0, 0] == 0 and ramp[-1, -1] == 255
    assert classify.tile_channels(maps, max_channels=2, cell=16).shape[:2] == (18, 35)


# --------------------------------------------------------------------- for Dream


def test_dream_network_from_a_grey_library_model():
    import keras

    from cnnstudio.core import dream

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
    entry = library.save_to_library(
        model, "lenet", {"class_names": list("0123456789"), "input_size": [28, 28], "channels": 1}
    )
    network = classify.load_classifier("lenet")
    assert network.channels == 1 and network.input_size == (28, 28)
    dreamable = layers.dream_layer_paths(network.model)
    assert {"c1", "s1", "c3"} <= set(dreamable) and "flatten" not in dreamable
    rgb = np.random.default_rng(0).uniform(0, 255, size=(40, 50, 3)).astype("float32")

    # the dream core takes it as it is: a short dream on the library model changes the picture
    params = dream.DreamParams(
        layers={"c3": 1.0}, steps=2, step_size=5.0, octaves=1, max_size=48, jitter=0
    )
    job = dream.dream(
        rgb.astype(np.uint8),
        params,
        model=network.model,
    )
    try:
        while True:
            next(job)
    except StopIteration as stop:
        result = stop.value
    assert result.shape[2] == 3 and max(result.shape[:2]) == 48
    start = images.resize_max_side(rgb.astype(np.uint8), 48)
    assert np.abs(result.astype(int) - start.astype(int)).mean() > 0.5

    # layer_outputs_model: the layers before the flatten take any image size
    features = layers.layer_outputs_model(network.model, ["c1", "c3"], input_shape=(None, None, 1))
    c1, c3 = features(np.zeros((1, 40, 50, 1), np.float32))
    assert c1.shape == (1, 36, 46, 4) and c3.shape == (1, 14, 19, 6)
    assert entry.name == "lenet"


# ------------------------------------------------------------------ unsafe models


def _malicious_model_file(tmp_path, marker):
    """A .keras file whose Lambda layer writes ``$CNNSTUDIO_TEST_MARKER`` when it runs."""
    import keras

    payload = lambda x: (  # noqa: E731  the payload has to be a lambda to be serialised
        __import__("pathlib")
        .Path(__import__("os").environ["CNNSTUDIO_TEST_MARKER"])
        .write_text("pwned"),
        x,
    )[1]
    os.environ["CNNSTUDIO_TEST_MARKER"] = str(tmp_path / "build-time-marker")
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Lambda(payload), keras.layers.Flatten()]
    )
    path = tmp_path / "evil.keras"
    model.save(path)
    os.environ["CNNSTUDIO_TEST_MARKER"] = str(marker)
    return path


def test_malicious_keras_file_is_refused_and_its_code_never_runs(tmp_path, monkeypatch):
    import keras

    marker = tmp_path / "marker"
    monkeypatch.setenv("CNNSTUDIO_TEST_MARKER", str(marker))
    path = _malicious_model_file(tmp_path, marker)
    assert not marker.exists()

    with pytest.raises(UnsafeModelError, match="evil.keras"):
        library.load_model_file(path)
    with pytest.raises(UnsafeModelError):
        classify.load_classifier(str(path))
    # defence in depth: with the file scan disabled, Keras' safe mode still refuses it
    monkeypatch.setattr(library, "_code_in_config", lambda config: None)
    with pytest.raises(UnsafeModelError):
        library.load_model_file(path)
    assert not marker.exists()

    # the payload is real: an unsafe load (never done by the app) runs it
    keras.saving.load_model(path, safe_mode=False)
    assert marker.read_text() == "pwned"


@pytest.mark.parametrize("recipe", ["lenet5", "cifar-cnn", "transfer"])
def test_models_of_the_train_recipes_classify_and_explain(recipe):
    """The Train tab's models, saved the way the trainer saves them, work here."""
    from cnnstudio.core.training import recipes

    kwargs = {"backbone": "mobilenet_v2", "weights": "random"} if recipe == "transfer" else {}
    size = (32, 32)
    model = recipes.build_model(recipe, num_classes=3, input_size=size, **kwargs)
    channels = int(model.inputs[0].shape[-1])
    entry = library.save_to_library(
        model,
        recipe,
        {
            "recipe": recipe,
            "class_names": ["a", "b", "c"],
            "input_size": list(size),
            "channels": channels,
            "preprocessing": recipes.preprocessing_for(recipe, kwargs.get("backbone")),
        },
    )
    classifier = classify.load_classifier(entry)
    image = images.noise_image(50, 40, seed=0)
    predictions = classifier.classify(image, top_k=3)
    assert sorted(p.label for p in predictions) == ["a", "b", "c"]
    layer = classifier.last_conv_layer()
    if recipe == "transfer":
        assert layer.endswith("/out_relu") and classifier.preprocessing == "mobilenet_v2"
    cam = classifier.gradcam(image)
    assert cam.layer == layer and cam.heatmap.ndim == 2
    assert classifier.feature_maps(image, classifier.conv_layers()[0]).ndim == 3


# ------------------------------------------------------- audit fixes (issue 5)


def test_last_conv_of_a_nested_inception_is_its_block_output():
    """InceptionV3's last convolutions are four parallel towers: the Grad-CAM layer is the
    block that joins them (mixed10), not one tower's activation."""
    from cnnstudio.core.training import recipes

    model = recipes.build_model(
        "transfer", num_classes=3, input_size=(75, 75), backbone="inception_v3", weights="random"
    )
    base = next(layer for layer in model.layers if layers.is_model(layer))
    assert layers.find_last_conv_layer(model) == f"{base.name}/mixed10"


def test_last_conv_moves_past_the_merge_of_conv_branches():
    """No known backbone: two conv branches joined by Concatenate, then a residual Add:
    the heat map comes from the merged block, not from one branch."""
    import keras

    inputs = keras.Input((SIZE, SIZE, 3))
    left = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="left")(inputs)
    right = keras.layers.Conv2D(4, 1, padding="same", name="right")(inputs)
    right = keras.layers.ReLU(name="right_relu")(right)
    joined = keras.layers.Concatenate(name="joined")([left, right])
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(joined)))
    assert layers.find_last_conv_layer(model) == "joined"

    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="c1")(inputs)
    y = keras.layers.Conv2D(4, 3, padding="same", name="c2")(x)
    y = keras.layers.BatchNormalization(name="bn")(y)
    merged = keras.layers.Add(name="residual")([x, y])
    out = keras.layers.Activation("relu", name="block_out")(merged)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(out)))
    assert layers.find_last_conv_layer(model) == "block_out"


def test_gradcam_on_a_dense_layer_says_it_is_no_feature_map(nested_colour_model):
    dense = next(
        layer.name for layer in nested_colour_model.layers if type(layer).__name__ == "Dense"
    )
    x, _, _ = colour_patches(1, seed=1)
    with pytest.raises(InputError, match=rf"layer '{dense}' is not a convolutional feature map"):
        classify.gradcam(nested_colour_model, x[0], layer=dense)
    with pytest.raises(InputError, match=r"choose one of: .*base/top_conv"):
        classify.gradcam(nested_colour_model, x[0], layer=dense)


def test_a_model_without_class_scores_is_not_a_classifier(tmp_path):
    import keras

    inputs = keras.Input((16, 16, 3))
    outputs = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    path = tmp_path / "segmenter.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(InputError, match=r"segmenter\.keras is not a classifier.*16, 16, 4"):
        classify.load_classifier(str(path))


# ------------------------------------------------------- ImageNet weights downloaded first


def test_classify_job_downloads_the_imagenet_weights_first(tmp_path, fake_weights_download):
    from cnnstudio.core.events import DownloadProgress, Notice

    # stands in for the official file: a MobileNetV2 with its top and random weights
    original = backbones.build_backbone_uncached("mobilenet_v2", "random", include_top=True)
    saved = tmp_path / "mobilenet_top.weights.h5"
    original.save_weights(saved)
    payload = saved.read_bytes()
    requested = fake_weights_download(payload)
    picture = save_png(tmp_path / "pic.png", images.noise_image(64, 48, seed=2))
    info = backbones.get_backbone("mobilenet_v2")
    try:
        events = []
        job = classify.classify_job("mobilenet_v2", [picture], top_k=3, weights="imagenet")
        try:
            while True:
                events.append(next(job))
        except StopIteration as stop:
            returned = stop.value
        assert requested == [info.weights_url(True)]  # the file with the classifier top
        kinds = [type(e).__name__ for e in events]
        at = [i for i, kind in enumerate(kinds) if kind == "DownloadProgress"]
        first, last = at[0], at[-1] + 1
        # the download comes after the first "Loading" notice and before the model exists
        assert kinds[0] == "Notice" and first == 1
        assert set(kinds[first:last]) == {"DownloadProgress"}
        assert kinds[last:] == ["Notice", "ClassifierReady", "ClassifyResult", "Progress"]
        downloads = [e for e in events if isinstance(e, DownloadProgress)]
        received = [e.received for e in downloads]
        assert received == sorted(received) and len(downloads) >= 2  # several chunks
        assert downloads[-1].received == downloads[-1].total == len(payload)
        assert downloads[-1].file_name == info.weights_file(True)
        assert isinstance(events[last], Notice)
        # then it goes on: the downloaded weights are the ones that classified
        ready = events[last + 1].classifier
        assert not ready.untrained and ready.model.outputs[0].shape[-1] == 1000
        weights = ready.model.get_weights()
        assert all(
            np.array_equal(a, b) for a, b in zip(weights, original.get_weights(), strict=True)
        )
        assert len(returned) == 1 and returned[0].ok and len(returned[0].predictions) == 3
        cached = paths.keras_cache_dir() / "models" / info.weights_file(True)
        assert cached.read_bytes() == payload
        # here now: a second job downloads nothing
        again = list(classify.weights_download_events("mobilenet_v2", "imagenet"))
        assert again == [] and len(requested) == 1
        # library models and other weight sources never download
        assert list(classify.weights_download_events("mobilenet_v2", "random")) == []
        assert list(classify.weights_download_events(str(tmp_path / "m.keras"))) == []
    finally:
        backbones.clear_model_cache()  # the "imagenet" model must not reach other tests
