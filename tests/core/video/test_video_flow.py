"""Optical flow, warping, the consistency mask of Ruder et al. 2016, the flicker measure."""

from __future__ import annotations

import numpy as np
import pytest
from video_clips import square_frames, texture

from cnnstudio.core.video.flow import (
    FlickerMeter,
    FlowEstimator,
    consistency_mask,
    flicker,
    warp,
)

INNER = (slice(10, -10), slice(10, -10))  # away from the borders, where content enters


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_flow_recovers_a_shift(method):
    image = texture(72, 96, seed=0)
    shifted = np.roll(image, (2, 3), axis=(0, 1))  # shifted(x) = image(x - (3, 2))
    flow = FlowEstimator(method)(shifted, image)  # shifted(x) ~ image(x + flow(x))
    assert np.median(flow[INNER], axis=(0, 1)) == pytest.approx([-3, -2], abs=0.1)


def test_unknown_flow_method_is_refused():
    with pytest.raises(ValueError, match="lucas"):
        FlowEstimator("lucas")


def test_warping_by_the_backward_flow_lines_the_previous_frame_up():
    previous, current = list(square_frames(2, step=4))
    backward = FlowEstimator("dis")(current, previous)
    warped = warp(previous, backward)
    assert warped.dtype == np.uint8 and warped.shape == current.shape
    square = (slice(20, 28), slice(22, 30))  # inside the square where it is now
    before = np.abs(previous.astype(int) - current)[square].mean()
    after = np.abs(warped.astype(int) - current)[square].mean()
    assert after < before / 3
    # a whole picture moved: warped back, it matches but for the entering border
    image = texture(72, 96, seed=0)
    shifted = np.roll(image, (2, 3), axis=(0, 1))
    aligned = warp(image, FlowEstimator("dis")(shifted, image))
    assert np.abs(aligned.astype(int) - shifted)[INNER].mean() < 1.0


def test_warp_with_zero_flow_is_the_identity():
    image = texture(24, 32, seed=3)
    assert np.array_equal(warp(image, np.zeros((24, 32, 2), np.float32)), image)


def square_flows(shape=(48, 64), x=16, size=12, step=6):
    """The exact flows of a square moving ``step`` px right over a still background:
    forward on the earlier frame's grid, backward on the later one's."""
    forward = np.zeros((*shape, 2), np.float32)
    backward = np.zeros((*shape, 2), np.float32)
    rows = slice(18, 18 + size)
    forward[rows, x : x + size, 0] = step
    backward[rows, x + step : x + step + size, 0] = -step
    return forward, backward


def test_consistency_mask_of_exact_flows_drops_disocclusions_and_motion_boundaries():
    forward, backward = square_flows()
    mask = consistency_mask(forward, backward)
    assert mask.shape == (48, 64) and mask.dtype == np.float32
    assert set(np.unique(mask)) == {0.0, 1.0}
    rows = slice(20, 28)
    assert mask[rows, 17:21].max() == 0.0  # x = 16..22 was hidden behind the square
    assert mask[rows, 24:32].min() == 1.0  # the square itself: the flows agree
    assert mask[rows, 22].max() == 0.0 and mask[rows, 33].max() == 0.0  # its edges
    assert mask[:14].min() == 1.0 and mask[34:].min() == 1.0  # the still background
    assert consistency_mask(backward * 0, backward * 0).min() == 1.0


def test_consistency_mask_of_estimated_flow_drops_most_of_the_disoccluded_region():
    frames = list(square_frames(7, step=6))
    estimate = FlowEstimator("dis")
    hidden, background = [], []
    for index in range(1, len(frames)):
        previous, current = frames[index - 1], frames[index]
        mask = consistency_mask(estimate(previous, current), estimate(current, previous))
        x = 16 + 6 * (index - 1)  # where the square was: hidden in the previous frame
        hidden.append(mask[20:28, x : x + 6].mean())
        background.append(mask[:12].mean())
    assert np.mean(hidden) < 0.3
    assert np.mean(background) > 0.9


def test_consistency_mask_drops_content_that_came_into_view():
    image = texture(48, 64, seed=4)
    previous, current = image[:, 4:], image[:, :-4]  # the camera pans left by 4 px
    estimate = FlowEstimator("farneback")
    mask = consistency_mask(estimate(previous, current), estimate(current, previous))
    # the 4 left columns of the current frame were not in the previous one
    assert mask[10:-10, :3].mean() == 0.0
    assert mask[10:-10, 12:-12].mean() > 0.9


def test_flicker_is_zero_for_outputs_that_follow_the_motion_and_high_for_noise():
    frames = list(square_frames(2, step=4))
    estimate = FlowEstimator("dis")
    backward = estimate(frames[1], frames[0])
    mask = consistency_mask(estimate(frames[0], frames[1]), backward)
    follows = flicker(frames[0], frames[1], backward, mask)
    rng = np.random.default_rng(0)
    noisy = [np.clip(f + rng.normal(0, 20, f.shape), 0, 255).astype(np.uint8) for f in frames]
    assert follows < 3.0
    assert flicker(noisy[0], noisy[1], backward, mask) > 5 * follows
    # with a mask of zeros nothing counts
    assert flicker(noisy[0], noisy[1], backward, np.zeros_like(mask)) == 0.0


def test_flicker_meter_averages_pairs():
    meter = FlickerMeter()
    assert meter.mean is None
    black, grey = np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 10, np.uint8)
    still = np.zeros((4, 4, 2), np.float32)
    meter.add(black, grey, still)
    meter.add(grey, grey, still)
    assert meter.mean == pytest.approx(5.0)
