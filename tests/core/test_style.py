"""Neural style transfer core: loss terms against numpy, both optimisers, colours, blending,
compiled-once steps, memory estimate. VGG19 with random weights on images of 48-128 px."""

from __future__ import annotations

import numpy as np
import pytest

from cnnstudio.core import style
from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Notice, Preview, Progress


def _gradient_image(height: int, width: int, colors: tuple, seed: int = 0) -> np.ndarray:
    """A smooth two-colour picture with a little texture (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, width)[None, :, None]
    a, b = np.array(colors[0], float), np.array(colors[1], float)
    image = a * (1 - t) + b * t + np.zeros((height, 1, 1))
    image += rng.normal(0, 12, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


CONTENT = _gradient_image(72, 60, ((200, 40, 40), (40, 60, 210)), seed=1)
STYLE = _gradient_image(64, 64, ((20, 200, 30), (250, 230, 20)), seed=2)


def _run(gen):
    """Drain a job: (events, result)."""
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


def _progress(events) -> list[Progress]:
    return [e for e in events if isinstance(e, Progress)]


def _params(**overrides) -> style.StyleParams:
    values = {"weights": "random", "size": 64, "steps": 4, "seed": 0}
    values.update(overrides)
    return style.StyleParams(**values)


def test_gram_matrix_is_features_transposed_times_features_over_positions():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(1, 4, 5, 3)).astype(np.float32)
    flat = features.reshape(20, 3).astype(np.float64)
    expected = flat.T @ flat / 20
    np.testing.assert_allclose(np.asarray(style.gram_matrix(features)), expected, rtol=1e-5)


def test_each_loss_term_matches_a_hand_computed_value():
    from cnnstudio.core import backbones

    model = backbones.build_backbone("vgg19", "random", include_top=False)
    content_layers = {"block1_conv2": 2.0}
    style_layers = {"block1_conv1": 0.5, "block2_conv1": 1.5}
    program = style._program_for(model, list(content_layers), list(style_layers))
    rng = np.random.default_rng(3)
    image, content, style_image = (
        rng.uniform(0, 1, (1, 32, 40, 3)).astype(np.float32) for _ in range(3)
    )
    content_targets, _ = program.targets(content)
    _, gram_targets = program.targets(style_image)
    content_weight, style_weight, tv_weight = 7.0, 0.3, 2.5
    terms, grad = program.loss_and_grad(
        image,
        content_targets,
        gram_targets,
        np.array([2.0], np.float32),
        np.array([0.5, 1.5], np.float32),
        np.array([content_weight, style_weight, tv_weight], np.float32),
    )

    # The same quantities in numpy, from the extractor's raw activations.
    def activations(x):
        outputs = program.extractor(backbones.preprocess("vgg19", x * 255.0))
        names = list(dict.fromkeys(list(style_layers) + list(content_layers)))
        return {n: np.asarray(o, np.float64)[0] for n, o in zip(names, outputs, strict=True)}

    def gram(f):
        flat = f.reshape(-1, f.shape[-1])
        return flat.T @ flat / flat.shape[0]

    ours, target_c, target_s = activations(image), activations(content), activations(style_image)
    content_loss = (
        content_weight * 2.0 * np.mean((ours["block1_conv2"] - target_c["block1_conv2"]) ** 2)
    )
    style_loss = (
        style_weight
        / 2
        * sum(
            w * np.mean((gram(ours[n]) - gram(target_s[n])) ** 2) for n, w in style_layers.items()
        )
    )
    pixels = image[0].astype(np.float64)
    tv = tv_weight * (np.abs(np.diff(pixels, axis=0)).sum() + np.abs(np.diff(pixels, axis=1)).sum())
    terms = np.asarray(terms)
    np.testing.assert_allclose(terms[1:], [content_loss, style_loss, tv], rtol=2e-3)
    assert terms[0] == pytest.approx(content_loss + style_loss + tv, rel=2e-3)
    assert np.asarray(grad).shape == image.shape and np.any(np.asarray(grad) != 0)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_loss_falls_and_the_job_streams_progress_and_previews(optimizer):
    params = _params(optimizer=optimizer, steps=5, lbfgs_evaluations=3, preview_interval=0.0)
    events, result = _run(style.stylize(CONTENT, STYLE, params))
    progress = _progress(events)
    assert [p.step for p in progress] == [1, 2, 3, 4, 5]
    assert all(p.total == 5 and set(p.terms) == {"content", "style", "tv"} for p in progress)
    assert progress[-1].loss < 0.9 * progress[0].loss
    previews = [e for e in events if isinstance(e, Preview)]
    assert previews and previews[-1].step == 5
    assert previews[-1].image.dtype == np.uint8 and previews[-1].image.shape == (64, 53, 3)
    assert result.dtype == np.uint8 and result.shape == (64, 53, 3)  # longest side = size
    assert any(isinstance(e, Notice) and "untrained" in e.text for e in events)
    if optimizer == "lbfgs":
        evaluations = [int(p.message.split()[0]) for p in progress]
        assert "loss evaluations" in progress[-1].message
        assert evaluations == sorted(evaluations) and evaluations[-1] >= 5 * 3


def test_luminance_mode_keeps_the_content_chroma():
    params = _params(init="style", steps=3)
    _, plain = _run(style.stylize(CONTENT, STYLE, params))
    params.preserve_colors = "luminance"
    _, kept = _run(style.stylize(CONTENT, STYLE, params))
    from cnnstudio.core import images

    content = images.resize_to(CONTENT, kept.shape[1], kept.shape[0])
    chroma = style.rgb_to_ycbcr(content)[..., 1:]
    kept_error = np.abs(style.rgb_to_ycbcr(kept)[..., 1:] - chroma)
    plain_error = np.abs(style.rgb_to_ycbcr(plain)[..., 1:] - chroma)
    # Exact up to uint8 rounding, except where a bright style luminance with the content's
    # saturated chroma leaves the RGB gamut and gets clipped.
    assert np.median(kept_error) < 0.5
    assert plain_error.mean() > 10 * kept_error.mean()  # started from the style's colours


def test_luminance_mode_optimises_on_the_grey_content_and_grey_style():
    """Gatys et al. 2016: the Gram targets come from the style's luminance (matched to the
    content's), not from its colours, so the run equals a colour-free run on grey inputs."""
    params = _params(steps=2, preserve_colors="luminance")
    lum, lum_result = _run(style.stylize(CONTENT, STYLE, params))
    grey_content = style.luminance_image(CONTENT)
    grey_style = style.luminance_image(STYLE, CONTENT)
    assert np.all(grey_style[..., 0] == grey_style[..., 2])
    grey, grey_result = _run(
        style.stylize(grey_content, grey_style, _params(steps=2, preserve_colors="none"))
    )
    colour, _ = _run(style.stylize(CONTENT, STYLE, _params(steps=2, preserve_colors="none")))
    first_lum, first_grey = _progress(lum)[0], _progress(grey)[0]
    assert first_lum.terms["style"] == pytest.approx(first_grey.terms["style"], rel=1e-4)
    assert first_lum.loss == pytest.approx(first_grey.loss, rel=1e-4)
    assert _progress(colour)[0].terms["style"] != pytest.approx(first_lum.terms["style"], rel=1e-2)
    # The result is the grey run's luminance with the content's chroma.
    from cnnstudio.core import images

    content = images.resize_to(CONTENT, lum_result.shape[1], lum_result.shape[0])
    expected = style.transfer_luminance(grey_result, content)
    assert np.abs(lum_result.astype(int) - expected.astype(int)).max() <= 2


