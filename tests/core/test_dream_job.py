"""The dream job: real InceptionV3 with random weights (built through the "random" weights
path), small images, few steps, tiles smaller than the image so tiling and the roll run."""

from __future__ import annotations

import numpy as np
import pytest
from dreams import SMALL, make_photo, of, run

from cnnstudio.core import layers
from cnnstudio.core.dream import tiled_step
from cnnstudio.core.dream.job import dream
from cnnstudio.core.dream.params import DreamParams, octave_sizes
from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Notice, Preview, Progress


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return make_photo()


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


def test_progress_says_how_much_of_the_work_is_done(photo):
    """A step of a later, larger octave is more of the work than one of the first: the
    fraction weighs each octave's steps by its pixels, so the ETA does not run short."""
    params = SMALL.replace(octaves=3, octave_scale=1.4, top_octave=0)
    sizes = octave_sizes(120, 160, params, min_size=75)
    pixels = [h * w for h, w in sizes]
    assert pixels[0] < pixels[1] < pixels[2]
    progress = of(run(dream(photo, params))[0], Progress)
    whole = 2 * sum(pixels)
    expected = [
        pixels[0] / whole,
        2 * pixels[0] / whole,
        (2 * pixels[0] + pixels[1]) / whole,
        (2 * pixels[0] + 2 * pixels[1]) / whole,
        (2 * pixels[0] + 2 * pixels[1] + pixels[2]) / whole,
        1.0,
    ]
    assert [p.fraction for p in progress] == pytest.approx(expected)
    assert [p.done for p in progress] == pytest.approx(expected)
    assert progress[1].done < progress[1].step / progress[1].total  # octave 1 is cheap
    # an octave that stops early leaves the rest of its work undone
    stopped = of(run(dream(photo, params.replace(max_loss=-1.0)))[0], Progress)
    assert [p.step for p in stopped] == [1, 3, 5]
    assert [p.fraction for p in stopped] == pytest.approx([expected[0], expected[2], expected[4]])


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


def test_output_has_the_input_size_after_max_size():
    image = np.full((200, 300, 3), 128, np.uint8)
    params = SMALL.replace(max_size=150, steps=1)
    events, result = run(dream(image, params))
    assert result.shape == (100, 150, 3)
    assert all(p.image.shape == (100, 150, 3) for p in of(events, Preview))


def test_smallest_octave_is_not_below_the_network_minimum(photo):
    params = SMALL.replace(octaves=5, steps=1)
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


def test_stop_ends_the_dream_at_the_step_it_is_at(photo, monkeypatch):
    """Stop (closing the job) runs no further step, and the compiled step the stopped
    dream leaves behind serves the next dream as it is: nothing is traced again."""
    steps_run = []
    real_step = tiled_step.TiledStep.step

    def counted_step(self, *args):
        steps_run.append(1)
        return real_step(self, *args)

    monkeypatch.setattr(tiled_step.TiledStep, "step", counted_step)
    params = SMALL.replace(steps=5)
    job = dream(photo, params)
    progress = 0
    for event in job:
        progress += isinstance(event, Progress)
        if progress == 2:
            break
    traces = tiled_step.step_traces()
    job.close()
    assert len(steps_run) == 2  # the two reported; none after the close
    events, result = run(dream(photo, params.replace(steps=1, octaves=1)))
    assert len(steps_run) == 3 and len(of(events, Progress)) == 1
    assert result.shape == photo.shape
    assert tiled_step.step_traces() == traces


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


def test_tile_smaller_than_the_network_minimum_is_refused(photo):
    with pytest.raises(InputError, match=r"tile size 50 .*minimum input of 75"):
        run(dream(photo, SMALL.replace(tile_size=50)))


def test_detail_lost_by_shrinking_is_reinjected(photo):
    # tiny steps: the result is mostly the original carried through the octaves
    params = SMALL.replace(steps=1, step_size=1e-4, octaves=3, octave_scale=1.4, top_octave=0)
    kept = run(dream(photo, params))[1].astype(float)
    lost = run(dream(photo, params.replace(reinject_detail=False)))[1].astype(float)
    original = photo.astype(float)
    assert np.abs(kept - original).mean() < 0.5 * np.abs(lost - original).mean()


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
    tiled_step.clear_step_cache()
