"""The public way in: ``quantize()`` and its relatives.

Each reads the image once (:mod:`kpalette.prepare`), fits its histogram
(:mod:`kpalette.fit`) and maps the pixels (:mod:`kpalette.mapping`) into a
:class:`~kpalette.QuantizedImage`. When k is to be chosen (``k="auto"``, a target PSNR,
quality or size), :func:`kpalette.choose.choose_k` does it, with the same steps; this
module is the one above both, so the steps below never call back up.
"""

from __future__ import annotations

import time

import numpy as np

from . import io
from .choose import choose_k
from .fit import fit_histogram, palette_fit
from .histogram import rgb_histogram, sum_histograms
from .mapping import from_fit
from .options import Options
from .prepare import PreparedImage, binary_alpha, prepare
from .progress import status
from .result import QuantizedImage
from .threads import limited

__all__ = [
    "PreparedImage",
    "QuantizedImage",
    "binary_alpha",
    "fit_palette",
    "from_fit",
    "prepare",
    "quantize",
    "quantize_for",
    "quantize_many",
    "remap",
]


def _options(options, k, changes) -> Options:
    if k is not None:
        changes["k"] = k
    return Options.of(options, **changes)


def quantize(image, k=None, *, options: Options | None = None, **changes) -> QuantizedImage:
    """Reduce an image to k colours with K-means.

    Parameters
    ----------
    image : (H, W, 3|4) array, or str / os.PathLike
        An image array (uint8; whole numbers in 0..255; or floats in [0, 1]) or a
        file path.
    k : int or "auto", optional
        Number of colours (default 16), or "auto" to choose it (:func:`choose_k`).
    options : Options, optional
        Every setting at once; ``k`` and keyword arguments override its fields.
    **changes
        Any field of :class:`Options`: ``color_space``, ``dither``, ``seed``,
        ``n_init``, ``max_iter``, ``tol``, ``alpha_threshold``, ``max_pixels``,
        ``target_psnr``, ``max_bytes``.

    Returns
    -------
    QuantizedImage
        Palette sorted by share, index map, metrics, ``save()``. When k was chosen,
        its ``choice`` says how.

    Raises
    ------
    ImageReadError
        The file cannot be read as an image.
    ValueError
        An option out of range (the message quotes it), or a target that cannot be
        met.

    Examples
    --------
    >>> import numpy as np, kpalette
    >>> image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    >>> kpalette.quantize(image, 8).n_colors
    8
    """
    start = time.perf_counter()
    options = _options(options, k, changes)
    if options.choice is not None:
        return choose_k(image, options=options).result
    with limited(options.threads):
        prepared = prepare(image, options)
        status(f"fitting k={options.n_colors}")
        fit = fit_histogram(prepared.histogram, options)
        return from_fit(fit, prepared, options, start=start)


def quantize_many(image, ks, *, options: Options | None = None, **changes) -> list[QuantizedImage]:
    """:func:`quantize` for several numbers of colours, counting the colours once.

    Parameters
    ----------
    image : (H, W, 3|4) array, or str / os.PathLike
    ks : iterable of int
        Numbers of colours, e.g. ``range(2, 11)``.
    options, **changes
        As for :func:`quantize` (``k`` is taken from ``ks``).

    Returns
    -------
    list of QuantizedImage
        One per k, in the order of ``ks``; ``seconds`` is each fit's own time.
    """
    options = Options.of(options, **changes)
    with limited(options.threads):
        prepared = prepare(image, options)
        results = []
        for k in ks:
            start = time.perf_counter()
            at_k = options.replace(k=k)
            status(f"fitting k={k}")
            results.append(
                from_fit(fit_histogram(prepared.histogram, at_k), prepared, at_k, start=start)
            )
    return results


def quantize_for(
    image,
    output_format,
    *,
    truecolor: bool = False,
    palette: np.ndarray | None = None,
    options: Options | None = None,
    **changes,
) -> QuantizedImage:
    """:func:`quantize` for a file of ``output_format``: a palette without translucency
    for a format that has none (GIF), and a size target measured in that format.

    Parameters
    ----------
    image
        As for :func:`quantize`.
    output_format : kpalette.io.OutputFormat
        From :func:`kpalette.io.output_format` or ``io.OUTPUT_FORMATS``.
    truecolor : bool
        The file is written in full colour (no palette).
    palette : (m, 3) uint8 array, optional
        Map the image onto these colours (:func:`remap`) instead of fitting a palette.
    options, **changes
        As for :func:`quantize`; a way of choosing k is run by :func:`choose_k`.
    """
    options = Options.of(options, **changes)
    if output_format.palette and not truecolor and output_format.alpha == "binary":
        options = options.replace(alpha_threshold=io.GIF_ALPHA_THRESHOLD)
    if palette is not None:
        return remap(image, palette, options=options)
    if options.choice is None:
        return quantize(image, options=options)
    return choose_k(
        image, options=options, image_format=output_format.name, truecolor=truecolor
    ).result


def fit_palette(images, k=None, *, options: Options | None = None, **changes) -> np.ndarray:
    """One palette for many images: their colour histograms summed, then fitted once.

    Histograms are additive, so each image is read and counted once, on its own, and
    memory is bounded by the number of distinct colours, not of images.

    Parameters
    ----------
    images : iterable of arrays or paths
    k, options, **changes
        As for :func:`quantize` (``k`` a number).

    Returns
    -------
    (k, 3) uint8 array
        The palette, most used colour first (opaque: transparent pixels are left out
        of the fit and get an entry of their own when an image is mapped).
    """
    options = _options(options, k, changes)
    with limited(options.threads):
        histograms = []
        for image in images:
            prepared = prepare(image, options)
            histograms.append(rgb_histogram(prepared.pixels))
        total = sum_histograms(histograms)
        if total.n_colors == 0:
            raise ValueError("the images have no visible pixels to fit a palette to")
        fit = fit_histogram(total, options)
    counts = np.bincount(fit.labels, weights=total.counts, minlength=fit.n_colors)
    order = np.argsort(-counts, kind="stable")
    return np.ascontiguousarray(fit.palette[order, :3])


def remap(image, palette, *, options: Options | None = None, **changes) -> QuantizedImage:
    """Map an image onto a given palette (as pngquant's ``--map``): no fitting.

    Parameters
    ----------
    image : (H, W, 3|4) array, or str / os.PathLike
    palette : (m, 3) uint8 array
        From :func:`fit_palette` or :func:`kpalette.palette.read_palette`.
    options, **changes
        As for :func:`quantize`: ``color_space`` (where "nearest" is measured),
        ``dither``, ``max_pixels``, ``alpha_threshold``.

    Returns
    -------
    QuantizedImage
        Its palette is ``palette`` in the given order, every entry kept (plus a
        transparent entry after them when the image has transparent pixels), so that
        images mapped onto one palette have the same palette.
    """
    start = time.perf_counter()
    palette = np.asarray(palette, dtype=np.uint8)
    options = Options.of(options, **changes).replace(k=len(palette))
    with limited(options.threads):
        prepared = prepare(image, options)
        status(f"mapping onto {len(palette)} colours")
        fit = palette_fit(prepared.histogram, palette, options.color_space)
        return from_fit(fit, prepared, options, start=start, keep_order=True)
