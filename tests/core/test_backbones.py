"""Backbones: the registry, pre/deprocessing, building with random weights, the cache.

Random weights and small inputs only; nothing here touches the network. Weight sources,
files and imports: test_weights.py.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cnnstudio.core import backbones
from cnnstudio.core.errors import InputError

SMALL_SHAPES = {"inception_v3": (75, 75, 3), "vgg19": (32, 32, 3), "mobilenet_v2": (32, 32, 3)}


@pytest.fixture(autouse=True)
def fresh_cache():
    backbones.clear_model_cache()
    yield
    backbones.clear_model_cache()


# ------------------------------------------------------------------------------ info, names


def test_get_backbone_and_unknown_name():
    assert backbones.get_backbone("InceptionV3").name == "inception_v3"
    info = backbones.get_backbone("vgg19")
    assert (info.min_size, info.default_size, info.last_conv_layer) == (32, 224, "block5_conv4")
    assert info.weights_file(False) == "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert info.weights_size(True) == 574_710_816
    assert info.weights_url(False).endswith("/vgg19/" + info.weights_file(False))
    with pytest.raises(InputError, match="resnet.*inception_v3, vgg19, mobilenet_v2"):
        backbones.get_backbone("resnet")


@pytest.mark.parametrize("name", backbones.BACKBONE_NAMES)
def test_named_layers_exist_in_the_model(name):
    info = backbones.get_backbone(name)
    model = backbones.build_backbone(name, "random", input_shape=SMALL_SHAPES[name])
    layer_names = {layer.name for layer in model.layers}
    assert set(info.dream_layers) <= layer_names
    assert set(info.conv_layers) <= layer_names
    assert info.last_conv_layer in layer_names
    # Grad-CAM's layer is at the end of the base (VGG19 only adds its last pool after it)
    assert info.last_conv_layer in [layer.name for layer in model.layers[-2:]]
    # conv_layers are in network order
    order = [layer.name for layer in model.layers]
    assert [order.index(n) for n in info.conv_layers] == sorted(
        order.index(n) for n in info.conv_layers
    )


def test_too_small_input_refused():
    with pytest.raises(InputError, match="at least 75 pixels"):
        backbones.build_backbone("inception_v3", "random", input_shape=(64, 64, 3))


# ---------------------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("name", backbones.BACKBONE_NAMES)
def test_preprocess_round_trip_numpy_and_tensor(name):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(2, 9, 7, 3)).astype(np.uint8)

    pre = backbones.preprocess(name, image)
    assert isinstance(pre, np.ndarray) and pre.dtype == np.float32
    back = backbones.deprocess(name, pre)
    assert isinstance(back, np.ndarray) and back.dtype == np.float32
    np.testing.assert_allclose(back, image.astype(np.float32), atol=1e-3)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def round_trip(x):
        p = backbones.preprocess(name, x)
        return p, backbones.deprocess(name, p)

    pre_t, back_t = round_trip(tf.constant(image, tf.float32))
    assert isinstance(pre_t, tf.Tensor) and pre_t.dtype == tf.float32
    np.testing.assert_allclose(pre_t.numpy(), pre, atol=1e-4)
    np.testing.assert_allclose(back_t.numpy(), image.astype(np.float32), atol=1e-3)


def test_preprocess_values():
    pixel = np.array([[[255.0, 0.0, 127.5]]], np.float32)
    np.testing.assert_allclose(backbones.preprocess("inception_v3", pixel), [[[1.0, -1.0, 0.0]]])
    np.testing.assert_allclose(backbones.preprocess("mobilenet_v2", pixel), [[[1.0, -1.0, 0.0]]])
    # caffe: RGB -> BGR, minus the BGR ImageNet mean
    np.testing.assert_allclose(
        backbones.preprocess("vgg19", pixel),
        [[[127.5 - 103.939, 0.0 - 116.779, 255.0 - 123.68]]],
        rtol=1e-6,
    )
    # deprocess does not clip
    assert backbones.deprocess("inception_v3", np.array([1.5], np.float32))[0] > 255


# ------------------------------------------------------------------------ random and cache


def test_random_weights_cached_and_shared_between_threads(monkeypatch):
    builds = []
    real_build = backbones.build_architecture

    def counting_build(*args, **kwargs):
        builds.append(args)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(backbones, "build_architecture", counting_build)
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                backbones.build_backbone("vgg19", "random", input_shape=(32, 32, 3))
            )
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert len(results) == 3 and all(model is results[0] for model in results)
    other = backbones.build_backbone("vgg19", "random", input_shape=(48, 48, 3))
    assert other is not results[0] and len(builds) == 2


def test_cache_key_follows_the_dtype_policy():
    import keras

    full = backbones.build_backbone("mobilenet_v2", "random", input_shape=(32, 32, 3))
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        mixed = backbones.build_backbone("mobilenet_v2", "random", input_shape=(32, 32, 3))
        assert mixed is not full
        assert mixed.layers[-1].compute_dtype == "float16"
        again = backbones.build_backbone("mobilenet_v2", "random", input_shape=(32, 32, 3))
        assert again is mixed
    finally:
        keras.config.set_dtype_policy(previous)
    assert backbones.build_backbone("mobilenet_v2", "random", input_shape=(32, 32, 3)) is full


# ------------------------------------------------------------------------ untrained networks


def _digest(model) -> str:
    import hashlib

    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


_BUILD_IN_A_PROCESS = """
import hashlib, sys
import keras
keras.utils.set_random_seed(int(sys.argv[1]))  # whatever else the process seeded
from cnnstudio.core import backbones
model = backbones.build_backbone("vgg19", "random", input_shape=(32, 32, 3))
digest = hashlib.sha256()
for array in model.get_weights():
    digest.update(array.tobytes())
