"""The perceptual loss (core/perceptual.py): the normalised terms against numpy, their
invariance to the network's scale and the picture's size, the compiled style program
against the plain functions, and that at the default weights an untrained VGG19 moves the
picture toward the style. VGG19 with random weights on 32-64 px pictures."""

from __future__ import annotations

import numpy as np
import pytest

from bench.bench_style import _pictures
from cnnstudio.core import backbones, perceptual
from cnnstudio.core.events import Progress
from cnnstudio.core.style import job, program
from cnnstudio.core.style.params import StyleParams


def _gram(features: np.ndarray) -> np.ndarray:
    flat = features.reshape(-1, features.shape[-1]).astype(np.float64)
    return flat.T @ flat / flat.shape[0]


def _relative(values: np.ndarray, targets: np.ndarray) -> float:
    return float(np.mean((values - targets) ** 2) / np.mean(targets**2))


def _tv(image: np.ndarray) -> float:
    pixels = image.astype(np.float64)
    across = np.mean(np.diff(pixels, axis=1) ** 2)
    down = np.mean(np.diff(pixels, axis=0) ** 2)
    return float((across + down) / 2 / (2 * pixels.var()))


def test_gram_matrices_are_features_transposed_times_features_over_positions_per_picture():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 4, 5, 3)).astype(np.float32)
    grams = np.asarray(perceptual.gram_matrix(features))
    assert grams.shape == (2, 3, 3)
    for picture, gram in zip(features, grams, strict=True):
        np.testing.assert_allclose(gram, _gram(picture), rtol=1e-5, atol=1e-6)


def test_the_normalised_terms_match_numpy():
    rng = np.random.default_rng(1)
    ours = [rng.normal(size=(1, 6, 5, c)).astype(np.float32) for c in (3, 4)]
    targets = [rng.normal(size=f.shape).astype(np.float32) for f in ours]
    weights = [2.0, 0.5]  # relative: a weighted mean over the layers
    expected = sum(
        w * _relative(f, t) for w, f, t in zip(weights, ours, targets, strict=True)
    ) / sum(weights)
    assert float(perceptual.content_loss(ours, targets, weights)) == pytest.approx(expected, 1e-5)
    grams = [_gram(t) for t in targets]
    expected = sum(
        w * _relative(_gram(f), g) for w, f, g in zip(weights, ours, grams, strict=True)
    ) / sum(weights)
    got = perceptual.style_loss(ours, [g.astype(np.float32) for g in grams], weights)
    assert float(got) == pytest.approx(expected, rel=1e-5)
    image = rng.uniform(0, 1, (1, 7, 9, 3)).astype(np.float32)
    assert float(perceptual.total_variation_loss(image)) == pytest.approx(_tv(image[0]), 1e-5)
    warped = rng.uniform(0, 1, image.shape).astype(np.float32)
    mask = (rng.uniform(size=(1, 7, 9, 1)) > 0.5).astype(np.float32)
    expected = np.mean(mask * (image - warped) ** 2)
    assert float(perceptual.temporal_loss(image, warped, mask)) == pytest.approx(expected, 1e-5)
    got = perceptual.temporal_loss(image, warped, mask, weight=3.0)
    assert float(got) == pytest.approx(3 * expected, 1e-5)


def test_the_terms_do_not_depend_on_the_networks_scale_or_the_pictures_size():
    """What makes one set of weights fit every network: features 1000x larger (another
    network, other preprocessing) give the same content and style terms; TV is the same
    for a picture in another pixel range and ~1 for white noise at any size."""
    rng = np.random.default_rng(2)
    ours = [rng.normal(size=(1, 8, 8, 4)).astype(np.float32)]
    targets = [rng.normal(size=(1, 8, 8, 4)).astype(np.float32)]
    grams = [np.asarray(perceptual.gram_matrix(targets[0]))[0]]
    for scale in (1e-3, 1e3):
        scaled = [ours[0] * scale]
        assert float(perceptual.content_loss(scaled, [targets[0] * scale], [1.0])) == (
            pytest.approx(float(perceptual.content_loss(ours, targets, [1.0])), rel=1e-4)
        )
        assert float(perceptual.style_loss(scaled, [grams[0] * scale**2], [1.0])) == (
            pytest.approx(float(perceptual.style_loss(ours, grams, [1.0])), rel=1e-4)
        )
    image = rng.uniform(0, 1, (1, 32, 32, 3)).astype(np.float32)
    tv = float(perceptual.total_variation_loss(image))
    assert float(perceptual.total_variation_loss(image * 255)) == pytest.approx(tv, rel=1e-5)
    for side in (32, 256):
        noise = rng.uniform(0, 1, (1, side, side, 3)).astype(np.float32)
        assert float(perceptual.total_variation_loss(noise)) == pytest.approx(1.0, abs=0.05)
    smooth = np.broadcast_to(np.linspace(0, 1, 64, dtype=np.float32)[None, :, None], (64, 64, 3))
    assert float(perceptual.total_variation_loss(smooth[None])) < 0.01


