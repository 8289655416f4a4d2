"""Fast style: the network's architecture, a few training steps on a generated photo
folder (events, run folder, Stop keeps the best network), the library round trip with
safe loading, styling at any size and in tiles, colours, resuming from a checkpoint.
Loss network: VGG19 with random weights; 32 px training squares, batches of 2."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from faststyle_data import photo, photo_folder, style_picture

from cnnstudio.core import library
from cnnstudio.core.events import Notice, Preview, Progress
from cnnstudio.core.faststyle import apply, job, models, network, runs
from cnnstudio.core.faststyle.events import CheckpointSaved, HeldOutLoss, PhotosRead, RunStarted
from cnnstudio.core.faststyle.params import FastStyleParams, is_style_model
from cnnstudio.core.style.colors import rgb_to_ycbcr


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("faststyle")
    return {
        "photos": photo_folder(root / "photos", count=10, unreadable=1, classes=True),
        "style": style_picture(root / "style.png"),
        "root": root,
    }


def _params(files, run_dir, **overrides) -> FastStyleParams:
    values = {
        "styles": [str(files["style"])],
        "data": str(files["photos"]),
        "size": 32,
        "steps": 6,
        "batch_size": 2,
        "weights": "random",
        "preview_every": 3,
        "checkpoint_every": 3,
        "run_dir": str(run_dir),
    }
    values.update(overrides)
    return FastStyleParams(**values)


def _train(params, stop_after: int | None = None, **kwargs):
    events: list[object] = []

    def should_stop() -> bool:
        steps = [e for e in events if isinstance(e, Progress)]
        return stop_after is not None and len(steps) >= stop_after

    result = job.train(params, events.append, should_stop, **kwargs)
    return result, events


@pytest.fixture(scope="module")
def trained(data):
    """Six steps, checked and checkpointed every three."""
    return _train(_params(data, data["root"] / "run"))


def test_the_network_is_johnsons_with_instance_norm_and_resize_convolutions():
    model = network.build_style_network()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert "Conv2DTranspose" not in kinds and kinds.count("UpSampling2D") == 2
    assert kinds.count("Add") == 5  # residual blocks
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert [c.filters for c in convs[:3]] == [32, 64, 128]
    assert [c.kernel_size for c in (convs[0], convs[-1])] == [(9, 9), (9, 9)]
    assert [c.strides for c in convs[:3]] == [(1, 1), (2, 2), (2, 2)]
    assert [c.filters for c in convs[-3:]] == [64, 32, 3]
    norms = [layer for layer in model.layers if type(layer).__name__ == "GroupNormalization"]
    # one group per channel: instance normalisation
    assert norms and all(n.groups in (-1, n.input.shape[-1]) for n in norms)
    out = model(np.zeros((1, 20, 28, 3), np.float32))
    assert out.shape == (1, 20, 28, 3)  # fully convolutional


def test_training_reports_progress_checks_previews_and_checkpoints(trained, data):
    result, events = trained
    kinds = [type(e) for e in events]
    assert kinds.index(RunStarted) < kinds.index(Progress)
    photos = next(e for e in events if isinstance(e, PhotosRead))
    assert (photos.training, photos.held_out, photos.found) == (9, 1, 11)
    assert [p for p, _ in photos.skipped] == [str(data["photos"] / "broken0.jpg")]
    assert any(isinstance(e, Notice) and "broken0.jpg" in e.text for e in events)
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.step for p in progress] == list(range(1, 7))
    assert progress[-1].fraction == 1.0 and set(progress[0].terms) == {"content", "style", "tv"}
    checks = [e for e in events if isinstance(e, HeldOutLoss)]
    assert [c.step for c in checks] == [3, 6] and checks[0].best
    previews = [e for e in events if isinstance(e, Preview)]
    assert [p.step for p in previews] == [3, 6] and previews[0].image.shape == (32, 32, 3)
    assert [e.step for e in events if isinstance(e, CheckpointSaved)] == [3, 6]
    best = min(checks, key=lambda c: c.loss)
    assert (result.best_step, result.best_loss) == (best.step, pytest.approx(best.loss))
    assert not result.stopped and result.steps_done == 6
    history = runs.read_history(result.run_dir)
    assert history["step"] == [1, 2, 3, 4, 5, 6]
    assert np.isfinite(history["held_out_loss"][2]) and np.isnan(history["held_out_loss"][0])
    assert json.loads((result.run_dir / runs.STATUS).read_text())["state"] == "finished"


def test_saved_in_the_library_it_loads_safely_and_styles_any_size(trained):
    result, _ = trained
    entry = models.save_style_model(result.model, "stripes", result.meta)
    assert is_style_model(entry.meta) and entry.meta["styles"] == ["style.png"]
    assert models.thumbnail(entry.meta).shape == (64, 64, 3)
    reloaded = library.load_model_file(entry.path)  # safe_mode=True
    picture = photo(np.random.default_rng(5), 50, 71)  # not multiples of 4
    style_model = apply.load_style_model("stripes")
    styled = apply.stylize(style_model, picture)
    assert styled.shape == picture.shape and styled.dtype == np.uint8
    padded = np.pad(picture, ((7, 7), (9, 8), (0, 0)), mode="reflect")[None].astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(reloaded(padded)), np.asarray(result.model(padded)), atol=1e-3
    )
    assert apply.load_style_model(entry) is style_model  # kept loaded


def test_stop_keeps_the_best_network_and_a_checkpoint(data, tmp_path):
    params = _params(data, tmp_path / "run", steps=50, preview_every=2, checkpoint_every=10)
    result, events = _train(params, stop_after=5)
    assert result.stopped and result.steps_done == 5
    checks = [e for e in events if isinstance(e, HeldOutLoss)]
    assert [c.step for c in checks] == [2, 4, 5]  # the stopped step is checked too
    best = min(checks, key=lambda c: c.loss)
    assert result.best_step == best.step
    kept = network.build_style_network()
    kept.load_weights(tmp_path / "run" / runs.BEST_WEIGHTS)
    for a, b in zip(kept.get_weights(), result.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [e.step for e in events if isinstance(e, CheckpointSaved)] == [5]
    assert json.loads((tmp_path / "run" / runs.STATUS).read_text())["state"] == "stopped"


def test_a_resumed_run_goes_on_from_its_checkpoint_as_if_never_stopped(data, tmp_path, trained):
    """Stopped at step 4 (checkpoint), resumed to 6 from the folder alone: the same network
    as the run that went through (same batches, Adam's state restored)."""
    first, _ = _train(_params(data, tmp_path / "run"), stop_after=4)
    assert first.stopped and first.steps_done == 4
    events: list[object] = []
    result = job.resume(tmp_path / "run", on_event=events.append)
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.start_step == 4
    assert [e.step for e in events if isinstance(e, Progress)] == [5, 6]
    assert any(isinstance(e, Notice) and "step 4" in e.text for e in events)
    straight, _ = trained
    assert result.steps_done == 6
    last_straight = straight.run_dir / "checkpoints" / "step-0000006.weights.h5"
    last_resumed = tmp_path / "run" / "checkpoints" / "step-0000006.weights.h5"
    a, b = network.build_style_network(), network.build_style_network()
    a.load_weights(last_straight)
    b.load_weights(last_resumed)
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


def test_a_run_folder_of_other_settings_is_refused(data, trained):
    result, _ = trained
    params = _params(data, result.run_dir, size=48)
    with pytest.raises(Exception, match="other settings .*size") as caught:
        job.train(params)
    assert caught.value.param == "run_dir" and caught.value.remedy == "other_run_folder"


def test_fewer_than_eight_readable_photos_is_a_clear_error(tmp_path, data):
    folder = photo_folder(tmp_path / "few", count=7, unreadable=2)
    params = _params(data, tmp_path / "run", data=str(folder))
    with pytest.raises(Exception, match="has 7 readable picture") as caught:
        job.train(params)
    message = str(caught.value)
    assert "at least 8" in message and "2 unreadable" in message and "broken0.jpg" in message
    assert caught.value.param == "data"
    (tmp_path / "empty").mkdir()
    with pytest.raises(Exception, match="holds no pictures"):
        job.train(_params(data, tmp_path / "run", data=str(tmp_path / "empty")))
    with pytest.raises(Exception, match="not found"):
        job.train(_params(data, tmp_path / "run", data=str(tmp_path / "nowhere")))


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"size": 30}, "size"),
        ({"size": 16}, "size"),
        ({"steps": 0}, "steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"style_weight": 0.0}, "style_weight"),
        ({"style_layers": {"block9_conv1": 1.0}}, "style_layers"),
        ({"styles": []}, "styles"),
        # upper bounds and types (review of issue 10, item 3)
        ({"size": 2**31}, "size"),
        ({"size": 65536}, "size"),
        ({"steps": 10**14}, "steps"),
        ({"preview_every": 10**11}, "preview_every"),
        ({"checkpoint_every": 2**31}, "checkpoint_every"),
        ({"batch_size": 10**6}, "batch_size"),
        ({"learning_rate": 1e308}, "learning_rate"),
        ({"content_weight": float("inf")}, "content_weight"),
        ({"tv_weight": 1e300}, "tv_weight"),
        ({"style_layers": {"block1_conv2": 1e308}}, "style_layers"),
        ({"style_layers": [1]}, "style_layers"),
        ({"seed": 2**64}, "seed"),
        ({"steps": "12"}, "steps"),
        ({"preserve_colors": "yes"}, "preserve_colors"),
        ({"styles": "a.png"}, "styles"),
    ],
)
def test_bad_params_name_the_value(data, tmp_path, overrides, param):
    params = _params(data, tmp_path, **overrides)
    with pytest.raises(Exception) as caught:
        params.validate()
    assert caught.value.param == param


