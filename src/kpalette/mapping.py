"""From a fit to a result: the pixels mapped onto the palette (``from_fit``).

The step between :mod:`kpalette.fit` and :class:`kpalette.QuantizedImage`: every
pixel gets its palette index (its nearest entry, a neighbour's entry along a run, or
error diffusion), and the palette is ordered by share.
"""

from __future__ import annotations

import time

import numpy as np

from .dither import dither
from .fit import Fit
from .options import Options
from .palette import count_entries, order_by_share, sort_by_share
from .prepare import PreparedImage, binary_alpha
from .progress import status
from .result import QuantizedImage

__all__ = ["from_fit"]


def from_fit(
    fit: Fit,
    prepared: PreparedImage,
    options: Options,
    *,
    start: float | None = None,
    keep_order: bool = False,
) -> QuantizedImage:
    """The quantized image of a fit: pixels mapped (dithered if asked), palette by share.

    Parameters
    ----------
    fit : Fit
        A fit of ``prepared.histogram`` (:func:`kpalette.fit_histogram`).
    prepared : PreparedImage
    options : Options
        ``dither`` and ``alpha_threshold`` are used; the result keeps them.
    start : float, optional
        ``time.perf_counter()`` when the work began (for ``seconds``).
    keep_order : bool
        Keep the fit's palette as it is, every entry in its place, used or not (a
        palette shared by many images), rather than ordered by share.
    """
    start = time.perf_counter() if start is None else start
    status(f"{'dithering' if options.dither > 0 else 'mapping'} the pixels, k={fit.n_colors}")
    tolerance = fit.run_allowance(options)
    if options.dither > 0 or tolerance:
        # Each pixel mapped on its own (error diffusion, or runs of a neighbour's
        # entry): a colour may take several entries, so the shares are counted from
        # the pixels, and the measures made from them too.
        if options.dither > 0:
            labels = dither(prepared.fitted, fit.palette, strength=options.dither)
        else:
            labels = fit.pixel_labels(prepared.pixels, tolerance=tolerance, width=prepared.shape[1])
            labels = labels.reshape(prepared.shape)
        if keep_order:
            palette, indices = fit.palette, labels
            counts = count_entries(labels, fit.n_colors)
        else:
            palette, indices, counts, _ = sort_by_share(fit.palette, labels)
        color_table = None
    else:
        # Order the palette from the colour table (O(colours)), then map the pixels
        # once, straight to their final indices.
        colors, color_counts, entries = fit.color_table()
        entry_counts = np.bincount(entries, weights=color_counts, minlength=fit.n_colors)
        if keep_order:
            order = remap = np.arange(fit.n_colors)
        else:
            order, remap = order_by_share(entry_counts.astype(np.int64))
        palette = fit.palette[order]
        counts = entry_counts[order].astype(np.int64)
        indices = fit.pixel_labels(prepared.pixels, remap).reshape(prepared.shape)
        # The table maps the fitted image's colours: it measures only that image.
        measured = prepared.fitted is prepared.original
        color_table = (colors, color_counts, remap[entries]) if measured else None
    if options.alpha_threshold is not None and palette.shape[1] == 4:
        palette = binary_alpha(palette[None], options.alpha_threshold)[0]
    return QuantizedImage(
        palette,
        indices,
        counts=counts,
        original=prepared.original,
        source=prepared.source,
        seconds=time.perf_counter() - start,
        color_table=color_table,
        options=options.replace(k=fit.n_colors) if options.choice else options,
        inertia=fit.inertia,
        keep_order=keep_order,
    )
