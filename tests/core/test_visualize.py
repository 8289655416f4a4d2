"""Feature visualisation (core/visualize): parameterisation, transforms, objectives, the
compiled step, and the key check: each channel's image excites its own channel most."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from visualize_models import CHANNELS, designed

from cnnstudio.core.events import Notice, Preview, Progress
from cnnstudio.core.visualize import network, objectives, parameterization, transforms
from cnnstudio.core.visualize.grid import ChannelsDone
from cnnstudio.core.visualize.job import visualize
from cnnstudio.core.visualize.params import VisualizeParams
from cnnstudio.core.visualize.step import compiled_step, step_traces

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


def tiles_of(result) -> np.ndarray:
    """The grid's tiles, cut out by the records' boxes: (channels, h, w, 3) uint8."""
    return np.stack([result.grid[y : y + h, x : x + w] for x, y, w, h in (r.box for r in result.records)])  # fmt: skip


# ------------------------------------------------------------------------ parameterisation


@pytest.mark.parametrize(("height", "width"), [(32, 32), (28, 37)])
def test_fourier_image_has_the_shape_and_range_asked_for(height, width):
    rng = np.random.default_rng(0)
    params = parameterization.init_params(3, height, width, True, rng)
    assert params.shape == (3, 2, 3, height, width // 2 + 1)
    scale = parameterization.spectrum_scale(height, width)
    rgb = parameterization.to_rgb(params * 300, [height, width], scale, True, True).numpy()
    assert rgb.shape == (3, height, width, 3)
    assert rgb.min() >= 0.0 and rgb.max() <= 1.0 and rgb.std() > 0.01
    # the start is grey with a trace of noise
    start = parameterization.to_rgb(params, [height, width], scale, True, True).numpy()
    assert abs(start.mean() - 0.5) < 0.02


def test_spectrum_scale_is_one_over_frequency():
    scale = parameterization.spectrum_scale(16, 16)
    # frequency 1/16 (one cycle) against 4/16: four times the scale; DC capped at 1/side
    assert scale[0, 1] == pytest.approx(4 * scale[0, 4])
    assert scale[0, 0] == pytest.approx(scale[0, 1])
    assert scale[0, 1] == pytest.approx(16 * 16)  # sqrt(h * w) / (1 / 16)


def test_decorrelation_round_trip():
    x = np.random.default_rng(1).normal(size=(5, 4, 3)).astype(np.float32)
    mixed = parameterization.decorrelate_colors(tf.constant(x)).numpy()
    assert not np.allclose(mixed, x)
    np.testing.assert_allclose(parameterization.correlate_colors(mixed), x, atol=1e-5)
    # the matrix is Lucid's, normalised to a largest column norm of 1
    assert np.linalg.norm(parameterization.COLOR_MATRIX, axis=0).max() == pytest.approx(1.0)


@pytest.mark.parametrize(("fourier", "decorrelate"), [(True, True), (True, False), (False, True)])
def test_params_from_rgb_inverts_to_rgb(fourier, decorrelate):
    rgb = np.random.default_rng(2).uniform(0.05, 0.95, (2, 20, 25, 3)).astype(np.float32)
    params = parameterization.params_from_rgb(rgb, fourier, decorrelate)
    scale = parameterization.spectrum_scale(20, 25)
    back = parameterization.to_rgb(params, [20, 25], scale, fourier, decorrelate).numpy()
    np.testing.assert_allclose(back, rgb, atol=2e-4)


# ------------------------------------------------------------------------------ transforms


def test_identity_transform_keeps_the_image_and_a_shift_moves_it():
    image = np.random.default_rng(3).uniform(size=(1, 24, 24, 3)).astype(np.float32)
    size = [24, 24]
    same = transforms.apply_transforms(image, transforms.identity_transforms(1), size).numpy()
    np.testing.assert_allclose(same, image, atol=1e-5)
    shift = transforms.identity_transforms(1)
    shift[0, :2] = (3, -2)  # 3 px right, 2 px up
    moved = transforms.apply_transforms(image, shift, size).numpy()
    np.testing.assert_allclose(moved[0, 0:20, 3:24], image[0, 2:22, 0:21], atol=1e-5)
    assert np.allclose(moved[0, :, :3], transforms.FILL_VALUE)  # grey where it moved away


def test_random_transforms_stay_in_their_ranges_and_are_differentiable():
    rng = np.random.default_rng(4)
    values = transforms.random_transforms(rng, 500, 16, 0.1, 5.0)
    assert np.abs(values[:, :2]).max() == 16 and np.all(values[:, :2] == np.round(values[:, :2]))
    assert 0.9 <= values[:, 2].min() and values[:, 2].max() <= 1.1
    assert np.degrees(np.abs(values[:, 3])).max() <= 5.0
    assert transforms.effective_jitter(16, 128, 128) == 16
    assert transforms.effective_jitter(16, 28, 28) == 3
    image = tf.Variable(np.full((2, 16, 16, 3), 0.3, np.float32))
    with tf.GradientTape() as tape:
        out = transforms.apply_transforms(image, values[:2], [16, 16])
        total = tf.reduce_sum(out)
    gradient = tape.gradient(total, image)
    assert gradient is not None and float(tf.reduce_sum(gradient)) > 0


# ------------------------------------------------------------------------------ objectives


def test_channel_neuron_and_class_objectives_read_each_images_own_channel():
    acts = np.zeros((2, 5, 5, 4), np.float32)
    acts[0, :, :, 1] = 2.0
    acts[0, 2, 2, 1] = 7.0  # the centre
    acts[1, :, :, 3] = 1.0
    channels = tf.constant([1, 3])
    channel = objectives.channel_objective(acts, channels).numpy()
    np.testing.assert_allclose(channel, [(2.0 * 24 + 7.0) / 25, 1.0])
    np.testing.assert_allclose(objectives.neuron_objective(acts, channels).numpy(), [7.0, 1.0])
    scores = np.array([[0.1, 5.0, -1.0], [3.0, 0.0, 2.0]], np.float32)
    classes = objectives.class_objective(scores, tf.constant([1, 2])).numpy()
    np.testing.assert_allclose(classes, [5.0, 2.0])


def test_diversity_is_high_for_alike_images_and_low_for_different_ones():
    rng = np.random.default_rng(5)
    one = rng.uniform(size=(1, 6, 6, 4)).astype(np.float32)
    alike = np.concatenate([one, one * 2.0, one, one])  # two channels, two images each
    value = objectives.diversity(alike, 2).numpy()
    np.testing.assert_allclose(value, [1.0, 1.0], rtol=1e-5)  # cosine 1, (2 pairs) / 2
    apart = np.zeros((2, 6, 6, 4), np.float32)
    apart[0, ..., 0] = 1.0
    apart[1, ..., 3] = 1.0
    assert objectives.diversity(apart, 2).numpy()[0] == pytest.approx(0.0, abs=1e-6)


# ------------------------------------------------------------------------ the key check


def test_each_channels_image_excites_its_own_channel_most(net):
    """Diagonal dominance: image i is made for channel i; in every channel's column of
    the activation matrix, its own image's value is clearly the largest."""
    params = SMALL.replace(channels=tuple(range(len(CHANNELS))), steps=128, batch=8)
    _, result = run(visualize(params, net=net))
    tiles = tiles_of(result).astype(np.float32)
    detect = network.features_function(net, "detect", "channel")
    matrix = np.asarray(detect(tiles)[0]).mean(axis=(1, 2))  # (image, channel)
    own = np.diag(matrix)
    others = np.where(np.eye(len(CHANNELS), dtype=bool), -np.inf, matrix).max(axis=0)
    assert np.all(own > 1.3 * others), (own, others)
    # the records report the same values (measured without the random transforms, on
    # the unrounded images)
    reported = np.array([r.objective for r in result.records])
    np.testing.assert_allclose(reported, own, rtol=0.05, atol=0.01)
    red = tiles[0].mean(axis=(0, 1))
    assert red[0] > red[1] + 30 and red[0] > red[2] + 30  # the red channel's image is red


