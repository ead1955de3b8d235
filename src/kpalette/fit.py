"""``fit_histogram(histogram, options) -> Fit``: the one way into clustering.

Everything that fits a palette (``quantize``, the k sweeps, the estimators) counts the
image's colours once (:func:`kpalette.histogram.image_histogram`) and calls
:func:`fit_histogram`, which runs weighted K-means (:mod:`kpalette.kmeans`) on the
distinct colours in the asked colour space and returns a :class:`Fit`: the palette,
the palette entry of every distinct colour, the inertia and the iterations.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from ._kernels.measures import weighted_squared_distance
from ._kernels.nearest import assign
from ._kernels.runs import map_with_runs
from .colorspace import ALPHA_SCALE, from_space, to_space
from .exceptions import KPaletteWarning
from .histogram import ColorHistogram, labels_for_pixels, read_only
from .kmeans import PreparedPoints, kmeans_weighted
from .options import Options
from .salient import swap_in_distant

__all__ = [
    "Fit",
    "available_memory",
    "check_memory",
    "fit_bytes",
    "fit_histogram",
    "nearest_entries",
    "palette_fit",
    "prepare_points",
]

#: Distinct colours from which the refinement sorts a private copy of the colours in
#: place, and converts them again afterwards, rather than have its tree copy them:
#: the lower peak memory of translucent photos with millions of colours is worth the
#: second conversion there (see docs/how-it-works.md).
SORT_IN_PLACE_FROM = 1 << 21


@dataclass(frozen=True, eq=False)
class Fit:
    """A palette fitted to a colour histogram.

    Attributes
    ----------
    palette : (m, C) uint8 array
        The colours, in fit order (C: the channels of the pixels counted). When the
        histogram left out fully transparent pixels, the last entry is theirs,
        (0, 0, 0, 0).
    labels : (n,) int32 array
        Palette entry of each distinct colour of ``histogram``: the nearest rounded
        entry, so that what is written is what is measured.
    histogram : ColorHistogram
        The colours fitted (for k = 1 with transparent pixels, the histogram with
        them as one colour: see :meth:`ColorHistogram.with_transparent`).
    transparent_label : int or None
        Entry of the fully transparent pixels left out of ``histogram``.
    centers : (m, C) float64 array
        The cluster means in the clustering space.
    inertia : float
        Sum over the pixels of the squared distance to their centre, in the
        clustering space.
    n_iter : int
        Lloyd iterations of the kept run (0 when every colour is its own entry).
    color_space : str
    """

    palette: np.ndarray
    labels: np.ndarray
    histogram: ColorHistogram
    transparent_label: int | None
    centers: np.ndarray
    inertia: float
    n_iter: int
    color_space: str

    def __post_init__(self) -> None:
        # A value: read-only views of its arrays, shared by results and threads.
        for name in ("palette", "labels", "centers"):
            object.__setattr__(self, name, read_only(getattr(self, name)))

    @property
    def n_colors(self) -> int:
        """Number of palette entries."""
        return len(self.palette)

    @property
    def rms_error(self) -> float:
        """Root-mean-square distance from the pixels to their centres, in the
        clustering space (``sqrt(inertia / pixels)``): the size of the fit's error."""
        weight = float(self.histogram.counts.sum())
        return float(np.sqrt(self.inertia / weight)) if weight > 0 else 0.0

    def run_allowance(self, options: Options) -> float:
        """The ``tolerance`` of :meth:`pixel_labels` for ``options``: how much farther a
        neighbour's entry may be for a pixel to take it (``Options.run_tolerance``
        times :attr:`rms_error`; 0 with one entry, which every pixel takes anyway)."""
        return options.run_tolerance * self.rms_error if self.n_colors > 1 else 0.0

    def color_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(colors, counts, entries) over every pixel fitted: the exact mapping.

        ``colors`` (n, C) uint8 has the pixels' channels; the fully transparent
        pixels, when left out of the histogram, are one more row (0, 0, 0, 0), which
        is what they are once premultiplied. The quality measures take it in
        O(colours).
        """
        histogram = self.histogram
        colors, counts, labels = histogram.colors, histogram.counts, self.labels
        if colors.shape[1] < histogram.channels:
            colors = np.column_stack([colors, np.full(len(colors), 255, np.uint8)])
        if self.transparent_label is not None:
            colors = np.vstack([colors, np.zeros((1, histogram.channels), np.uint8)])
            counts = np.append(counts, histogram.n_transparent)
            labels = np.append(labels, np.int32(self.transparent_label))
        return colors, counts.astype(np.int64, copy=False), labels.astype(np.int32, copy=False)

    def entry_counts(self) -> np.ndarray:
        """(m,) int64 pixels of each palette entry."""
        colors, counts, entries = self.color_table()
        return np.bincount(entries, weights=counts, minlength=self.n_colors).astype(np.int64)

    def pixel_labels(
        self, pixels: np.ndarray, remap=None, *, tolerance: float = 0.0, width: int | None = None
    ) -> np.ndarray:
        """Palette entry of every pixel of the pixels counted, through ``remap`` if given.

        Parameters
        ----------
        pixels : (N, C) uint8 array
            The pixels the histogram was made of.
        remap : (m,) integer array, optional
            New index of each entry (a palette sorted by share).
        tolerance : float, default=0
            0: each pixel gets its colour's nearest entry (``labels``). Above 0, the
            pixels are an image ``width`` wide, and each may take the entry of its
            left or upper neighbour when that is at most ``tolerance`` farther from
            its colour, in the clustering space (``_kernels.runs.map_with_runs``):
            runs of one index that deflate finds, for a little more error.
        width : int, optional
            The image's width (needed with ``tolerance``).

        Returns
        -------
        (N,) array, uint8 when the palette has at most 256 entries, else int32
        """
        entry_of = np.arange(self.n_colors) if remap is None else np.asarray(remap)
        transparent = self.transparent_label
        if transparent is None and self.histogram.colors.shape[1] == 4 and pixels.shape[1] == 4:
            # k = 1 over transparent pixels: they share the one entry, whatever their colour.
            transparent = int(self.labels[0]) if self.histogram.colors[0, 3] == 0 else None
        dtype = np.uint8 if self.n_colors <= 256 else np.int32
        if tolerance > 0 and self.n_colors > 1:
            if width is None or width < 1 or len(pixels) % width:
                raise ValueError(f"tolerance needs the image's width, got {width!r}")
            entries = self._entries_with_runs(pixels, tolerance, width, transparent)
            if remap is None:  # the entries are the indices: no lookup over the pixels
                return entries.astype(dtype, copy=False)
            return entry_of[entries].astype(dtype, copy=False)
        labels = labels_for_pixels(
            pixels,
            self.histogram,
            entry_of[self.labels],
            transparent_label=None if transparent is None else int(entry_of[transparent]),
        )
        return labels.astype(dtype, copy=False)

    def _entries_with_runs(
        self, pixels: np.ndarray, tolerance: float, width: int, transparent: int | None
    ) -> np.ndarray:

        n = self.histogram.n_colors
        ids = labels_for_pixels(
            pixels,
            self.histogram,
            np.arange(n, dtype=np.int32),
            transparent_label=None if transparent is None else n,
        ).astype(np.int32, copy=False)
        out = np.zeros((len(pixels) // width, width), dtype=np.int32)
        if transparent is not None:
            hidden = ids == n
            ids = np.where(hidden, np.int32(-1), ids)
            out.reshape(-1)[hidden] = transparent
        points = np.ascontiguousarray(self.histogram.coordinates(self.color_space))
        # The entries as the colours are (RGB when the histogram counted opaque RGBA).
        entries = self.palette[:, : points.shape[1]]
        centers = np.ascontiguousarray(to_space(entries, self.color_space))
        map_with_runs(
            ids.reshape(out.shape),
            points,
            np.ascontiguousarray(self.labels, dtype=np.int32),
            centers,
            float(tolerance),
            out,
        )
        return out.reshape(-1)


def prepare_points(histogram: ColorHistogram, color_space: str) -> PreparedPoints | None:
    """The histogram's colours in ``color_space``, weighted by their counts, ready for
    many fits: :func:`fit_histogram` given it keeps the grids and search trees it
    builds there for the next fit (see :class:`kpalette.kmeans.PreparedPoints`).

    None from ``SORT_IN_PLACE_FROM`` distinct colours: each fit then sorts a private
    copy of them in place, and colours kept prepared would hold the memory that saves.
    """
    if histogram.n_colors >= SORT_IN_PLACE_FROM:
        return None
    return PreparedPoints(histogram.coordinates(color_space), histogram.counts)


def fit_histogram(
    histogram: ColorHistogram, options: Options, *, prepared: PreparedPoints | None = None
) -> Fit:
    """Fit ``options.n_colors`` colours to a colour histogram with weighted K-means.

    Parameters
    ----------
    histogram : ColorHistogram
        From :func:`kpalette.histogram.image_histogram` (or summed over images).
    options : Options
        ``k`` (a number: choose it first), ``color_space``, ``seed``, ``n_init``,
        ``max_iter`` and ``tol`` are used.
    prepared : PreparedPoints, optional
        From :func:`prepare_points` for this histogram and ``options.color_space``,
        shared by several fits (a sweep over k): the same result, in less time.

    Returns
    -------
    Fit

    Warns
    -----
    KPaletteWarning
        When the histogram has fewer distinct colours than k: the palette is then
        exactly those colours.

    Notes
    -----
    Translucent colours are clustered premultiplied by alpha, alpha beside them, so
    that in RGB the objective is the squared error :mod:`kpalette.metrics` reports.
    Fully transparent pixels left out of the histogram get an entry of their own
    (0, 0, 0, 0); translucent colours may take it too, held in place while the
    others are fitted around it.
    """
    if not isinstance(options, Options):
        raise TypeError(f"options must be an Options, got {type(options).__name__}")
    k = options.n_colors
    color_space = options.color_space
    if prepared is not None and prepared.points is not histogram.coordinates(color_space):
        raise ValueError(
            f"prepared holds other colours than this histogram's in {color_space!r}: "
            "make it with prepare_points(histogram, options.color_space)"
        )
    reserve = histogram.n_transparent > 0 and k >= 2
    if histogram.n_transparent and not reserve:
        histogram = histogram.with_transparent()
    n_channels = histogram.channels
    dims = histogram.colors.shape[1]
    k_fit = k - 1 if reserve else k
    weights = histogram.counts.astype(np.float64)
    sort_in_place = histogram.n_colors >= SORT_IN_PLACE_FROM and histogram.n_colors > k_fit
    # A private copy that the refinement may reorder, or the histogram's cached one.
    points = (
        to_space(histogram.colors, color_space)
        if sort_in_place
        else histogram.coordinates(color_space)
    )

    if prepared is not None and not sort_in_place and points is prepared.points:
        weights = prepared.weights
    else:  # the transparent pixels joined in (k = 1), or the colours sorted in place
        prepared = None
    check_memory(histogram.n_colors, dims, min(k_fit, histogram.n_colors))
    if histogram.n_colors <= k_fit:
        if histogram.n_colors < k_fit:
            n_distinct = histogram.n_colors + reserve  # fully transparent: one more
            warnings.warn(
                f"the input has {n_distinct} distinct colour{'' if n_distinct == 1 else 's'}"
                f"{' (fully transparent counted as one)' if reserve else ''}, fewer than "
                f"k={k}; the palette is those colours exactly",
                KPaletteWarning,
                stacklevel=2,
            )
        centers = points.copy()
        color_labels = np.arange(histogram.n_colors, dtype=np.int32)
        n_iter = 0
    else:
        hold_transparent = reserve and dims == n_channels
        centers, color_labels, _, n_iter = kmeans_weighted(
            points,
            weights,
            k_fit,
            n_init=options.n_init,
            max_iter=options.max_iter,
            tol=options.tol,
            rng=options.seed,
            fixed=to_space(np.zeros((1, 4), np.uint8), color_space) if hold_transparent else None,
            sort_in_place=sort_in_place,
            prepared=prepared,
        )
        if sort_in_place:  # the copy came back reordered: converted again, once freed
            del points, weights
            points = to_space(histogram.colors, color_space)
            weights = histogram.counts.astype(np.float64)
        if options.tune == "eye" and not hold_transparent:
            # Small, distinct colours keep an entry of their own (salient.SALIENCE).
            centers, color_labels = swap_in_distant(
                points, weights, centers, color_labels, max_swaps=min(4, max(1, k_fit // 8))
            )
        if hold_transparent:  # held first in the fit, last in the palette
            centers = centers[1:]
            color_labels = np.where(color_labels == 0, k_fit, color_labels - 1).astype(np.int32)
    colors = from_space(centers, color_space)
    if dims < n_channels:
        colors = np.column_stack([colors, np.full(len(colors), 255.0)])
        centers = np.column_stack(
            [centers, np.full(len(centers), 255.0 * ALPHA_SCALE[color_space])]
        )
    reserved = len(centers) if reserve else None
    if reserve:
        centers = np.vstack([centers, to_space(np.zeros((1, n_channels), np.uint8), color_space)])
        colors = np.vstack([colors, np.zeros((1, n_channels))])
    palette = np.clip(np.rint(colors), 0, 255).astype(np.uint8)

    # Final labels against the rounded palette: what is written is what is scored.
    # (When every colour is its own entry, each is its own nearest.)
    if n_iter or histogram.n_colors > k_fit:
        color_labels = nearest_entries(
            points, palette, color_space, dims=dims, reserved=reserved, start=color_labels
        )
    return _fit(histogram, points, palette, color_labels, centers, reserved, n_iter, color_space)


def _fit(histogram, points, palette, labels, centers, reserved, n_iter, color_space) -> Fit:
    """The :class:`Fit` of these entries and labels, its inertia summed in the clustering
    space (the histogram's ``points``, against the centres' first coordinates)."""

    dims = points.shape[1]
    inertia = weighted_squared_distance(
        np.ascontiguousarray(points, dtype=np.float64),
        np.ascontiguousarray(histogram.counts, dtype=np.int64),
        labels,
        np.ascontiguousarray(centers[:, :dims]),
    )
    return Fit(
        palette=palette,
        labels=labels,
        histogram=histogram,
        transparent_label=reserved,
        centers=centers,
        inertia=float(inertia),
        n_iter=int(n_iter),
        color_space=color_space,
    )


def palette_fit(histogram: ColorHistogram, palette, color_space: str = "rgb") -> Fit:
    """A :class:`Fit` of a given palette: every colour of ``histogram`` takes its nearest
    entry, no clustering (an image mapped onto a palette fitted elsewhere).

    Parameters
    ----------
    histogram : ColorHistogram
        From :func:`kpalette.histogram.image_histogram`.
    palette : (m, 3) uint8 array
        Opaque colours. When the histogram left out fully transparent pixels, a
        transparent entry (0, 0, 0, 0) is added after them.
    color_space : str
        Where "nearest" is measured.

    Returns
    -------
    Fit
        ``n_iter`` 0; ``inertia`` the squared distances in ``color_space``.
    """
    palette = np.asarray(palette, dtype=np.uint8)
    if palette.ndim != 2 or palette.shape[1] != 3 or not 1 <= len(palette) <= 256:
        raise ValueError(
            f"expected an (m, 3) uint8 palette of 1 to 256 colours, got {palette.shape}"
        )
    if histogram.n_transparent and len(palette) < 2:
        histogram = histogram.with_transparent()
    n_channels = histogram.channels
    dims = histogram.colors.shape[1]
    entries = palette
    if n_channels == 4:
        entries = np.column_stack([palette, np.full(len(palette), 255, np.uint8)])
    reserved = None
    if histogram.n_transparent:
        reserved = len(entries)
        entries = np.vstack([entries, np.zeros((1, 4), np.uint8)])
    points = histogram.coordinates(color_space)
    labels = nearest_entries(points, entries, color_space, dims=dims, reserved=reserved)
    centers = to_space(entries, color_space)
    return _fit(histogram, points, entries, labels, centers, reserved, 0, color_space)


def fit_bytes(n_colors: int, dims: int, k: int) -> int:
    """Bytes a fit of ``k`` centres to ``n_colors`` colours of ``dims`` coordinates
    allocates at most, in the compiled walk's buffers and the copies of the colours.

    The walk keeps, per task (73 tasks in three coordinates, 273 in four), a list of
    candidate centres for each tree level and a sum per centre: linear in k.
    """
    tasks = 1 + (1 << dims) + (1 << (2 * dims)) if dims <= 4 else 1 + (1 << dims)
    levels = 10
    walk = (tasks + 1) * levels * k * 4 + tasks * k * (dims + 1) * 8
    colours = n_colors * (dims * 8 * 4 + 8 * 4)  # coordinates, tree copies, labels, weights
    return walk + colours


def available_memory() -> int | None:
    """Bytes of memory the system says are available, or None where it cannot say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(n_colors: int, dims: int, k: int) -> None:
    """Refuse, before allocating anything, a fit that would need more memory than is
    available (k of the order of 10^5 and more).

    Raises
    ------
    MemoryError
        With a message that says what was asked and what is available.
    """
    needed = fit_bytes(n_colors, dims, k)
    available = available_memory()
    if available is not None and needed > available:
        raise MemoryError(
            f"k={k} on {n_colors:,} distinct colours needs about {needed / 1e9:.1f} GB, "
            f"more than the {available / 1e9:.1f} GB available; ask for fewer colours"
        )


