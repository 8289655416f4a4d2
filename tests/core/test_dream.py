"""DeepDream core: real InceptionV3 with random weights (built through the "random" weights
path), small images, few steps, tiles smaller than the image so tiling and the roll run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnstudio.core import dream as dream_mod
from cnnstudio.core import layers
from cnnstudio.core.dream import (
    DreamParams,
    dream,
    dream_metadata,
    octave_sizes,
    params_from_metadata,
    preset_params,
    step_traces,
    validate_params,
)
from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Notice, Preview, Progress

# 2 octaves, 2 steps, tiles of 80 px on ~100-160 px images: several tiles per step
SMALL = DreamParams(weights="random", steps=2, octaves=2, tile_size=80, jitter=40, seed=7)


def run(gen):
    """All events of a dream and its result."""
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A smooth picture with some texture (120 x 160)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:120, 0:160]
    base = np.stack([x * 1.5, y * 2.0, (x + y) * 0.8], axis=-1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def total_variation(image: np.ndarray) -> float:
    pixels = image.astype(np.float64)
    return float(np.abs(np.diff(pixels, axis=0)).mean() + np.abs(np.diff(pixels, axis=1)).mean())


def test_dream_changes_the_image_and_reports_every_step(photo):
    events, result = run(dream(photo, SMALL))
    assert result.dtype == np.uint8 and result.shape == photo.shape
    assert np.abs(result.astype(int) - photo.astype(int)).mean() > 0.5
    progress = of(events, Progress)
    assert [p.step for p in progress] == [1, 2, 3, 4]
    assert {p.total for p in progress} == {4}
    assert [p.stage for p in progress] == [1, 1, 2, 2]
    assert all(set(p.terms) == {"mixed3", "mixed5"} for p in progress)
    assert all(np.isfinite(p.loss) for p in progress)
    notices = [n.text for n in of(events, Notice)]
    assert notices[0].startswith("octave 1/2") and notices[1].startswith("octave 2/2")


def test_loss_rises_over_steps(photo):
    params = SMALL.replace(steps=4, octaves=1, jitter=0)
    losses = [p.loss for p in of(run(dream(photo, params))[0], Progress)]
    assert losses[-1] > losses[0] * 1.02
    assert sum(b > a for a, b in zip(losses[:-1], losses[1:], strict=True)) >= 2


def test_same_seed_same_result_other_seed_other_result(photo):
    first = run(dream(photo, SMALL))[1]
    again = run(dream(photo, SMALL))[1]
    other = run(dream(photo, SMALL.replace(seed=8)))[1]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_step_is_traced_once_across_octaves_sizes_and_values(photo):
    # a layer set no other test uses: its compiled step is new here
    params = SMALL.replace(layers={"mixed2": 1.0, "mixed4": 0.5}, octaves=2)
    before = step_traces()
    run(dream(photo, params))  # two octaves of different sizes, tiles of 80
    run(dream(photo[:100, :130], params.replace(step_size=0.03, tile_size=96, jitter=10)))
    run(dream(photo, params.replace(layers={"mixed2": 2.0, "mixed4": 0.0}, tv_weight=0.3)))
    assert step_traces() - before == 1


def test_output_has_the_input_size_after_max_size():
    image = np.full((200, 300, 3), 128, np.uint8)
    params = SMALL.replace(max_size=150, steps=1)
    events, result = run(dream(image, params))
    assert result.shape == (100, 150, 3)
    assert all(p.image.shape == (100, 150, 3) for p in of(events, Preview))


def test_smallest_octave_is_not_below_the_network_minimum(photo):
    params = SMALL.replace(octaves=5, steps=1)
    sizes = octave_sizes(120, 160, params, min_size=75)
    assert min(min(s) for s in sizes) == 75
    events, result = run(dream(photo, params))
    assert result.shape == photo.shape
    assert len(of(events, Progress)) == 5


def livest_channel(photo: np.ndarray, layer: str) -> int:
    """The channel of ``layer`` most active on ``photo``: with random weights some
    channels are dead (ReLU always 0) and have nothing to climb."""
    from cnnstudio.core import backbones

    model = backbones.build_backbone("inception_v3", "random", include_top=False)
    features = layers.layer_outputs_model(model, [layer])
    activation = features(backbones.preprocess("inception_v3", photo[None]), training=False)
    return int(np.argmax(np.asarray(activation).mean(axis=(0, 1, 2))))


def test_single_channel_mode(photo):
    channel = livest_channel(photo, "mixed4")
    params = SMALL.replace(channel=("mixed4", channel), octaves=1, steps=3, jitter=0)
    events, result = run(dream(photo, params))
    progress = of(events, Progress)
    assert all(list(p.terms) == ["mixed4"] for p in progress)
    assert progress[-1].loss > progress[0].loss
    assert not np.array_equal(result, photo)


def test_channel_out_of_range_says_how_many_channels(photo):
    with pytest.raises(InputError, match=r"channel 5000 .*mixed4.*768 channels"):
        run(dream(photo, SMALL.replace(channel=("mixed4", 5000))))


def test_unknown_layer_lists_the_valid_ones(photo):
    with pytest.raises(InputError, match=r"'mixed99'.*mixed0, mixed1"):
        run(dream(photo, SMALL.replace(layers={"mixed99": 1.0})))


def test_l2_objective_runs_and_rises(photo):
    params = SMALL.replace(objective="l2", octaves=1, steps=3, jitter=0)
    events, result = run(dream(photo, params))
    losses = [p.loss for p in of(events, Progress)]
    assert all(np.isfinite(losses)) and losses[-1] > losses[0] > 0
    assert not np.array_equal(result, photo)


def test_start_from_noise():
    events, result = run(dream(None, SMALL, noise_size=(96, 80)))
    assert result.shape == (80, 96, 3)
    assert len(of(events, Progress)) == 4


def test_max_loss_stops_each_octave_early(photo):
    params = SMALL.replace(steps=3, max_loss=-1.0)  # any loss exceeds it
    events, _ = run(dream(photo, params))
    assert [p.step for p in of(events, Progress)] == [1, 4]
    early = [n.text for n in of(events, Notice) if "early" in n.text]
    assert len(early) == 2 and "exceeds the maximum -1" in early[0]


def test_closing_the_generator_stops_it(photo):
    gen = dream(photo, SMALL.replace(steps=5))
    seen = 0
    for event in gen:
        seen += isinstance(event, Progress)
        if seen == 2:
            break
    gen.close()
    assert gen.gi_frame is None  # finished: no further step can run
    with pytest.raises(StopIteration):
        next(gen)


def test_previews_are_throttled_at_the_source(photo):
    params = SMALL.replace(steps=3)
    slow, _ = run(dream(photo, params, preview_interval=3600.0))
    # only the end of each octave
    assert [p.step for p in of(slow, Preview)] == [3, 6]
    assert len(of(slow, Progress)) == 6
    every, _ = run(dream(photo, params, preview_interval=0.0))
    assert len(of(every, Preview)) == 6


def test_total_variation_smooths(photo):
    params = SMALL.replace(octaves=1, steps=3, step_size=0.05)
    plain = run(dream(photo, params))[1]
    smooth = run(dream(photo, params.replace(tv_weight=3.0)))[1]
    assert total_variation(smooth) < total_variation(plain)


def test_custom_model_with_fixed_grayscale_input():
    import keras

    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    # linear: a random ReLU layer can be dead everywhere and leave nothing to climb
    x = keras.layers.Conv2D(6, 3, name="c2")(x)
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs, name="tiny")
    assert dream_mod.dreamable_layers(model) == ["c1", "pool", "c2"]
    params = DreamParams(layers={"c2": 1.0}, steps=2, octaves=2, step_size=2.0, seed=1)
    image = np.random.default_rng(2).integers(60, 200, (64, 90, 3), dtype=np.uint8)
    events, result = run(dream(image, params, model=model))
    assert result.shape == (64, 90, 3)
    assert not np.array_equal(result, image)
    with pytest.raises(InputError, match=r"'mixed3' is not in model tiny.*c1, pool, c2"):
        run(dream(image, DreamParams(), model=model))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"objective": "max"}, "objective 'max'"),
        ({"steps": 0}, "steps 0"),
        ({"step_size": -1.0}, "step size -1.0"),
        ({"octaves": 0}, "octaves 0"),
        ({"octave_scale": 0.5}, "octave scale 0.5"),
        ({"layers": {"mixed3": 0.0}}, "every layer weight is 0"),
        ({"layers": {}}, "no dream layers"),
        ({"jitter": -3}, "jitter -3"),
        ({"backbone": "resnet"}, "unknown backbone 'resnet'"),
        ({"channel": ("mixed4", -1)}, "channel index -1"),
    ],
)
def test_bad_values_are_named(change, message):
    with pytest.raises(InputError, match=message):
        validate_params(DreamParams(**{**vars(DreamParams()), **change}))


def test_tile_smaller_than_the_network_minimum_is_refused(photo):
    with pytest.raises(InputError, match=r"tile size 50 .*minimum input of 75"):
        run(dream(photo, SMALL.replace(tile_size=50)))


def test_octaves_follow_the_recipes():
    recipe = DreamParams()
    assert dream_mod.octave_exponents(recipe) == [-2, -1, 0, 1, 2]
    assert octave_sizes(500, 750, recipe)[2] == (500, 750)
    assert octave_sizes(500, 750, recipe)[4] == (845, 1268)
    assert octave_sizes(300, 400, recipe.replace(octaves=1)) == [(300, 400)]
    dlwp = preset_params("dlwp")
    assert dream_mod.octave_exponents(dlwp) == [-2, -1, 0]
    assert dlwp.layers == {"mixed4": 0.0, "mixed5": 3.0, "mixed6": 2.0, "mixed7": 1.5}
    assert (dlwp.objective, dlwp.octave_scale, dlwp.max_loss) == ("l2", 1.4, 10.0)


def test_metadata_says_untrained_and_round_trips():
    params = SMALL.replace(channel=("mixed4", 139))
    meta = json.loads(json.dumps(dream_metadata(params, source="noise", size=(96, 80))))
    assert meta["untrained"] is True
    assert meta["weights_label"] == "untrained (random)"
    assert meta["size"] == [96, 80]
    assert params_from_metadata(meta) == params
    assert params_from_metadata({"job": "style"}) is None
    assert dream_metadata(DreamParams())["untrained"] is False


def test_detail_lost_by_shrinking_is_reinjected(photo):
    # tiny steps: the result is mostly the original carried through the octaves
    params = SMALL.replace(steps=1, step_size=1e-4, octaves=3, octave_scale=1.4, top_octave=0)
    kept = run(dream(photo, params))[1].astype(float)
    lost = run(dream(photo, params.replace(reinject_detail=False)))[1].astype(float)
    original = photo.astype(float)
    assert np.abs(kept - original).mean() < 0.5 * np.abs(lost - original).mean()


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
    layers = dream_mod.dreamable_layers(model)
    assert f"{base.name}/Conv1_relu" in layers and layers[-1] == f"{base.name}/out_relu"
    assert base.name not in layers  # the backbone itself is no one layer to pick
    assert dream_mod.layer_channels(model, f"{base.name}/Conv1_relu") == 32
    assert dream_mod.layer_channels(model, f"{base.name}/out_relu") == 1280

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
    kinds = {type(cifar.get_layer(name)).__name__ for name in dream_mod.dreamable_layers(cifar)}
    assert kinds == {"Conv2D", "MaxPooling2D"}


# ---------------------------------------------------------- audit fixes: steps, channels, downloads


def test_changing_the_channel_index_does_not_retrace(photo):
    # channel mode on a layer no other test uses: its compiled step is new here
    params = SMALL.replace(channel=("mixed1", 3), octaves=1, steps=1, jitter=0)
    before = step_traces()
    first = run(dream(photo, params))[1]
    other = run(dream(photo, params.replace(channel=("mixed1", 57))))[1]
    assert step_traces() - before == 1
    assert not np.array_equal(first, other)  # the index still reaches the step


def test_step_size_default_follows_the_network():
    assert DreamParams().step_size is None
    assert DreamParams().effective_step_size() == pytest.approx(0.01)
    assert dream_mod.default_step_size("inception_v3") == pytest.approx(0.01)
    assert dream_mod.default_step_size("mobilenet_v2") == pytest.approx(0.01)
    assert dream_mod.default_step_size("vgg19") == pytest.approx(1.275)  # caffe units
    assert dream_mod.default_step_size(None) == pytest.approx(1.275)  # 0..255 pixels
    assert DreamParams(backbone="vgg19").effective_step_size() == pytest.approx(1.275)
    assert DreamParams(step_size=0.3).effective_step_size() == 0.3
    validate_params(DreamParams(step_size=None))
    # presets give [-1, 1] steps: scaled for VGG19
    assert preset_params("quick", DreamParams(backbone="vgg19")).step_size == pytest.approx(2.55)
    assert preset_params("quick").step_size == pytest.approx(0.02)


def test_vgg19_with_the_default_step_changes_the_image(photo):
    params = DreamParams(
        backbone="vgg19",
        weights="random",
        layers={"block3_conv1": 1.0},
        steps=2,
        octaves=1,
        jitter=0,
        max_size=64,
        seed=1,
    )
    small = photo[:48, :64]
    result = run(dream(small, params))[1]
    # 0.01 in caffe units (-124..152) moved pixels by under half a level: no change at all
    assert np.abs(result.astype(int) - small.astype(int)).mean() > 1.0


def test_dream_reports_the_weights_download_first(photo, fake_weights_download, tmp_path):

    from cnnstudio.core import backbones, paths
    from cnnstudio.core.events import DownloadProgress

    model = backbones.build_backbone_uncached("mobilenet_v2", "random", input_shape=(32, 32, 3))
    saved = tmp_path / "mobilenet.weights.h5"
    model.save_weights(saved)
    payload = saved.read_bytes()

    fake_weights_download(payload)
    params = DreamParams(
        backbone="mobilenet_v2",
        layers={"block_2_add": 1.0},
        steps=1,
        octaves=1,
        jitter=0,
        max_size=64,
    )
    events, result = run(dream(photo, params))
    downloads = of(events, DownloadProgress)
    assert downloads and downloads[-1].received == downloads[-1].total == len(payload)
    first_step = next(i for i, e in enumerate(events) if isinstance(e, Progress))
    assert events.index(downloads[-1]) < first_step
    assert result.shape[2] == 3
    name = backbones.get_backbone("mobilenet_v2").weights_file(False)
    assert (paths.keras_cache_dir() / "models" / name).read_bytes() == payload
    backbones.clear_model_cache()
    dream_mod.clear_step_cache()


# --------------------------------------------------------------- the step against the recipe


def test_tiled_step_equals_the_recipe_written_out_tile_by_tile(photo):
    """The compiled step (tiles looped in Python, a rolled image, stitched gradients,
    normalisation, update, clip) against the TF2 recipe's arithmetic done eagerly per tile;
    a second image size reuses both compiled functions."""
    import tensorflow as tf

    from cnnstudio.core import backbones

    model = backbones.build_backbone("inception_v3", "random", include_top=False)
    names = ["mixed1", "mixed3"]  # a layer set no other test uses
    stepper = dream_mod._get_stepper(model, names, "mean", False, None, False, 75)
    features = layers.layer_outputs_model(model, names)
    weights = tf.constant([1.0, 0.5])
    low, high = tf.constant([-1.0] * 3), tf.constant([1.0] * 3)
    image = tf.constant(backbones.preprocess("inception_v3", photo.astype(np.float32)))
    shift = tf.constant([17, -41], tf.int32)

    def recipe(image, tile):
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
        want = recipe(part, tile).numpy()
        assert got.shape == part.shape and terms.shape == (2,)
        assert np.abs(got.numpy() - part.numpy()).max() > 1e-3  # the step moved the image
        np.testing.assert_allclose(got.numpy(), want, atol=2e-5)
    assert stepper.traces == 1 and stepper.finish_traces == 1
