"""Quality and size measures: MSE, PSNR, SSIM, mean CIEDE2000, bits per pixel.

All measures compare 8-bit images in 0..255 units. For RGBA images the colour channels
are compared premultiplied by alpha (what a viewer sees over black) together with the
alpha channel itself, so the hidden colour of a fully transparent pixel does not count.

When every input colour is mapped to one output colour (no dithering), the measures
that are sums over pixels are computed from the table of distinct colours, their
counts and their output colours (the ``*_from_table`` functions): exact, and
O(colours) instead of O(pixels).
"""

from __future__ import annotations

import math

import numpy as np

from ._kernels.measures import table_delta_e, table_squared_error
from ._kernels.ssim import SSIM_WINDOW, ssim_sums
from .colorspace import (
    RGB_TO_XYZ_OVER_WHITE,
    ciede2000_lab,
    premultiply,
    visible_lab,
    visible_linear_table,
)
from .histogram import color_chunks, pack_colors, unpack_colors

__all__ = [
    "bits_per_pixel",
    "color_index_pairs",
    "color_pairs",
    "mean_delta_e",
    "mean_delta_e_from_entries",
    "mean_delta_e_from_table",
    "mean_squared_error_from_entries",
    "mean_squared_error_from_table",
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

    return premultiply(block) if block.shape[-1] == 4 else block.astype(np.float64)


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
        total += float(np.einsum("i,i->", flat, flat))
    return total / original.size


def mean_squared_error_from_table(colors, counts, mapped) -> float:
    """MSE of an image given as distinct colours, their pixel counts and their outputs.

    Parameters
    ----------
    colors, mapped : (n, C) uint8 arrays
        Each distinct input colour and the colour it became.
    counts : (n,) integer array
        Pixels of each.

    Returns
    -------
    mse : float
        As :func:`mean_squared_error` on the pixels.
    """

    colors, mapped = np.asarray(colors), np.asarray(mapped)
    weights = np.asarray(counts, dtype=np.float64)
    total = 0.0
    for rows in color_chunks(len(colors)):
        diff = _visible(colors[rows]) - _visible(mapped[rows])
        total += float(np.einsum("i,ij,ij->", weights[rows], diff, diff))
    return total / (float(weights.sum()) * colors.shape[1])


def mean_squared_error_from_entries(colors, counts, palette, entries) -> float:
    """:func:`mean_squared_error_from_table` for colours mapped to entries of a palette.

    Parameters
    ----------
    colors : (n, C) uint8 array, C = 3 or 4
        Each distinct input colour.
    counts : (n,) integer array
        Pixels of each.
    palette : (m, C) array
    entries : (n,) integer array
        The entry of ``palette`` each colour became.

    Returns
    -------
    mse : float
    """

    colors, counts, entries = _table_arrays(colors, counts, entries)
    palette_visible = np.ascontiguousarray(_visible(np.asarray(palette)))
    total = table_squared_error(colors, counts, entries, palette_visible)
    return total / (float(counts.sum()) * colors.shape[1])


def _table_arrays(colors, counts, entries):
    """Colour table arrays in the types the compiled table sums take, copied only
    where they differ (one row per distinct colour: millions on translucent photos)."""
    colors = np.ascontiguousarray(colors)
    if colors.dtype != np.uint8 or colors.ndim != 2:
        raise ValueError(
            f"expected an (n, 3|4) uint8 colour table, got {colors.dtype} of shape {colors.shape}"
        )
    counts = np.ascontiguousarray(counts, dtype=np.int64)
    entries = np.asarray(entries)
    if entries.dtype not in (np.int32, np.int64):
        entries = entries.astype(np.int64)
    return colors, counts, np.ascontiguousarray(entries)


def color_pairs(original: np.ndarray, other: np.ndarray):
    """Distinct (original colour, output colour) pairs of two images and their counts.

    Returns
    -------
    colors, mapped : (n, C) uint8 arrays
    counts : (n,) int64 array
    """

    _check_pair(original, other)
    n_channels = original.shape[2]
    codes = pack_colors(original.reshape(-1, n_channels), np.uint64) << np.uint64(8 * n_channels)
    codes |= pack_colors(other.reshape(-1, n_channels), np.uint64)
    unique, counts = np.unique(codes, return_counts=True)
    channels = unpack_colors(unique, 2 * n_channels)
    return channels[:, :n_channels], channels[:, n_channels:], counts.astype(np.int64)


def color_index_pairs(original: np.ndarray, indices: np.ndarray, n_entries: int):
    """Distinct (original colour, palette index) pairs of an image and its index map,
    and their counts.

    The pairs are packed into one integer each, 32-bit when they fit (RGB with at
    most 256 entries), which NumPy sorts three times faster than 64-bit codes
    (:func:`color_pairs` packs both colours).

    Parameters
    ----------
    original : (H, W, C) uint8 array
    indices : (H, W) integer array, values < ``n_entries``
    n_entries : int

    Returns
    -------
    colors : (n, C) uint8 array
    entries : (n,) int64 array
    counts : (n,) int64 array
    """

    original, indices = np.asarray(original), np.asarray(indices)
    if original.ndim != 3 or indices.shape != original.shape[:2]:
        raise ValueError(
            f"expected an (H, W, C) image and an (H, W) index map, got shapes "
            f"{original.shape} and {indices.shape}"
        )
    n_channels = original.shape[2]
    index_bits = max(1, int(n_entries - 1).bit_length())
    dtype = np.uint32 if 8 * n_channels + index_bits <= 32 else np.uint64
    codes = pack_colors(original.reshape(-1, n_channels), dtype)
    codes <<= index_bits
    codes |= indices.reshape(-1).astype(dtype)
    unique, counts = np.unique(codes, return_counts=True)
    entries = (unique & ((1 << index_bits) - 1)).astype(np.int64)
    colors = unpack_colors(unique >> index_bits, n_channels)
    return colors, entries, counts.astype(np.int64)


def mean_delta_e_from_table(colors, counts, mapped) -> float:
    """Pixel-weighted mean CIEDE2000 between colours and what they became.

    RGBA colours are compared as seen over black (premultiplied by alpha).

    Parameters
    ----------
    colors, mapped : (n, C) arrays, C = 3 or 4
        Each distinct input colour and the colour it became (uint8, or 0..255 floats).
    counts : (n,) integer array
        Pixels of each.

    Returns
    -------
    delta_e : float
    """

    mapped = np.asarray(mapped)
    if mapped.dtype == np.uint8:
        # The outputs are few distinct colours (a palette) repeated: each is
        # converted to CIELAB once.
        codes, entries = np.unique(pack_colors(mapped), return_inverse=True)
        palette = unpack_colors(codes, mapped.shape[1])
        return mean_delta_e_from_entries(colors, counts, palette, entries.ravel())
    return _weighted_mean_delta_e(colors, counts, lambda rows: visible_lab(mapped[rows]))


def mean_delta_e_from_entries(colors, counts, palette, entries) -> float:
    """:func:`mean_delta_e_from_table` for colours mapped to entries of a palette.

    Parameters
    ----------
    colors : (n, C) array, C = 3 or 4
        Each distinct input colour (uint8, or 0..255 floats).
    counts : (n,) integer array
        Pixels of each.
    palette : (m, C) array
    entries : (n,) integer array
        The entry of ``palette`` each colour became.

    Returns
    -------
    delta_e : float
    """

    palette_lab = visible_lab(np.asarray(palette))
    colors = np.asarray(colors)
    if colors.dtype != np.uint8:
        entries = np.asarray(entries)
        return _weighted_mean_delta_e(colors, counts, lambda rows: palette_lab[entries[rows]])

    colors, counts, entries = _table_arrays(colors, counts, entries)
    linear_table = visible_linear_table(colors.shape[1])
    total = table_delta_e(colors, counts, entries, palette_lab, linear_table, RGB_TO_XYZ_OVER_WHITE)
    return total / float(counts.sum())


def _weighted_mean_delta_e(colors, counts, mapped_lab) -> float:
    """Mean CIEDE2000 over blocks of colours; ``mapped_lab(rows)`` gives the CIELAB of
    the outputs of a block."""

    colors = np.asarray(colors)
    weights = np.asarray(counts, dtype=np.float64)
    total = 0.0
    for rows in color_chunks(len(colors)):
        delta_e = ciede2000_lab(visible_lab(colors[rows]), mapped_lab(rows))
        total += float(np.einsum("i,i->", weights[rows], delta_e))
    return total / float(weights.sum())


def mean_delta_e(original: np.ndarray, other: np.ndarray) -> float:
    """Mean CIEDE2000 colour difference over the pixels (about 1: just noticeable).

    Parameters
    ----------
    original, other : (H, W, C) uint8 arrays, C = 3 or 4

    Returns
    -------
    delta_e : float
    """
    colors, mapped, counts = color_pairs(original, other)
    return mean_delta_e_from_table(colors, counts, mapped)


def peak_signal_noise_ratio(
    original: np.ndarray | None, other: np.ndarray | None, *, mse: float | None = None
) -> float:
    """PSNR in dB for 8-bit images: ``10 log10(255^2 / MSE)``; ``inf`` when identical.

    Of the two images, or of ``mse`` when it is given (the images are then not read).
    """
    if mse is None:
        if original is None or other is None:
            raise ValueError("peak_signal_noise_ratio needs two images, or mse")
        mse = mean_squared_error(original, other)
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def structural_similarity(original: np.ndarray, other: np.ndarray) -> float:
    """Mean SSIM over the channels: scikit-image's ``structural_similarity`` with its
    defaults (7 x 7 uniform window, sample covariance), data range 255.

    RGBA images are compared as premultiplied RGB plus alpha, as for the MSE. Images
    smaller than the window give 1.0 when identical, else NaN.

    Computed by ``_kernels.ssim.ssim_sums`` (tested equal to scikit-image to 1e-12),
    not by scikit-image itself, whose full-image float copies take 30 times the time
    and eight times the memory of a run on large photos; the kernel needs O(width)
    memory per thread.

    Parameters
    ----------
    original, other : (H, W, C) uint8 arrays, C = 3 or 4

    Returns
    -------
    ssim : float
        1 for identical images; lower is less similar.
    """
    _check_pair(original, other)
    for image in (original, other):
        if image.dtype != np.uint8:
            raise ValueError(f"expected uint8 images, got {image.dtype}")

    height, width, n_channels = original.shape
    if min(height, width) < SSIM_WINDOW:
        return 1.0 if np.array_equal(original, other) else float("nan")

    sums = ssim_sums(np.ascontiguousarray(original), np.ascontiguousarray(other), n_channels == 4)
    n_centres = (height - SSIM_WINDOW + 1) * (width - SSIM_WINDOW + 1)
    return float(np.mean(sums.sum(axis=0) / n_centres))


def bits_per_pixel(n_bytes: int, n_pixels: int) -> float:
    """File size in bits divided by the number of pixels."""
    return 8.0 * n_bytes / n_pixels
