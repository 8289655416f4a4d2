"""Dreaming toward a guide picture (Google's deepdream notebook, neural-dream): each
position is pulled toward the guide feature it matches best."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from dreams import make_photo, run

from cnnstudio.core.dream import job, tiled_step
from cnnstudio.core.dream.params import DreamParams, preset_params, validate_params
from cnnstudio.core.errors import InputError
from cnnstudio.core.image_saving import save_image


def edge_network() -> keras.Model:
    """Four fixed edge detectors (up, down, left and right edges; ReLU), pooled: a network
    whose features say plainly which way a picture's edges run, deterministic in every
    process (an untrained InceptionV3's features are nearly alike everywhere)."""
    line = np.array([-1, -2, 0, 2, 1], np.float32)
    smooth = np.array([1, 4, 6, 4, 1], np.float32) / 16
    across, down = np.outer(line, smooth), np.outer(smooth, line)
    kernel = np.zeros((5, 5, 3, 4), np.float32)
    for channel, edge in enumerate((across, -across, down, -down)):
        kernel[:, :, :, channel] = edge[:, :, None] / (3 * 255)
    inputs = keras.Input((None, None, 3))
    edges = keras.layers.Conv2D(4, 5, padding="same", activation="relu", use_bias=False)
    pooled = keras.layers.AveragePooling2D(4, name="pool")(edges(inputs))
    model = keras.Model(inputs, pooled)
    edges.set_weights([kernel])
    return model


def stripes() -> np.ndarray:
    """Horizontal stripes: edges that all run one way."""
    rows = np.mgrid[0:64, 0:64][0]
    return np.repeat((((rows // 4) % 2) * 200 + 28)[..., None], 3, axis=-1).astype(np.uint8)


def test_dreaming_toward_a_guide_matches_its_features_more_than_the_plain_objective(tmp_path):
    model, photo, guide = edge_network(), make_photo(), stripes()
    features = keras.Model(model.input, model.get_layer("pool").output)

    def match(picture: np.ndarray) -> float:
        """Cosine between the picture's mean features and the guide's."""
        mean = np.asarray(features(picture[None].astype(np.float32))).reshape(-1, 4).mean(0)
        target = np.asarray(features(guide[None].astype(np.float32))).reshape(-1, 4).mean(0)
        return float(mean @ target / np.linalg.norm(mean) / np.linalg.norm(target))

    plain = DreamParams(
        layers={"pool": 1.0}, octaves=1, steps=20, step_size=2.0, jitter=0, seed=0, max_size=None
    )
    guide_path = save_image(tmp_path / "stripes.png", guide)
    guided = plain.replace(objective="guide", guide=str(guide_path))
    toward_guide = run(job.dream(photo, guided, model=model))[1]  # the guide read from its file
    plain_result = run(job.dream(photo, plain, model=model))[1]
    start = match(photo)
    assert match(toward_guide) - start > 0.02
    assert match(toward_guide) - start > match(plain_result) - start + 0.02


def test_a_new_guide_picture_reuses_the_compiled_step():
    model, photo = edge_network(), make_photo()
    params = DreamParams(
        layers={"pool": 1.0}, objective="guide", guide="unused.png", octaves=1, steps=1,
        jitter=0, max_size=None,
    )  # fmt: skip
    first = run(job.dream(photo, params, model=model, guide=stripes()))[1]
    traces = tiled_step.step_traces()
    other_guide = np.ascontiguousarray(np.transpose(stripes(), (1, 0, 2))[:40])
    second = run(job.dream(photo, params, model=model, guide=other_guide))[1]
    assert tiled_step.step_traces() == traces
    assert not np.array_equal(first, second)  # the guide reaches the step


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"objective": "guide"}, "guide"),  # no picture
        ({"guide": "g.png"}, "objective"),  # a picture without the objective
        ({"objective": "guide", "guide": "g.png", "channel": ("mixed3", 2)}, "guide"),
        ({"objective": "guide", "guide": " "}, "guide"),
    ],
)
def test_guide_and_objective_come_together(changes, param):
    with pytest.raises(InputError) as caught:
        validate_params(DreamParams(**changes))
    assert caught.value.param == param


def test_a_preset_with_its_own_objective_drops_the_guide():
    guided = DreamParams(objective="guide", guide="g.png")
    assert preset_params("tf2", base=guided).guide is None
    validate_params(preset_params("motion", base=guided))