def test_each_compiled_term_matches_a_hand_computed_value():
    model = backbones.build_backbone("vgg19", "random", include_top=False)
    content_layers = {"block1_conv2": 2.0}
    style_layers = {"block1_conv1": 0.5, "block2_conv1": 1.5}
    compiled = program.program_for(model, list(content_layers), list(style_layers))
    rng = np.random.default_rng(3)
    image, content, style_image = (
        rng.uniform(0, 1, (1, 32, 40, 3)).astype(np.float32) for _ in range(3)
    )
    content_targets, _ = compiled.targets(content)
    _, gram_targets = compiled.targets(style_image)
    content_weight, style_weight, tv_weight = 7.0, 0.3, 2.5
    loss_weights = np.array([content_weight, style_weight, tv_weight], np.float32)
    terms, grad = compiled.loss_and_grad(
        image,
        content_targets,
        gram_targets,
        np.array([2.0], np.float32),
        np.array([0.5, 1.5], np.float32),
        loss_weights,
    )

    # The same quantities in numpy, from the extractor's raw activations.
    names = list(dict.fromkeys(list(style_layers) + list(content_layers)))

    def activations(x):
        outputs = compiled.extractor(backbones.preprocess("vgg19", x * 255.0))
        return {n: np.asarray(o, np.float64)[0] for n, o in zip(names, outputs, strict=True)}

    ours, target_c, target_s = activations(image), activations(content), activations(style_image)
    content_term = content_weight * _relative(ours["block1_conv2"], target_c["block1_conv2"])
    style_term = (
        style_weight
        * sum(w * _relative(_gram(ours[n]), _gram(target_s[n])) for n, w in style_layers.items())
        / sum(style_layers.values())
    )
    tv_term = tv_weight * _tv(image[0])
    terms = np.asarray(terms)
    np.testing.assert_allclose(terms[1:], [content_term, style_term, tv_term], rtol=2e-3)
    assert terms[0] == pytest.approx(content_term + style_term + tv_term, rel=2e-3)
    assert np.asarray(grad).shape == image.shape and np.any(np.asarray(grad) != 0)

    # The compiled step computes exactly what the plain functions compute, eagerly.
    outputs = compiled.extractor(backbones.preprocess("vgg19", image * 255.0))
    by_name = dict(zip(names, outputs, strict=True))
    plain = perceptual.perceptual_loss(
        image,
        [by_name[n] for n in content_layers],
        [by_name[n] for n in style_layers],
        content_targets,
        gram_targets,
        [2.0],
        [0.5, 1.5],
        loss_weights,
    )
    np.testing.assert_allclose(np.asarray(plain), terms, rtol=1e-5)


def _style_distance(extractor, picture: np.ndarray, style_grams) -> float:
    """The Gram distance to the style, summed over the style layers (raw, not normalised:
    an outside yardstick, not the loss that was optimised)."""
    outputs = extractor(backbones.preprocess("vgg19", picture[None].astype(np.float32)))
    return sum(
        float(np.mean((_gram(np.asarray(o)[0]) - g) ** 2))
        for o, g in zip(outputs, style_grams, strict=True)
    )


def test_default_weights_move_the_picture_toward_the_style_with_an_untrained_network():
    """Issue 13: with raw sums, an untrained VGG19 at the default weights had a total-
    variation term 10,000x its style term; 30 Adam steps only smoothed the picture and
    left it further from the style (Gram distance 1.27x the content's; the plain cookbook
    loop: 0.18x). Normalised, the same 30 steps must clearly move it toward the style."""
    from cnnstudio.core import layers

    model = backbones.build_backbone("vgg19", "random", include_top=False)
    content, style = _pictures(64)
    params = StyleParams(weights="random", size=64, steps=30, preview_interval=1e9)
    gen = job.stylize(content, style, params, model=model)
    progress = []
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            result = stop.value
            break
        if isinstance(event, Progress):
            progress.append(event)
    first = progress[0].terms
    assert first["tv"] < first["style"]  # no longer 10,000x the other way
    _, style_layers = params.layer_weights()
    extractor = layers.layer_outputs_model(model, list(style_layers))
    style_grams = [
        _gram(np.asarray(o)[0])
        for o in extractor(backbones.preprocess("vgg19", style[None].astype(np.float32)))
    ]
    before = _style_distance(extractor, content, style_grams)
    after = _style_distance(extractor, result, style_grams)
    assert after / before < 0.5, f"Gram distance ratio {after / before:.2f}"
