"""The style loss: the plain recipe functions against numpy, and the compiled program
against the plain functions. VGG19 with random weights on 32x40 pictures."""

from __future__ import annotations

import numpy as np
import pytest

from cnnstudio.core import backbones
from cnnstudio.core.style import losses, program


def _gram(features: np.ndarray) -> np.ndarray:
    flat = features.reshape(-1, features.shape[-1]).astype(np.float64)
    return flat.T @ flat / flat.shape[0]


def test_gram_matrix_is_features_transposed_times_features_over_positions():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(1, 4, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(losses.gram_matrix(features)), _gram(features), rtol=1e-5)


def test_the_plain_loss_functions_match_numpy():
    rng = np.random.default_rng(1)
    ours = [rng.normal(size=(1, 6, 5, c)).astype(np.float32) for c in (3, 4)]
    targets = [rng.normal(size=f.shape).astype(np.float32) for f in ours]
    weights = [2.0, 0.5]
    expected = sum(
        w * np.mean((f - t) ** 2) for w, f, t in zip(weights, ours, targets, strict=True)
    )
    assert float(losses.content_loss(ours, targets, weights)) == pytest.approx(expected, rel=1e-5)
    grams = [_gram(t) for t in targets]
    expected = sum(
        w * np.mean((_gram(f) - g) ** 2) for w, f, g in zip(weights, ours, grams, strict=True)
    )
    got = losses.style_loss(ours, [g.astype(np.float32) for g in grams], weights)
    assert float(got) == pytest.approx(expected, rel=1e-5)
    image = rng.uniform(0, 1, (1, 7, 9, 3)).astype(np.float32)
    pixels = image[0].astype(np.float64)
    tv = np.abs(np.diff(pixels, axis=0)).sum() + np.abs(np.diff(pixels, axis=1)).sum()
    assert float(losses.total_variation_loss(image)) == pytest.approx(tv, rel=1e-5)


def test_each_loss_term_matches_a_hand_computed_value():
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
    content_loss = (
        content_weight * 2.0 * np.mean((ours["block1_conv2"] - target_c["block1_conv2"]) ** 2)
    )
    style_loss = (
        style_weight
        / 2
        * sum(
            w * np.mean((_gram(ours[n]) - _gram(target_s[n])) ** 2) for n, w in style_layers.items()
        )
    )
    pixels = image[0].astype(np.float64)
    tv = tv_weight * (np.abs(np.diff(pixels, axis=0)).sum() + np.abs(np.diff(pixels, axis=1)).sum())
    terms = np.asarray(terms)
    np.testing.assert_allclose(terms[1:], [content_loss, style_loss, tv], rtol=2e-3)
    assert terms[0] == pytest.approx(content_loss + style_loss + tv, rel=2e-3)
    assert np.asarray(grad).shape == image.shape and np.any(np.asarray(grad) != 0)

    # The compiled step computes exactly what the plain recipe computes, eagerly.
    outputs = compiled.extractor(backbones.preprocess("vgg19", image * 255.0))
    by_name = dict(zip(names, outputs, strict=True))
    plain = losses.style_transfer_loss(
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
