"""Colour spaces for clustering: sRGB, CIELAB (D65) and OKLab, and CIEDE2000.

K-means in RGB minimises the squared error of the 8-bit values; in CIELAB or OKLab it
minimises a difference closer to what the eye sees, so the palette spends its colours
where people notice them. Each distinct colour is converted once, so the conversion is
applied to a histogram's colours, not to every pixel.

Why written here: scikit-image has CIELAB but no OKLab, is a large dependency for
one conversion, and converts through float copies of every colour; the table-driven
version here agrees with ``skimage.color.rgb2lab`` to 1e-9 (tested). The CIEDE2000
difference is scikit-image's formula, compiled.
"""

from __future__ import annotations

import functools

import numpy as np

from ._kernels.measures import ciede2000, lab_of_linear

__all__ = [
    "COLOR_SPACES",
    "check_color_space",
    "ciede2000_lab",
    "delta_e_ciede2000",
    "from_space",
    "premultiply",
    "rgb_to_lab",
    "rgb_to_oklab",
    "to_space",
    "unpremultiply",
    "visible_lab",
]

COLOR_SPACES = ("rgb", "lab", "oklab")

# sRGB (IEC 61966-2-1) primaries to CIE XYZ, D65 white.
_RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
#: sRGB linear light -> CIE XYZ, each row divided by the D65 white's coordinate.
RGB_TO_XYZ_OVER_WHITE = np.ascontiguousarray(_RGB_TO_XYZ / _WHITE_D65[:, None])

# OKLab (Ottosson 2020): linear sRGB -> LMS -> cube root -> Lab, and back.
_RGB_TO_LMS = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_LMS_TO_OKLAB = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
_OKLAB_TO_LMS = np.linalg.inv(_LMS_TO_OKLAB)
_LMS_TO_RGB = np.linalg.inv(_RGB_TO_LMS)

#: Scale that puts alpha (0..255) on the range of each space's lightness, for
#: clustering translucent colours: 0..255 in RGB, 0..100 in CIELAB, 0..1 in OKLab.
ALPHA_SCALE = {"rgb": 1.0, "lab": 100.0 / 255.0, "oklab": 1.0 / 255.0}


def check_color_space(color_space: str) -> str:
    """Return ``color_space`` if known, else raise ValueError naming the choices."""
    if color_space not in COLOR_SPACES:
        raise ValueError(
            f"color_space must be one of {', '.join(COLOR_SPACES)}, got {color_space!r}"
        )
    return color_space


def _srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """sRGB values 0..255 (any float or integer array) to linear light 0..1."""
    c = np.asarray(values, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


# 8-bit inputs are the common case: a 256-entry table replaces the power function.
_LINEAR_TABLE = _srgb_to_linear(np.arange(256))


def _linear(colors: np.ndarray) -> np.ndarray:
    colors = np.asarray(colors)
    if colors.dtype == np.uint8:
        return _LINEAR_TABLE[colors]
    return _srgb_to_linear(colors)


def _transform(colors: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``colors @ matrix.T`` for (n, 3) colours, without BLAS.

    A BLAS product leaves OpenBLAS threads spinning for a while on the cores that
    the compiled loops use next; ``einsum`` computes in the caller's thread.
    """
    return np.einsum("ij,kj->ik", colors, matrix)


def _linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light to sRGB 0..255 floats, clipped to the gamut."""
    c = np.clip(linear, 0.0, 1.0)
    srgb = np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1 / 2.4) - 0.055)
    return srgb * 255.0


def rgb_to_lab(colors: np.ndarray) -> np.ndarray:
    """CIELAB (D65, 2 degree observer) of sRGB colours.

    Parameters
    ----------
    colors : (n, 3) array
        sRGB in 0..255 (uint8 or float).

    Returns
    -------
    lab : (n, 3) float64 array
        L in 0..100, a and b roughly -128..127.
    """
    return _lab_of_linear(_linear(colors))