def test_colour_matching_gives_the_style_the_content_palette():
    matched = style.match_colors(STYLE, CONTENT)
    for image in (matched,):
        pixels = image.reshape(-1, 3).astype(float)
        reference = CONTENT.reshape(-1, 3).astype(float)
        np.testing.assert_allclose(pixels.mean(0), reference.mean(0), atol=2.0)
        np.testing.assert_allclose(np.cov(pixels.T), np.cov(reference.T), rtol=0.1, atol=20)
    assert matched.shape == STYLE.shape and matched.dtype == np.uint8


def test_blending_two_identical_styles_equals_one_style():
    params = _params(steps=2)
    one, one_result = _run(style.stylize(CONTENT, STYLE, params))
    two, two_result = _run(
        style.stylize(CONTENT, [STYLE, STYLE.copy()], params, style_weights=[0.3, 0.7])
    )
    first_one, first_two = _progress(one)[0], _progress(two)[0]
    assert first_two.terms["style"] == pytest.approx(first_one.terms["style"], rel=1e-5)
    assert first_two.loss == pytest.approx(first_one.loss, rel=1e-5)
    assert np.abs(one_result.astype(int) - two_result.astype(int)).max() <= 1
    # ... and a different second style does change the target.
    other = _gradient_image(64, 64, ((10, 10, 10), (250, 250, 250)), seed=5)
    mixed, _ = _run(style.stylize(CONTENT, [STYLE, other], _params(steps=1)))
    assert _progress(mixed)[0].terms["style"] != pytest.approx(first_one.terms["style"], rel=1e-3)