def test_a_classifier_is_not_a_style_model_and_the_other_way_round(trained, tmp_path):
    import keras

    from cnnstudio.core.classify import classifier as classify
    from cnnstudio.core.classify.params import model_choices

    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs))
    library.save_to_library(
        keras.Model(inputs, outputs), "labels", {"class_names": ["a", "b"], "input_size": [8, 8]}
    )
    with pytest.raises(Exception, match="'labels' is a classifier, not a style model: it"):
        apply.load_style_model("labels")
    library.save_to_library(keras.Model(inputs, outputs), "other", {"input_size": [8, 8]})
    with pytest.raises(Exception, match="'other' is not a style model: it cannot paint"):
        apply.load_style_model("other")
    result, _ = trained
    entry = models.save_style_model(result.model, "painter", result.meta)
    with pytest.raises(Exception, match="'painter' is a style model: .*no classes"):
        classify.load_classifier("painter")
    with pytest.raises(Exception, match="is a style model"):
        classify.load_classifier(entry.path)  # the .keras file itself, with its sidecar
    assert [label for spec, label in model_choices() if "painter" in spec] == []
    assert any("labels" in spec for spec, _ in model_choices())


def test_large_pictures_are_styled_in_tiles_that_blend_exactly(trained, monkeypatch):
    """With an identity network, tiles blended back must give the picture itself; the real
    network on tiles gives a picture of the right size."""
    result, _ = trained
    style_model = apply.StyleModel(result.model, "t", dict(result.meta))
    monkeypatch.setattr(apply, "TILE_PIXELS", 40 * 40)
    monkeypatch.setattr(apply, "TILE_SIDE", 32)
    monkeypatch.setattr(apply, "OVERLAP", 8)
    picture = photo(np.random.default_rng(2), 70, 101)
    tiles: list[tuple[int, int]] = []
    styled = apply.stylize(style_model, picture, on_tile=lambda d, t: tiles.append((d, t)))
    assert styled.shape == picture.shape and len(tiles) == tiles[-1][1] == 2 * 3
    identity = apply.StyleModel(None, "identity", {})
    identity._forward = lambda batch: np.asarray(batch, np.float32)
    np.testing.assert_array_equal(apply.stylize(identity, picture), picture)


def test_colours_are_kept_on_request_and_always_for_a_luminance_model(trained):
    result, _ = trained
    picture = photo(np.random.default_rng(3), 40, 44)
    style_model = apply.StyleModel(result.model, "t", dict(result.meta))
    kept = apply.stylize(style_model, picture, preserve_colors=True)
    chroma = rgb_to_ycbcr(kept)[..., 1:] - rgb_to_ycbcr(picture)[..., 1:]
    assert np.abs(chroma).mean() < 3.0  # rounding and clipping only
    grey_model = apply.StyleModel(result.model, "g", {**result.meta, "preserve_colors": True})
    np.testing.assert_array_equal(
        apply.stylize(grey_model, picture), apply.stylize(grey_model, picture, preserve_colors=True)
    )


def test_luminance_training_runs_on_grey_and_previews_in_colour(data, tmp_path):
    params = dataclasses.replace(
        _params(data, tmp_path / "run", steps=2, preview_every=2), preserve_colors=True
    )
    result, events = _train(params)
    assert result.meta["preserve_colors"] is True
    preview = next(e for e in events if isinstance(e, Preview)).image
    assert np.ptp(rgb_to_ycbcr(preview)[..., 1:]) > 5  # the held-out photo's colours