def test_objective_rises_and_events_describe_the_run(net):
    params = SMALL.replace(channels=(0, 2, 5), steps=6, batch=2)
    events, result = run(visualize(params, net=net, preview_interval=0.0))
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.step for p in progress] == list(range(1, 13)) and progress[-1].total == 12
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    # batch 2 holds two channels, batch 1 one: the first batch is two thirds of the work
    assert progress[5].fraction == pytest.approx(2 / 3)
    assert [p.stage for p in progress[5:7]] == [1, 2] and progress[0].stages == 2
    assert progress[5].loss > progress[0].loss
    previews = [e for e in events if isinstance(e, Preview)]
    assert previews and all(p.image.shape == result.grid.shape for p in previews)
    done = [e for e in events if isinstance(e, ChannelsDone)]
    assert [[r.channel for r in e.records] for e in done] == [[0, 2], [5]]
    assert any(isinstance(e, Notice) for e in events)
    assert [r.channel for r in result.records] == [0, 2, 5]
    assert result.tile_size == (32, 32) and result.layer == "detect"
    x, y, w, h = result.records[1].box
    assert (w, h) == (32, 32) and not np.all(result.grid[y : y + h, x : x + w] == 32)


def test_same_seed_same_grid_other_seed_other_grid(net):
    params = SMALL.replace(channels=(1,), steps=3)
    first = run(visualize(params, net=net))[1].grid
    again = run(visualize(params, net=net))[1].grid
    other = run(visualize(params.replace(seed=9), net=net))[1].grid
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_one_trace_serves_every_channel_batch_size_tile_size_and_value():
    net = network.network_from_model(designed("retrace"), "retrace")
    before = step_traces()
    params = SMALL.replace(channels=(0, 1, 2), batch=2, steps=2)
    run(visualize(params, net=net))  # batches of 2 and 1
    run(visualize(params.replace(channels=(5,), size=40, learning_rate=0.1, seed=3), net=net))
    run(visualize(params.replace(images_per_channel=2, diversity=50.0, jitter=0), net=net))
    assert step_traces() - before == 1
    step = compiled_step(net, "detect", "channel", True, True)
    assert step.traces == 1 and step.evaluate_traces == 1
    # another layer is another compiled step
    run(visualize(params.replace(layer="mix"), net=net))
    assert step_traces() - before == 2


def test_diversity_makes_a_channels_images_differ(net):
    params = SMALL.replace(channels=(3,), images_per_channel=2, steps=40, seed=2)
    plain = run(visualize(params, net=net))[1]
    diverse = run(visualize(params.replace(diversity=1000.0), net=net))[1]
    for result in (plain, diverse):
        record = result.records[0]
        assert len(record.objectives) == 2 and len(record.image_boxes) == 2
        assert record.to_dict()["images"][1]["box"] == list(record.image_boxes[1])

    def gap(result) -> float:
        (x0, y0, w, h), (x1, y1, _, _) = result.records[0].image_boxes
        first = result.grid[y0 : y0 + h, x0 : x0 + w].astype(float)
        second = result.grid[y1 : y1 + h, x1 : x1 + w].astype(float)
        return float(np.abs(first - second).mean())

    assert gap(diverse) > gap(plain)