def test_compiled_once_across_runs_sizes_weights_and_scales():
    _run(style.stylize(CONTENT, STYLE, _params(steps=1)))
    _run(style.stylize(CONTENT, STYLE, _params(steps=1, optimizer="lbfgs", lbfgs_evaluations=2)))
    before = style.trace_counts()
    assert before["adam"] >= 1 and before["lbfgs"] >= 1
    events, result = _run(
        style.stylize(
            CONTENT,
            STYLE,
            _params(
                steps=1,
                size=160,
                multi_scale=True,
                content_weight=3.0,
                style_weight=9.0,
                tv_weight=0.5,
                learning_rate=0.1,
                init="noise",
            ),
        )
    )
    _run(
        style.stylize(
            CONTENT, STYLE, _params(steps=1, size=80, optimizer="lbfgs", lbfgs_evaluations=2)
        )
    )
    assert style.trace_counts() == before
    progress = _progress(events)
    assert [(p.stage, p.stages) for p in progress] == [(1, 3), (2, 3), (3, 3)]
    assert result.shape == (160, 133, 3)


def test_memory_estimate_grows_with_size_and_refuses_what_cannot_fit():
    small = style.estimate_memory(style.StyleParams(size=256), (600, 800))
    large = style.estimate_memory(style.StyleParams(size=1024), (600, 800))
    shallow = style.estimate_memory(
        style.StyleParams(
            size=1024, content_layers={"block1_conv2": 1}, style_layers={"block1_conv1": 1}
        ),
        (600, 800),
    )
    assert small < large and shallow < large
    assert large > 1024 * 768 * 64 * 4  # at least one full-size activation of block1
    assert style.check_memory(style.StyleParams(size=256), (600, 800), available=2**40) == small
    with pytest.raises(InputError, match=r"size 8000 px needs about .* GB .* \d+ px or less"):
        style.check_memory(style.StyleParams(size=8000), (600, 800), available=2 * 2**30)
    assert style.available_memory() > 0


def test_too_large_carries_a_suggested_size_that_fits_and_no_flag_wording():
    available = 2 * 2**30
    with pytest.raises(style.MemoryTooLargeError) as error:
        style.check_memory(style.StyleParams(size=8000), (600, 800), available=available)
    suggested = error.value.suggested_size
    assert isinstance(error.value, InputError) and error.value.size == 8000
    assert f"{suggested} px" in str(error.value) and "--" not in str(error.value)
    assert 256 <= suggested < 8000 and suggested % 16 == 0
    assert style.estimate_memory(style.StyleParams(size=suggested), (600, 800)) <= available
    bigger = style.StyleParams(size=suggested + 64)
    assert style.estimate_memory(bigger, (600, 800)) > available  # not needlessly small
    # Multi-scale ends at the full size: it needs as much, so it is not offered as a way out.
    assert style.estimate_memory(
        style.StyleParams(size=8000, multi_scale=True), (600, 800)
    ) == style.estimate_memory(style.StyleParams(size=8000), (600, 800))
    assert "multi" not in str(error.value).lower()


@pytest.mark.parametrize(
    ("overrides", "styles", "blend", "message"),
    [
        ({"layers": "picasso"}, [STYLE], None, "picasso"),
        ({"optimizer": "sgd"}, [STYLE], None, "sgd"),
        ({"style_layers": {"block9_conv1": 1.0}}, [STYLE], None, "block9_conv1"),
        ({"size": 8}, [STYLE], None, "size 8"),
        ({}, [STYLE, STYLE], [1.0], "2 style image"),
        ({}, [STYLE], [-1.0], "blend"),
        ({}, [], None, "at least one style"),
        ({"content_layers": {"block4_conv2": 0.0}}, [STYLE], None, "--content-layers"),
        (
            {"style_layers": {"block1_conv1": 0.0, "block2_conv1": 0.0}},
            [STYLE],
            None,
            "--style-layers",
        ),
    ],
)
def test_bad_values_are_refused_with_a_message_naming_them(overrides, styles, blend, message):
    with pytest.raises(InputError, match=message):
        next(style.stylize(CONTENT, styles, _params(**overrides), style_weights=blend))


def test_metadata_keeps_the_full_path_of_a_weights_file(tmp_path):
    weights = tmp_path / "vgg19.weights.h5"
    meta = style.style_metadata(_params(weights=str(weights)))
    assert meta["weights"] == str(weights.resolve())
    assert style.params_from_metadata(meta).weights == str(weights.resolve())


def test_metadata_says_untrained_and_round_trips():
    params = _params(optimizer="lbfgs", preserve_colors="luminance")
    meta = style.style_metadata(params, content="cat.png")
    assert meta["untrained"] is True and "random" in meta["weights_label"].lower()
    assert meta["job"] == "style" and meta["content"] == "cat.png" and meta["steps"] == 4
    assert style.params_from_metadata(meta) == params
    assert style.style_metadata(style.StyleParams())["untrained"] is False


