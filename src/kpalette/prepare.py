"""Reading an image once for fitting: ``prepare()`` and ``PreparedImage``.

The first step of the pipeline: a file, a file's bytes or an array becomes checked
(H, W, C) uint8 pixels and their colour histogram, which every fit then starts from.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import io
from .histogram import ColorHistogram, as_pixels, image_histogram
from .options import Options
from .progress import status

__all__ = ["PreparedImage", "binary_alpha", "prepare"]


class PreparedImage:
    """An image read, checked and counted once, ready to be fitted at any k.

    Attributes
    ----------
    original : (H, W, C) uint8 array
        The image as given, which the quality is measured against.
    fitted : (H, W, C) uint8 array
        The image fitted: ``original``, or a copy with alpha made binary
        (``Options.alpha_threshold``).
    source : Path or None
        The file it was read from.
    pixels : (H * W, C) uint8 array
        ``fitted`` flattened.
    histogram : ColorHistogram
        The colours of ``fitted`` (:func:`kpalette.histogram.image_histogram`).
    """

    def __init__(self, original, source, fitted):
        self.original = original
        self.source = source
        self.fitted = fitted
        self.pixels = fitted.reshape(-1, fitted.shape[-1])
        self.histogram: ColorHistogram = image_histogram(self.pixels)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)``."""
        return self.fitted.shape[:2]


def prepare(image, options: Options | None = None) -> PreparedImage:
    """Read (if a path), check and count an image once.

    Parameters
    ----------
    image : (H, W, 3|4) array, str / os.PathLike, bytes, or PreparedImage
        An array (see :func:`kpalette.histogram.as_pixels` for value ranges), a file, or
        a file's bytes (read by :func:`kpalette.io.load_image`). A PreparedImage is
        returned as is.
    options : Options, optional
        ``max_pixels`` and ``alpha_threshold`` are used.

    Returns
    -------
    PreparedImage
    """
    if isinstance(image, PreparedImage):
        return image
    options = Options() if options is None else options
    source = None
    if isinstance(image, bytes | bytearray):  # a file's bytes, read from a pipe
        image = io.load_image(
            bytes(image), max_pixels=options.max_pixels, max_expansion=options.max_expansion
        )
    elif isinstance(image, str | os.PathLike):
        source = Path(image)
        status(f"reading {source.name}")
        image = io.load_image(
            source, max_pixels=options.max_pixels, max_expansion=options.max_expansion
        )
    if np.ndim(image) != 3:
        raise ValueError(f"expected an (H, W, 3|4) image or a path, got shape {np.shape(image)}")
    pixels, leading = as_pixels(image)
    original = pixels.reshape(*leading, pixels.shape[1])
    status("counting colours")
    return PreparedImage(original, source, binary_alpha(original, options.alpha_threshold))


def binary_alpha(image: np.ndarray, threshold: int | None) -> np.ndarray:
    """``image`` with alpha below ``threshold`` made 0 (colour too) and the rest 255.

    Parameters
    ----------
    image : (H, W, C) uint8 array
    threshold : int in 1..255, or None

    Returns
    -------
    (H, W, C) uint8 array
        ``image`` itself when there is nothing to change (no threshold, no alpha, or
        alpha already 0 or 255 only), else a new array.
    """
    if threshold is None:
        return image
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 1 <= threshold <= 255:
        raise ValueError(f"alpha_threshold must be an integer in 1..255, got {threshold!r}")
    if image.shape[-1] != 4:
        return image
    alpha = image[..., 3]
    if not ((alpha > 0) & (alpha < 255)).any():
        return image
    visible = alpha >= threshold
    binary = np.where(visible[..., None], image, 0).astype(np.uint8)
    binary[..., 3] = np.where(visible, 255, 0)
    return binary