def _lab_of_linear(linear: np.ndarray) -> np.ndarray:
    """(n, 3) CIELAB of linear-light RGB, compiled (``_kernels.lab_of_linear``; its
    NumPy twin is ``tests/reference.lab_of_linear``)."""

    linear = np.ascontiguousarray(linear, dtype=np.float64).reshape(-1, 3)
    lab = np.empty_like(linear)
    lab_of_linear(linear, RGB_TO_XYZ_OVER_WHITE, lab)
    return lab


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """sRGB 0..255 floats (clipped to the gamut) of (n, 3) CIELAB colours."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[:, 0] + 16.0) / 116.0
    f = np.column_stack([fy + lab[:, 1] / 500.0, fy, fy - lab[:, 2] / 200.0])
    xyz = np.where(f > 0.2068966, f**3, (f - 16.0 / 116.0) / 7.787) * _WHITE_D65
    return _linear_to_srgb(_transform(xyz, _XYZ_TO_RGB))


def rgb_to_oklab(colors: np.ndarray) -> np.ndarray:
    """OKLab of sRGB colours: (n, 3) in 0..255 to (n, 3) float64 (L in 0..1)."""
    return _oklab_of_linear(_linear(colors))


def _oklab_of_linear(linear: np.ndarray) -> np.ndarray:
    return _transform(np.cbrt(_transform(linear, _RGB_TO_LMS)), _LMS_TO_OKLAB)


def oklab_to_rgb(oklab: np.ndarray) -> np.ndarray:
    """sRGB 0..255 floats (clipped to the gamut) of (n, 3) OKLab colours."""
    lms = _transform(np.asarray(oklab, dtype=np.float64), _OKLAB_TO_LMS) ** 3
    return _linear_to_srgb(_transform(lms, _LMS_TO_RGB))


def premultiply(colors: np.ndarray) -> np.ndarray:
    """RGBA as premultiplied float64: each colour channel times alpha / 255.

    What a translucent colour shows over black, with its alpha beside it: two RGBA
    colours that look alike over any background are close in these coordinates,
    whatever their hidden colour at low alpha.

    Parameters
    ----------
    colors : (..., 4) array in 0..255

    Returns
    -------
    (..., 4) float64 array
    """
    values = np.array(colors, dtype=np.float64)
    values[..., :3] *= values[..., 3:4] / 255.0
    return values


def unpremultiply(values: np.ndarray) -> np.ndarray:
    """Straight RGBA floats in 0..255 of premultiplied (n, 4) values.

    Alpha is clipped to 0..255 and rounded first, and the colour divided by the
    rounded alpha, so that a palette entry rounded from the result shows the colour
    asked for as nearly as 8 bits allow. Where alpha rounds to 0 the colour is 0.
    """
    values = np.asarray(values, dtype=np.float64)
    alpha = np.rint(np.clip(values[:, 3], 0.0, 255.0))
    scale = np.divide(255.0, alpha, out=np.zeros_like(alpha), where=alpha > 0)
    rgb = np.clip(values[:, :3] * scale[:, None], 0.0, 255.0)
    return np.column_stack([rgb, alpha])


@functools.cache
def _premultiplied_linear_table() -> np.ndarray:
    """(256, 256) table: linear light of channel value c premultiplied by alpha a, at
    [a, c]; the same arithmetic as :func:`premultiply` then :func:`_srgb_to_linear`,
    so looking it up gives the same values as computing them, once per (alpha,
    value) rather than once per colour."""
    alpha, channel = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    grid = np.stack([channel, channel, channel, alpha], axis=-1).reshape(-1, 4)
    return _srgb_to_linear(premultiply(grid)[:, 0]).reshape(256, 256)


def visible_linear_table(n_channels: int) -> np.ndarray:
    """Linear light of 8-bit channel values as seen over black, as the compiled table
    measures take it: (1, 256) for RGB; (256, 256) for RGBA, row = alpha."""
    if n_channels == 4:
        return _premultiplied_linear_table()
    return _LINEAR_TABLE.reshape(1, 256)


def _visible_linear(colors: np.ndarray) -> np.ndarray:
    """(n, 3) linear light of colours as seen over black: RGBA premultiplied by alpha."""
    colors = np.asarray(colors)
    if colors.shape[1] == 3:
        return _linear(colors)
    if colors.dtype == np.uint8:
        return _premultiplied_linear_table()[colors[:, 3:4], colors[:, :3]]
    return _srgb_to_linear(premultiply(colors)[:, :3])


def visible_lab(colors: np.ndarray) -> np.ndarray:
    """CIELAB of sRGB(A) colours as seen over black.

    Parameters
    ----------
    colors : (n, 3) or (n, 4) array in 0..255
        With alpha, each colour is premultiplied by it (:func:`premultiply`).

    Returns
    -------
    lab : (n, 3) float64 array
    """
    return _lab_of_linear(_visible_linear(colors))


def to_space(colors: np.ndarray, color_space: str) -> np.ndarray:
    """Coordinates of colours in ``color_space``.

    Parameters
    ----------
    colors : (n, 3) or (n, 4) array
        sRGB(A) in 0..255. With alpha the colour is premultiplied first
        (:func:`premultiply`: as seen over black) and alpha kept as a fourth
        coordinate, scaled by :data:`ALPHA_SCALE` so that it weighs about as much as
        lightness. So in RGB the squared distance is the one :mod:`kpalette.metrics`
        scores, and a colour's weight in a fit falls with its opacity.
    color_space : {"rgb", "lab", "oklab"}

    Returns
    -------
    coordinates : (n, 3) or (n, 4) float64 array
    """
    check_color_space(color_space)
    colors = np.asarray(colors)
    translucent = colors.shape[1] == 4
    if color_space == "rgb":
        return premultiply(colors) if translucent else colors.astype(np.float64)
    convert = _lab_of_linear if color_space == "lab" else _oklab_of_linear
    coordinates = convert(_visible_linear(colors))
    if translucent:
        alpha = colors[:, 3].astype(np.float64)
        coordinates = np.column_stack([coordinates, alpha * ALPHA_SCALE[color_space]])
    return coordinates


def from_space(coordinates: np.ndarray, color_space: str) -> np.ndarray:
    """sRGB(A) 0..255 floats of coordinates in ``color_space`` (inverse of :func:`to_space`).

    Colours outside the sRGB gamut are clipped to it. With alpha the result is
    straight (not premultiplied) RGBA, its alpha rounded (see :func:`unpremultiply`).
    """
    check_color_space(color_space)
    coordinates = np.asarray(coordinates, dtype=np.float64)
    if color_space == "rgb":
        rgb = np.clip(coordinates, 0.0, 255.0)
    else:
        convert = lab_to_rgb if color_space == "lab" else oklab_to_rgb
        rgb = convert(coordinates[:, :3])
    if coordinates.shape[1] == 4:
        alpha = coordinates[:, 3] / ALPHA_SCALE[color_space]
        rgb = unpremultiply(np.column_stack([rgb[:, :3], alpha]))
    return rgb


def delta_e_ciede2000(colors_a: np.ndarray, colors_b: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between pairs of sRGB colours.

    The formula of Sharma, Wu and Dalal (2005), as scikit-image's
    ``deltaE_ciede2000`` computes it (tested equal to it), in a compiled loop.
    Written here because importing ``skimage.color`` pulls in SciPy, which every
    ``kpalette compress`` would pay for, and compiled because it runs on every
    distinct colour.

    Parameters
    ----------
    colors_a, colors_b : (n, 3) arrays, sRGB in 0..255

    Returns
    -------
    delta_e : (n,) float64 array
        About 1 is a just-noticeable difference; 0 for equal colours.
    """
    return ciede2000_lab(rgb_to_lab(colors_a), rgb_to_lab(colors_b))


def ciede2000_lab(lab_a: np.ndarray, lab_b: np.ndarray) -> np.ndarray:
    """CIEDE2000 difference of pairs of CIELAB colours (see :func:`delta_e_ciede2000`).

    Parameters
    ----------
    lab_a, lab_b : (n, 3) float arrays

    Returns
    -------
    delta_e : (n,) float64 array
    """

    lab_a = np.ascontiguousarray(lab_a, dtype=np.float64)
    lab_b = np.ascontiguousarray(lab_b, dtype=np.float64)
    if lab_a.shape != lab_b.shape:
        raise ValueError(
            f"expected two arrays of the same shape, got {lab_a.shape} and {lab_b.shape}"
        )
    delta_e = np.empty(len(lab_a))
    ciede2000(lab_a, lab_b, delta_e)
    return delta_e