def nearest_entries(
    points, palette, color_space: str, *, dims: int | None = None, reserved=None, start=None
) -> np.ndarray:
    """Index of the nearest palette entry of each point, searched in the clustering space.

    Parameters
    ----------
    points : (n, dims) float64 array
        Colours in ``color_space`` (premultiplied when translucent, see
        :func:`kpalette.colorspace.to_space`).
    palette : (m, C) uint8 array
    color_space : str
    dims : int, optional
        Channels of ``points`` (default: the palette's).
    reserved : int, optional
        The entry of fully transparent pixels. When the visible colours are opaque
        and clustered as RGB it is left out of the search (it would read as black);
        when they are translucent it is a candidate like the others.
    start : (n,) integer array, optional
        A first guess per point (the fit's labels), which speeds up the search.

    Returns
    -------
    (n,) int32 array
    """

    palette = np.asarray(palette, dtype=np.uint8)
    dims = palette.shape[1] if dims is None else dims
    candidates = palette[:, :dims]
    if reserved is not None and dims < palette.shape[1]:
        candidates = candidates[:reserved]
    entries = np.ascontiguousarray(to_space(candidates, color_space))
    points = np.ascontiguousarray(points, dtype=np.float64)
    labels = (
        np.zeros(len(points), dtype=np.int32)
        if start is None
        else np.array(start, dtype=np.int32, copy=True)
    )
    assign(points, entries, labels, np.empty(len(points)))
    return labels
