"""How an optimised image is parameterised (Lucid's ``optvis.param``).

Optimising pixels directly gives high-frequency noise that excites a channel without
looking like anything: a gradient step changes single pixels. Olah et al. (Distill 2017,
"Preconditioning and Parameterization") optimise other variables instead:

- **a Fourier spectrum scaled by 1/frequency**: the image is the inverse real FFT of a
  spectrum whose coefficients are multiplied by ``1 / max(frequency, 1 / side)``, so a
  step changes low frequencies as much as high ones, as natural images have them
  (the scale also carries ``sqrt(height * width)``, which makes the transform unitary so
  the usual learning rates apply, and the image is divided by 4, as in Lucid);
- **decorrelated colours**: the three variables per pixel are mixed into RGB by the
  square root of ImageNet's colour covariance (its Cholesky/SVD root), so a step moves
  along the colour directions natural images vary in;
- **a sigmoid** maps the result into [0, 1].

:func:`params_from_rgb` is the exact inverse of :func:`to_rgb` (start from a picture).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

#: square root of ImageNet's colour correlation (Lucid's ``color_correlation_svd_sqrt``)
COLOR_CORRELATION_SVD_SQRT = np.asarray(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32
)
#: normalised so that its largest column has norm 1, as Lucid does
COLOR_MATRIX = COLOR_CORRELATION_SVD_SQRT / np.max(
    np.linalg.norm(COLOR_CORRELATION_SVD_SQRT, axis=0)
)
#: the Fourier image is divided by this (Lucid's ``fft_image``)
FOURIER_DIVISOR = 4.0
#: standard deviation of the random start
INIT_SD = 0.01


def decorrelate_colors(x: Any) -> Any:
    """Decorrelated colour variables (..., 3) -> RGB-correlated ones: each pixel's
    three values times the colour matrix's transpose (Lucid's ``_linear_decorelate_color``)."""
    return tf.tensordot(x, tf.constant(COLOR_MATRIX.T), axes=1)


def correlate_colors(x: np.ndarray) -> np.ndarray:
    """The inverse of :func:`decorrelate_colors`, in numpy (start from a picture)."""
    return np.asarray(x, np.float32) @ np.linalg.inv(COLOR_MATRIX.T).astype(np.float32)


def spectrum_shape(height: int, width: int) -> tuple[int, int]:
    """Rows and columns of the real FFT of a ``height`` x ``width`` image."""
    return int(height), int(width) // 2 + 1


def spectrum_scale(height: int, width: int) -> np.ndarray:
    """The 1/frequency scale of each coefficient of the real spectrum (rows, columns):
    ``sqrt(h * w) / max(f, 1 / max(h, w))``, ``f`` the coefficient's frequency."""
    fy = np.fft.fftfreq(int(height))[:, None]
    fx = np.fft.rfftfreq(int(width))[None, :]
    frequencies = np.sqrt(fx * fx + fy * fy)
    scale = 1.0 / np.maximum(frequencies, 1.0 / max(int(height), int(width)))
    return (scale * np.sqrt(float(height) * float(width))).astype(np.float32)


def init_params(
    batch: int, height: int, width: int, fourier: bool, rng: np.random.Generator
) -> np.ndarray:
    """A random start for ``batch`` images: a spectrum (batch, 2, 3, rows, columns) of
    real and imaginary parts, or pixels (batch, height, width, 3); small values (the image
    starts grey, with a trace of noise)."""
    if fourier:
        rows, columns = spectrum_shape(height, width)
        shape: tuple[int, ...] = (batch, 2, 3, rows, columns)
    else:
        shape = (batch, height, width, 3)
    return (INIT_SD * rng.standard_normal(shape)).astype(np.float32)


def fourier_image(params: Any, size: Any, scale: Any) -> Any:
    """A spectrum (batch, 2, 3, rows, columns) -> images (batch, height, width, 3);
    ``size`` = [height, width] (a tensor: one compiled graph serves every size)."""
    spectrum = tf.complex(params[:, 0] * scale, params[:, 1] * scale)
    image = tf.signal.irfft2d(spectrum, fft_length=size)  # (batch, 3, height, width)
    return tf.transpose(image, [0, 2, 3, 1]) / FOURIER_DIVISOR


def to_rgb(params: Any, size: Any, scale: Any, fourier: bool, decorrelate: bool) -> Any:
    """The images the parameters stand for: float32 (batch, height, width, 3) in (0, 1)."""
    image = fourier_image(params, size, scale) if fourier else params
    if decorrelate:
        image = decorrelate_colors(image)
    return tf.sigmoid(image)


def params_from_rgb(rgb: np.ndarray, fourier: bool, decorrelate: bool) -> np.ndarray:
    """Parameters whose :func:`to_rgb` is ``rgb`` (batch, height, width, 3) in (0, 1)
    (values are clipped a little inside, where the sigmoid can reach them)."""
    rgb = np.clip(np.asarray(rgb, np.float64), 1e-4, 1.0 - 1e-4)
    image = np.log(rgb / (1.0 - rgb)).astype(np.float32)
    if decorrelate:
        image = correlate_colors(image)
    if not fourier:
        return image.astype(np.float32)
    height, width = image.shape[1:3]
    channels_first = np.transpose(image, (0, 3, 1, 2)) * FOURIER_DIVISOR
    spectrum = np.fft.rfft2(channels_first) / spectrum_scale(height, width)
    return np.stack([spectrum.real, spectrum.imag], axis=1).astype(np.float32)