def test_lbfgs_yields_between_evaluations_and_stops_within_one(monkeypatch):
    """Stop, progress and preview must not wait for a whole batch of evaluations."""
    calls = []
    original = style._program_for

    def counting_program(*args):
        program = original(*args)
        real = program.loss_and_grad
        monkeypatch.setattr(
            program, "loss_and_grad", lambda *a: calls.append(1) or real(*a), raising=False
        )
        return program

    monkeypatch.setattr(style, "_program_for", counting_program)
    params = _params(optimizer="lbfgs", steps=3, lbfgs_evaluations=50, preview_interval=0.0)
    gen = style.stylize(CONTENT, STYLE, params)
    seen = []
    while sum(isinstance(e, style.LbfgsEvaluation) for e in seen) < 3:
        seen.append(next(gen))
    evaluations = [e for e in seen if isinstance(e, style.LbfgsEvaluation)]
    assert [e.evaluation for e in evaluations] == [1, 2, 3]
    assert evaluations[-1].iteration == 1 and evaluations[-1].total == 3
    assert "iteration 1/3: evaluation 3" in evaluations[-1].text
    assert any(isinstance(e, Preview) for e in seen)  # the picture moves mid-iteration too
    assert not any(isinstance(e, Progress) for e in seen)  # still inside iteration 1 of 50
    gen.close()  # the helper thread is joined (conftest fails a test that leaves one)
    assert len(calls) == 3  # no evaluation ran after the close


def test_lbfgs_counts_evaluations_over_all_scales_exactly():
    params = _params(optimizer="lbfgs", steps=2, lbfgs_evaluations=6, size=160, multi_scale=True)
    events, _ = _run(style.stylize(CONTENT, STYLE, params))
    counts = [int(p.message.split()[0]) for p in _progress(events)]
    assert len(counts) == 6 and counts == sorted(counts) and len(set(counts)) == 6
    assert counts[-1] == 6 * 6  # the budget, per iteration, at every scale
    evaluations = [e for e in events if isinstance(e, style.LbfgsEvaluation)]
    assert evaluations[-1].evaluations == counts[-1] and evaluations[-1].stage == 3


def test_closing_the_job_mid_run_stops_it():
    gen = style.stylize(CONTENT, STYLE, _params(steps=50))
    seen = [next(gen) for _ in range(3)]
    gen.close()
    assert max(e.step for e in seen if isinstance(e, Progress)) <= 2
    with pytest.raises(StopIteration):
        next(gen)


def test_the_weights_download_is_reported_before_the_network_is_built(monkeypatch):
    from cnnstudio.core import backbones
    from cnnstudio.core.errors import ResourceMissingError
    from cnnstudio.core.events import DownloadProgress

    size = 80_134_624

    def fake_ensure(name, include_top=False, allow_download=True, on_download=None):
        assert name == "vgg19" and not include_top
        for received in (1 << 20, 2 << 20, 3 << 20):
            on_download(received, size)
        raise ResourceMissingError("download failed: connection reset")

    def no_build(*args, **kwargs):
        raise AssertionError("built before the weights were there")

    monkeypatch.setattr(backbones, "ensure_imagenet_weights", fake_ensure)
    monkeypatch.setattr(backbones, "build_backbone", no_build)
    job = style.stylize(CONTENT, STYLE, _params(weights="imagenet"))
    events = []
    with pytest.raises(ResourceMissingError, match="connection reset"):
        for event in job:
            events.append(event)
    assert [e.received for e in events] == [1 << 20, 2 << 20, 3 << 20]
    assert all(isinstance(e, DownloadProgress) and e.total == size for e in events)
    assert (
        events[-1].text == "downloading vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5: 3/76 MB"
    )


def test_stage_eta_weighs_each_scale_by_its_pixels():
    eta = style.StageEta([1 / 16, 1 / 4, 1.0], steps_per_stage=10)
    assert eta.work(10) == pytest.approx(10 / 16) and eta.work(30) == pytest.approx(13.125)
    # One second per unit of work: iteration costs follow the scales' pixel counts.
    assert eta.update(1, now=eta.work(1)) is None
    left = eta.update(10, now=eta.work(10))
    assert left == pytest.approx(eta.work(30) - eta.work(10))  # 12.5 s
    naive = eta.work(10) / 10 * 20  # equal steps would promise about 1.25 s
    assert left > 5 * naive
    assert eta.update(30, now=eta.work(30)) == pytest.approx(0.0)
    made = style.StageEta.for_run(_params(size=160, multi_scale=True, steps=7), (72, 60))
    assert made.steps == 7 and made.costs[-1] == 1.0
    assert made.costs[0] == pytest.approx(40 * 33 / (160 * 133), rel=1e-6)
