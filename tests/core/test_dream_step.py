"""The compiled, tiled dream step against the plain recipe (recipe.py), and its traces."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from dreams import SMALL, make_photo, run

from cnnstudio.core import backbones, layers
from cnnstudio.core.dream import recipe, tiled_step
from cnnstudio.core.dream.job import dream
from cnnstudio.core.dream.params import octave_sizes


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return make_photo()


@pytest.fixture(scope="module")
def inception():
    return backbones.build_backbone("inception_v3", "random", include_top=False)


def test_step_is_traced_once_across_octaves_sizes_and_values(photo):
    # a layer set no other test uses: its compiled step is new here
    params = SMALL.replace(layers={"mixed2": 1.0, "mixed4": 0.5}, octaves=2)
    before = tiled_step.step_traces()
    run(dream(photo, params))  # two octaves of different sizes, tiles of 80
    run(dream(photo[:100, :130], params.replace(step_size=0.03, tile_size=96, jitter=10)))
    run(dream(photo, params.replace(layers={"mixed2": 2.0, "mixed4": 0.0}, tv_weight=0.3)))
    assert tiled_step.step_traces() - before == 1


def test_changing_the_channel_index_does_not_retrace(photo):
    # channel mode on a layer no other test uses: its compiled step is new here
    params = SMALL.replace(channel=("mixed1", 3), octaves=1, steps=1, jitter=0)
    before = tiled_step.step_traces()
    first = run(dream(photo, params))[1]
    other = run(dream(photo, params.replace(channel=("mixed1", 57))))[1]
    assert tiled_step.step_traces() - before == 1
    assert not np.array_equal(first, other)  # the index still reaches the step


def test_tiled_step_equals_the_recipe_written_out_tile_by_tile(photo, inception):
    """The compiled step (tiles looped in Python, a rolled image, stitched gradients,
    normalisation, update, clip) against the TF2 recipe's arithmetic done eagerly per tile;
    a second image size reuses both compiled functions."""
    names = ["mixed1", "mixed3"]  # a layer set no other test uses
    stepper = tiled_step.get_tiled_step(inception, names, "mean", False, None, False, 75)
    features = layers.layer_outputs_model(inception, names)
    weights = tf.constant([1.0, 0.5])
    low, high = tf.constant([-1.0] * 3), tf.constant([1.0] * 3)
    image = tf.constant(backbones.preprocess("inception_v3", photo.astype(np.float32)))
    shift = tf.constant([17, -41], tf.int32)

    def written_out(image, tile):
        rolled = tf.roll(image, shift, axis=[0, 1])
        h, w = image.shape[0], image.shape[1]
        rows_n = max(min(-(-h // tile), h // 75), 1)
        cols_n = max(min(-(-w // tile), w // 75), 1)
        rows = []
        for r in range(rows_n):
            y0, y1 = r * h // rows_n, (r + 1) * h // rows_n
            cols = []
            for c in range(cols_n):
                x0, x1 = c * w // cols_n, (c + 1) * w // cols_n
                part = rolled[y0:y1, x0:x1]
                with tf.GradientTape() as tape:
                    tape.watch(part)
                    acts = features(part[None], training=False)
                    loss = tf.reduce_sum(tf.stack([tf.reduce_mean(a) for a in acts]) * weights)
                    loss *= (y1 - y0) * (x1 - x0) / (h * w)
                cols.append(tape.gradient(loss, part))
            rows.append(tf.concat(cols, axis=1))
        g = tf.roll(tf.concat(rows, axis=0), -shift, axis=[0, 1])
        return tf.clip_by_value(image + 0.01 * g / (tf.math.reduce_std(g) + 1e-8), -1.0, 1.0)

    for size, tile in (((120, 160), 80), ((100, 150), 512)):  # 1x2 tiles, then one tile
        part = image[: size[0], : size[1]]
        got, terms = stepper.step(
            part,
            tf.constant(0.01),
            tf.constant(tile),
            shift,
            tf.constant(0.0),
            weights,
            low,
            high,
            tf.constant(0),
        )
        want = written_out(part, tile).numpy()
        assert got.shape == part.shape and terms.shape == (2,)
        assert np.abs(got.numpy() - part.numpy()).max() > 1e-3  # the step moved the image
        np.testing.assert_allclose(got.numpy(), want, atol=2e-5)
    assert stepper.traces == 1 and stepper.finish_traces == 1


@pytest.mark.parametrize(
    ("objective", "one_channel"), [("mean", False), ("l2", False), ("l2", True)], ids=str
)
def test_one_tile_without_roll_is_the_plain_gradient_ascent_step(
    photo, inception, objective, one_channel
):
    """With one tile and no roll the compiled step is recipe.gradient_ascent_step: the same
    loss terms (both objectives, whole layers or one channel) and the same update."""
    names = ["mixed2"]
    stepper = tiled_step.get_tiled_step(inception, names, objective, one_channel, None, False, 75)
    features = layers.layer_outputs_model(inception, names)
    weights = tf.constant([2.0])
    low, high = tf.constant([-1.0] * 3), tf.constant([1.0] * 3)
    image = tf.constant(backbones.preprocess("inception_v3", photo.astype(np.float32)))
    # the most active channel: with random weights some channels are dead (nothing to climb)
    channel = int(np.argmax(np.asarray(features(image[None])).mean(axis=(0, 1, 2))))
    index = tf.constant(channel if one_channel else 0, tf.int32)
    got, got_terms = stepper.step(
        image, tf.constant(0.02), tf.constant(512), tf.zeros([2], tf.int32),
        tf.constant(0.0), weights, low, high, index,
    )  # fmt: skip
    want, want_terms = recipe.gradient_ascent_step(
        features, image, tf.constant(0.02), weights, low, high,
        objective=objective, channel=index if one_channel else None,
    )  # fmt: skip
    np.testing.assert_allclose(got_terms.numpy(), want_terms.numpy(), rtol=1e-5)
    assert np.abs(got.numpy() - image.numpy()).max() > 1e-3
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=2e-5)


def test_the_job_is_the_plain_octave_loop_with_a_compiled_step(photo, inception):
    """The whole job (one tile, no roll) against recipe.deep_dream: same octaves, same
    detail re-injection, same steps, the same picture but for float rounding. One step per
    octave: the compiled and the eager kernels sum in other orders, and which oneDNN
    kernels a process gets varies, so every further normalised step amplifies that
    rounding (two steps per octave measured 0.03-0.14 levels of mean difference, depending
    on the process)."""
    params = SMALL.replace(steps=1, octaves=3, octave_scale=1.4, tile_size=512, jitter=0)
    result = run(dream(photo, params))[1]

    features = layers.layer_outputs_model(inception, ["mixed3", "mixed5"])
    original = tf.constant(backbones.preprocess("inception_v3", photo.astype(np.float32)))
    low, high = tf.constant([-1.0] * 3), tf.constant([1.0] * 3)
    sizes = octave_sizes(120, 160, params, min_size=75)
    dreamed = recipe.deep_dream(
        features, original, sizes, 1, 0.01, tf.constant([1.0, 1.0]), low, high
    )
    pixels = backbones.deprocess("inception_v3", recipe.resize(dreamed, (120, 160)))
    want = np.clip(np.round(np.asarray(pixels)), 0, 255).astype(np.uint8)
    assert np.abs(want.astype(int) - photo.astype(int)).mean() > 0.5  # it dreamed
    difference = np.abs(result.astype(int) - want.astype(int))
    assert difference.mean() < 0.1 and (difference > 1).mean() < 0.005
