"""Optical flow for temporally consistent video (Ruder, Dosovitskiy & Brox 2016,
"Artistic style transfer for videos"), all from OpenCV.

Conventions. A flow is a float32 array (H, W, 2) of (dx, dy) on the grid of the image it
is computed *from*: ``flow = estimate(a, b)`` means ``a(x) ~ b(x + flow(x))``. So the
*backward* flow of frame t, ``estimate(frame_t, frame_t-1)``, tells where each pixel of
frame t was in frame t-1, and :func:`warp` of the previous output by it lines that output
up with frame t (backward warping: every output pixel is sampled, no holes).

- :func:`consistency_mask`: where the warped previous output can be trusted (Ruder et
  al. 2016, section 3.2): not where the forward and backward flows disagree (the pixel
  was hidden in frame t-1: a disocclusion) and not at motion boundaries.
- :func:`flicker`: the quality measure, the mean absolute difference between consecutive
  outputs once the earlier one is warped by the *input's* flow (what moved in the input
  may move in the output; anything else that changes is flicker).
"""

from __future__ import annotations

import cv2
import numpy as np

from cnnstudio.core.video.params import FLOW_METHODS


class FlowEstimator:
    """Dense optical flow between RGB frames: ``FlowEstimator("dis")(a, b)``.

    DIS (Kroeger et al. 2016) with OpenCV's MEDIUM preset is fast (tens of ms at 720p on
    a CPU) and keeps motion edges sharp; Farneback (2003) is smoother and slower.
    """

    def __init__(self, method: str = "dis") -> None:
        if method not in FLOW_METHODS:
            raise ValueError(f"flow method {method!r} is not one of {FLOW_METHODS}")
        self.method = method
        self._dis = (
            cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
            if method == "dis"
            else None
        )

    def __call__(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Flow from ``source`` to ``target`` (uint8 RGB of one size): ``source(x) ~
        target(x + flow(x))``."""
        first = cv2.cvtColor(np.ascontiguousarray(source), cv2.COLOR_RGB2GRAY)
        second = cv2.cvtColor(np.ascontiguousarray(target), cv2.COLOR_RGB2GRAY)
        if self._dis is not None:
            return self._dis.calc(first, second, None)
        return cv2.calcOpticalFlowFarneback(
            first,
            second,
            None,
            pyr_scale=0.5,
            levels=4,
            winsize=15,
            iterations=3,
            poly_n=5,
            poly_sigma=1.2,
            flags=0,
        )


def sample_grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions ``x + flow(x)`` as the x and y maps :func:`cv2.remap` takes."""
    height, width = flow.shape[:2]
    columns, rows = np.meshgrid(
        np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    )
    return columns + flow[..., 0], rows + flow[..., 1]


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at ``x + flow(x)`` (bilinear; positions outside repeat the
    border): the previous output warped by the backward flow lines up with this frame.
    Works on uint8 images and on float arrays (a flow warped by another flow)."""
    map_x, map_y = sample_grid(flow)
    return cv2.remap(
        image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def consistency_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Where frame t's warped predecessor can be trusted: float32 (H, W), 1 or 0.

    ``forward`` is the flow from frame t-1 to t, ``backward`` from t to t-1 (on frame t's
    grid). Following Ruder et al. (2016), with w the backward flow and w~ the forward flow
    warped to frame t (``w~(x) = forward(x + w(x))``):

    - disocclusion, where the two do not cancel:
      ``|w~ + w|^2 > 0.01 (|w~|^2 + |w|^2) + 0.5``;
    - motion boundary, where the backward flow changes fast:
      ``|grad u|^2 + |grad v|^2 > 0.01 |w|^2 + 0.002``;
    - and where ``x + w(x)`` falls outside frame t-1 (content that came into view).
    """
    forward_here = warp(forward, backward)
    backward_sq = np.sum(backward**2, axis=-1)
    disagree = np.sum((forward_here + backward) ** 2, axis=-1)
    occluded = disagree > 0.01 * (np.sum(forward_here**2, axis=-1) + backward_sq) + 0.5

    du_dy, du_dx = np.gradient(backward[..., 0])
    dv_dy, dv_dx = np.gradient(backward[..., 1])
    boundary = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2 > 0.01 * backward_sq + 0.002

    map_x, map_y = sample_grid(backward)
    height, width = backward.shape[:2]
    outside = (map_x < 0) | (map_x > width - 1) | (map_y < 0) | (map_y > height - 1)
    return (~(occluded | boundary | outside)).astype(np.float32)


def flicker(
    previous_output: np.ndarray,
    output: np.ndarray,
    backward: np.ndarray,
    mask: np.ndarray | None = None,
) -> float:
    """Mean absolute difference (0..255 levels) between ``output`` (frame t) and
    ``previous_output`` (frame t-1) warped by the input's backward flow of frame t;
    weighted by ``mask`` (:func:`consistency_mask`) where given, so disoccluded pixels,
    which may rightly change, do not count."""
    warped = warp(previous_output.astype(np.float32), backward)
    difference = np.abs(output.astype(np.float32) - warped).mean(axis=-1)
    if mask is None:
        return float(difference.mean())
    total = float(mask.sum())
    return float((difference * mask).sum() / total) if total > 0 else 0.0


class FlickerMeter:
    """The mean :func:`flicker` over a video, one frame pair at a time (no frames kept)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.pairs = 0

    def add(self, previous_output, output, backward, mask=None) -> float:
        value = flicker(previous_output, output, backward, mask)
        self.total += value
        self.pairs += 1
        return value

    @property
    def mean(self) -> float | None:
        return self.total / self.pairs if self.pairs else None
