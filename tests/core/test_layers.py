"""core/layers.py: layer paths, layer lists and the one layer_outputs_model."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnstudio.core import backbones, layers
from cnnstudio.core.errors import InputError


def _nested_model() -> keras.Model:
    """A transfer-style model: a functional base nested in a Sequential head."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, name="c1")(inputs)
    x = keras.layers.ReLU(name="r1")(x)
    x = keras.layers.Conv2D(6, 3, name="c2")(x)
    base = keras.Model(inputs, x, name="base")
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            base,
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dense(2, name="head"),
        ],
        name="outer",
    )


def test_top_level_layers_take_the_public_route():
    model = backbones.build_backbone("vgg19", "random", input_shape=(32, 32, 3))
    features = layers.layer_outputs_model(model, ["block1_conv1", "block3_conv2"])
    outputs = features(np.zeros((1, 32, 32, 3), np.float32))
    assert [tuple(o.shape) for o in outputs] == [(1, 32, 32, 64), (1, 8, 8, 256)]
    # cached on the model: asking again costs nothing
    assert layers.layer_outputs_model(model, ["block1_conv1", "block3_conv2"]) is features
    with pytest.raises(
        InputError, match="no layer 'block9_conv1' in vgg19; choose one of: .*block1_conv1"
    ):
        layers.layer_outputs_model(model, ["block1_conv1", "block9_conv1"])
    with pytest.raises(InputError, match="no layers chosen"):
        layers.layer_outputs_model(model, [])


def test_nested_layers_stay_connected_to_the_outer_input():
    model = _nested_model()
    features = layers.layer_outputs_model(model, ["base/r1", "base/c2"], include_output=True)
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype(np.float32)
    r1, c2, output = features(x)
    base = model.get_layer("base")
    assert np.allclose(r1, np.maximum(base.get_layer("c1")(x), 0), atol=1e-5)
    assert np.allclose(output, model(x), atol=1e-5)
    assert c2.shape == (1, 28, 28, 6)


def test_private_graph_walk_is_pinned():
    """layer_outputs_model's nested route runs Functional._run_through_graph with an
    operation_fn hook: if a Keras release renames or changes it, this fails first."""
    model = _nested_model()
    base = model.get_layer("base")
    assert callable(getattr(base, "_run_through_graph", None))
    seen: list[str] = []

    def operation_fn(op):
        def call(*args, **kwargs):
            seen.append(op.name)
            return op(*args, **kwargs)

        return call

    x = np.ones((1, 32, 32, 3), np.float32)
    out = base._run_through_graph(x, operation_fn=operation_fn)
    assert seen == ["c1", "r1", "c2"]
    assert np.allclose(out, base(x), atol=1e-5)


def test_paths_lists_and_channels():
    model = _nested_model()
    assert layers.conv_layer_paths(model) == ["base/c1", "base/r1", "base/c2"]
    assert layers.dream_layer_paths(model) == ["base/c1", "base/r1", "base/c2"]
    assert layers.layer_channels(model, "base/c2") == 6
    assert layers.find_last_conv_layer(model) == "base/c2"
    assert layers.layer_at(model, "base/r1").name == "r1"
    with pytest.raises(InputError, match="no layer 'nope' in base; choose one of: c1, r1, c2"):
        layers.layer_at(model, "base/nope")
    with pytest.raises(InputError, match="has no sub-layers"):
        layers.layer_at(model, "head/x")
    with pytest.raises(InputError, match="empty layer name"):
        layers.layer_at(model, "")
