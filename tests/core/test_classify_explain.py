"""Where a model looked and what it saw: Grad-CAM and HiResCAM (plain and nested models),
overlays, feature maps, the layer a heat map comes from."""

from __future__ import annotations

import numpy as np
import pytest
from classify_data import (
    PATCH,
    SIZE,
    colour_model,
    colour_patches,
    quadrant_patches,
    train,
)

from cnnstudio.core import backbones, images, layers, library
from cnnstudio.core.classify import explain
from cnnstudio.core.classify.classifier import load_classifier
from cnnstudio.core.errors import InputError


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
        cam = explain.gradcam(model, x[i], class_index=int(y[i]))
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
        heat = explain.gradcam(model, x_test[i], int(y_test[i]), method="hirescam").heatmap
        half = heat.shape[0] // 2
        quadrants = [heat[:half, :half], heat[:half, half:], heat[half:, :half], heat[half:, half:]]
        assert int(np.argmax([q.max() for q in quadrants])) == y_test[i], f"image {i}"
    with pytest.raises(InputError, match="heat-map method"):
        explain.gradcam(model, x_test[0], method="magic")


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
    cam = explain.gradcam(model, x, class_index=2)
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
    assert np.allclose(explain.gradcam(sequential, x, 2).heatmap, cam.heatmap, atol=1e-4)

    # an inner layer can be chosen; it has that layer's resolution
    inner = explain.gradcam(model, x, class_index=2, layer=f"{base.name}/block_6_expand_relu")
    assert inner.heatmap.shape == (12, 12)
    with pytest.raises(InputError, match="no layer 'nope'"):
        explain.gradcam(model, x, layer=f"{base.name}/nope")

    # the same nested model after a round trip through the library
    entry = library.save_to_library(
        model,
        "mobile",
        {"class_names": ["a", "b", "c"], "input_size": [96, 96], "preprocessing": "mobilenet_v2"},
    )
    classifier = load_classifier(entry)
    image = images.noise_image(96, 96, seed=4)
    reloaded = classifier.gradcam(image, class_index=1)
    original = explain.gradcam(model, classifier.prepare(image), class_index=1)
    assert reloaded.layer == layer
    assert np.allclose(reloaded.heatmap, original.heatmap, atol=1e-4)
    overlay = reloaded.overlay(image)
    assert overlay.shape == image.shape and overlay.dtype == np.uint8


def test_heatmap_overlay_colours_hot_regions():
    image = np.full((40, 60, 3), 128, np.uint8)
    heat = np.zeros((4, 6), np.float32)
    heat[0, 0] = 1.0
    overlay = explain.heatmap_overlay(image, heat, alpha=0.6)
    assert overlay.shape == (40, 60, 3)
    hot, cold = overlay[2, 2].astype(int), overlay[-2, -2].astype(int)
    assert hot[0] > hot[2] + 40  # red where it is hot
    assert cold[2] > cold[0]  # bluish where it is cold


def test_feature_maps_and_channel_grid(nested_colour_model):
    x, _, _ = colour_patches(1, seed=3)
    maps = explain.feature_maps(nested_colour_model, x[0], "base/top_conv")
    assert maps.shape == (16, 16, 16) and maps.dtype == np.float32
    # Keras numbers auto-named layers per process ("rescaling_1" after another test's model),
    # so find the rescaling layer by type rather than by name
    rescaling = next(
        layer.name for layer in nested_colour_model.layers if type(layer).__name__ == "Rescaling"
    )
    first = explain.feature_maps(nested_colour_model, x[0], rescaling)
    assert np.allclose(first, x[0] / 255.0, atol=1e-6)

    maps = np.zeros((4, 4, 5), np.float32)
    maps[..., 1] = np.arange(16, dtype=np.float32).reshape(4, 4)  # a ramp
    grid = explain.tile_channels(maps, pad=1)  # 5 channels: 3 columns x 2 rows
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 3) and grid.dtype == np.uint8
    assert (grid[1:5, 1:5] == 0).all()  # channel 0 is dead: black
    ramp = grid[1:5, 6:10, 0]
    assert ramp[0, 0] == 0 and ramp[-1, -1] == 255
    assert explain.tile_channels(maps, max_channels=2, cell=16).shape[:2] == (18, 35)


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
        explain.gradcam(nested_colour_model, x[0], layer=dense)
    with pytest.raises(InputError, match=r"choose one of: .*base/top_conv"):
        explain.gradcam(nested_colour_model, x[0], layer=dense)
