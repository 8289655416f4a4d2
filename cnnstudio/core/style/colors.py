"""Keeping the content's colours (Gatys et al. 2016, "Preserving color in neural
artistic style transfer"), in numpy on uint8 RGB pictures.

- luminance-only transfer: optimise on grey pictures (:func:`luminance_image`), then put
  the content's chroma back on the result (:func:`transfer_luminance`);
- colour matching: give the style the content's palette first (:func:`match_colors`).
"""

from __future__ import annotations

import numpy as np


def rgb_to_ycbcr(image: np.ndarray) -> np.ndarray:
    """Full-range BT.601 (JPEG) Y, Cb, Cr as float, from RGB 0..255."""
    rgb = np.asarray(image, dtype=np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return np.stack([y, cb, cr], axis=-1)


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of rgb_to_ycbcr, float RGB (not clipped)."""
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 128.0, ycc[..., 2] - 128.0
    r = y + 1.402 * cr
    g = y - 0.344136 * cb - 0.714136 * cr
    b = y + 1.772 * cb
    return np.stack([r, g, b], axis=-1)


def transfer_luminance(result: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The result's luminance with the content's chroma (Gatys et al. 2016,
    "luminance-only transfer"), uint8 RGB. Both arrays have the same size."""
    ycc = rgb_to_ycbcr(result)
    ycc[..., 1:] = rgb_to_ycbcr(content)[..., 1:]
    return np.clip(np.rint(ycbcr_to_rgb(ycc)), 0, 255).astype(np.uint8)


def luminance_image(image: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """The luminance (Y) of ``image`` as grey uint8 RGB (Y in all three channels), for
    luminance-only transfer (Gatys et al. 2016). With ``reference``, Y is shifted and
    scaled to the reference's mean and spread, as the paper does with the style's
    luminance so that it matches the content's."""
    y = rgb_to_ycbcr(image)[..., 0]
    if reference is not None:
        ref = rgb_to_ycbcr(reference)[..., 0]
        y = (y - y.mean()) * (ref.std() / max(float(y.std()), 1e-6)) + ref.mean()
    grey = np.clip(np.rint(y), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def match_colors(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``source`` with the mean and covariance of ``reference``'s RGB colours (Gatys et
    al. 2016, colour histogram matching, the linear "image analogies" variant), uint8."""
    src = np.asarray(source, dtype=np.float64).reshape(-1, 3)
    ref = np.asarray(reference, dtype=np.float64).reshape(-1, 3)
    src_mean, ref_mean = src.mean(axis=0), ref.mean(axis=0)
    eps = 1e-5 * np.eye(3)  # flat images have a singular covariance
    src_cov = np.cov(src - src_mean, rowvar=False) + eps
    ref_cov = np.cov(ref - ref_mean, rowvar=False) + eps

    def sqrtm(matrix: np.ndarray, inverse: bool = False) -> np.ndarray:
        values, vectors = np.linalg.eigh(matrix)
        values = np.clip(values, 1e-8, None) ** (-0.5 if inverse else 0.5)
        return (vectors * values) @ vectors.T

    transform = sqrtm(src_cov, inverse=True) @ sqrtm(ref_cov)
    out = (src - src_mean) @ transform + ref_mean
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(np.shape(source))