print(digest.hexdigest())
"""


def test_an_untrained_network_is_the_same_network_in_every_process():
    """A job resumed after a kill, and a run with the same --seed, meet the network they
    started with: two processes with different random states build the same VGG19."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    digests = [
        subprocess.run(
            [sys.executable, "-c", _BUILD_IN_A_PROCESS, str(seed)],
            capture_output=True, text=True, check=True, env=env, cwd=root, timeout=300,
        ).stdout.split()[-1]
        for seed in (1, 2)
    ]  # fmt: skip
    assert digests[0] == digests[1]
    assert digests[0] == _digest(
        backbones.build_backbone("vgg19", "random", input_shape=(32, 32, 3))
    )


def test_untrained_builds_follow_their_seed_and_leave_everyones_random_state_alone():
    """Pins what :func:`backbones.seeded_initializers` relies on: Keras draws the seeds of
    unseeded initializers from Python's ``random`` when the layers are made."""
    import random

    import keras

    shape = SMALL_SHAPES["mobilenet_v2"]

    def draws():
        return random.random(), np.random.random(), keras.random.uniform((2,)).numpy().tolist()

    keras.utils.set_random_seed(7)
    expected = draws()
    keras.utils.set_random_seed(7)
    first = backbones.build_backbone_uncached("mobilenet_v2", "random", input_shape=shape)
    assert draws() == expected  # a --seed run's draws are what they would have been
    again = backbones.build_backbone_uncached("mobilenet_v2", "random", input_shape=shape)
    assert _digest(first) == _digest(again)
    other = backbones.build_backbone_uncached("mobilenet_v2", "random", input_shape=shape, seed=1)
    assert _digest(other) != _digest(first)
    # the cache keeps the networks of two seeds apart
    cached = backbones.build_backbone("mobilenet_v2", "random", input_shape=shape, seed=1)
    assert cached is not backbones.build_backbone("mobilenet_v2", "random", input_shape=shape)
    assert _digest(cached) == _digest(other)
