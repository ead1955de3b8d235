"""Quality and size measures: MSE, PSNR, SSIM, bits per pixel.

All measures compare 8-bit images in 0..255 units. For RGBA images the colour channels
are compared premultiplied by alpha (what a viewer sees over black) together with the
alpha channel itself, so the hidden colour of a fully transparent pixel does not count.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "bits_per_pixel",
    "mean_squared_error",
    "peak_signal_noise_ratio",
    "structural_similarity",
]

_ROWS_PER_CHUNK = 256


def _check_pair(original: np.ndarray, other: np.ndarray) -> None:
    if original.shape != other.shape:
        raise ValueError(f"images must have the same shape, got {original.shape} and {other.shape}")
    if original.ndim != 3 or original.shape[2] not in (3, 4):
        raise ValueError(f"expected (H, W, 3) or (H, W, 4) images, got shape {original.shape}")


def _visible(block: np.ndarray) -> np.ndarray:
    """float64 copy; RGBA becomes premultiplied RGB plus alpha."""
    block = block.astype(np.float64)
    if block.shape[-1] == 4:
        block[..., :3] *= block[..., 3:4] / 255.0
    return block


def mean_squared_error(original: np.ndarray, other: np.ndarray) -> float:
    """Mean over pixels and channels of the squared difference, in 0..255 units.

    Parameters
    ----------
    original, other : (H, W, C) uint8 arrays, C = 3 or 4

    Returns
    -------
    mse : float

    Raises
    ------
    ValueError
        If the shapes differ or are not images.
    """
    _check_pair(original, other)
    total = 0.0
    for start in range(0, original.shape[0], _ROWS_PER_CHUNK):
        stop = start + _ROWS_PER_CHUNK
        diff = _visible(original[start:stop]) - _visible(other[start:stop])
        flat = diff.ravel()
        total += float(flat @ flat)
    return total / original.size


def peak_signal_noise_ratio(original: np.ndarray, other: np.ndarray, *, mse=None) -> float:
    """PSNR in dB for 8-bit images: ``10 log10(255^2 / MSE)``; ``inf`` when identical."""
    mse = mean_squared_error(original, other) if mse is None else mse
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def structural_similarity(original: np.ndarray, other: np.ndarray) -> float:
    """Mean SSIM over the channels (scikit-image, 7x7 window, data range 255).

    RGBA images are compared as premultiplied RGB plus alpha, as for the MSE.
    """
    _check_pair(original, other)
    from skimage.metrics import structural_similarity as ssim

    a, b = original, other
    if original.shape[2] == 4:
        a, b = _visible(original).astype(np.float32), _visible(other).astype(np.float32)
    else:
        a, b = a.astype(np.float32), b.astype(np.float32)
    if min(a.shape[:2]) < 7:
        return 1.0 if np.array_equal(a, b) else float("nan")
    return float(ssim(a, b, channel_axis=2, data_range=255.0))


def bits_per_pixel(n_bytes: int, n_pixels: int) -> float:
    """File size in bits divided by the number of pixels."""
    return 8.0 * n_bytes / n_pixels
