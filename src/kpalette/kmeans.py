"""K-means colour quantization over the weighted colour histogram.

``KMeansQuantizer`` has the shape of scikit-learn's ``KMeans`` (``fit``, ``predict``,
``fit_predict``, ``cluster_centers_``, ``labels_``, ``inertia_``, ``n_iter_``) but
clusters the distinct colours of the input, each weighted by its number of pixels:
the same objective as K-means on every pixel, at a fraction of the work.
"""

from __future__ import annotations

import numbers
import random
import warnings

import numpy as np

from .colorspace import ALPHA_SCALE, check_color_space, from_space, to_space
from .exceptions import KPaletteWarning
from .histogram import color_histogram, labels_for_pixels

__all__ = [
    "KMeansQuantizer",
    "KPaletteWarning",
    "PreparedInput",
    "as_pixels",
    "lloyd",
    "kmeans_weighted",
    "grid_means",
]


# --------------------------------------------------------------------------- input checks
def as_pixels(X) -> tuple[np.ndarray, tuple[int, ...]]:
    """Validate an image or pixel array and flatten it to pixels.

    Parameters
    ----------
    X : (H, W, C) or (N, C) array, C = 3 or 4
        uint8 colours; integer or float arrays holding whole numbers in 0..255; or
        floats in [0, 1] (as ``matplotlib.pyplot.imread`` returns for PNG files),
        which are scaled to 0..255.

    Returns
    -------
    pixels : (N, C) uint8 array
    leading_shape : tuple
        ``(H, W)`` or ``(N,)``: the shape of one label per pixel.

    Raises
    ------
    ValueError
        For any other shape, or values outside the ranges above.
    """
    X = np.asarray(X)
    if X.ndim not in (2, 3) or X.shape[-1] not in (3, 4):
        raise ValueError(
            "expected an (H, W, 3|4) image or an (N, 3|4) pixel array, "
            f"got an array of shape {X.shape}"
        )
    if X.size == 0:
        raise ValueError(f"expected at least one pixel, got an array of shape {X.shape}")
    if X.dtype != np.uint8:
        if X.dtype.kind not in "iuf" and X.dtype != np.bool_:
            raise ValueError(f"expected numeric colour values, got dtype {X.dtype}")
        values = X.astype(np.float64)
        if not np.isfinite(values).all():
            raise ValueError("colour values must be finite, got NaN or infinity")
        low, high = values.min(), values.max()
        if X.dtype.kind == "f" and low >= 0.0 and high <= 1.0:
            values = np.rint(values * 255.0)
        elif low < 0.0 or high > 255.0 or not np.array_equal(values, np.rint(values)):
            raise ValueError(
                "expected colour values as whole numbers in 0..255 or floats in [0, 1], "
                f"got values from {low:g} to {high:g} of dtype {X.dtype}"
            )
        X = values.astype(np.uint8)
    leading = X.shape[:-1]
    return np.ascontiguousarray(X.reshape(-1, X.shape[-1])), leading


def _check_params(n_colors, n_init, max_iter, tol, color_space) -> None:
    check_color_space(color_space)
    if not isinstance(n_colors, numbers.Integral) or isinstance(n_colors, bool) or n_colors < 1:
        raise ValueError(f"n_colors must be an integer >= 1, got {n_colors!r}")
    if n_init != "auto" and (
        not isinstance(n_init, numbers.Integral) or isinstance(n_init, bool) or n_init < 1
    ):
        raise ValueError(f"n_init must be 'auto' or an integer >= 1, got {n_init!r}")
    if not isinstance(max_iter, numbers.Integral) or isinstance(max_iter, bool) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if not isinstance(tol, numbers.Real) or tol < 0:
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")


# --------------------------------------------------------------------------- the algorithm
def lloyd(
    points,
    weights,
    centers,
    *,
    max_iter=300,
    tol=0.0,
    tree=None,
    overrelaxation=1.0,
    energy_tol=0.0,
    n_fixed=0,
):
    """Weighted Lloyd iterations from given centres.

    Parameters
    ----------
    points : (n, d) float64 array
    weights : (n,) float64 array
    centers : (k, d) float64 array
        Starting centres (not modified).
    max_iter : int
    tol : float
        Absolute tolerance on the summed squared centre shift.
    tree : _kernels.PointTree, optional
        The points' grid tree, when several runs share the points (built otherwise).
    overrelaxation : float
        Steps go this many times as far as Lloyd's while they lower the energy
        (1: plain Lloyd); see ``_kernels.lloyd``.
    energy_tol : float
        Stop when a step lowers the energy (the inertia) by less than this fraction
        of it (0: only the other rules stop a run).
    n_fixed : int
        The first ``n_fixed`` centres stay where they are; the others are fitted
        around them.

    Returns
    -------
    centers : (k, d) float64 array
    labels : (n,) int32 array
        Nearest centre of each point for the returned centres.
    inertia : float
        ``sum(weights * |points - centers[labels]|^2)``.
    n_iter : int

    Notes
    -----
    When ``tree`` was built ``in_place``, ``points`` and ``weights`` are its sorted
    rows, and the labels are those of the rows as they were before it sorted them.
    """
    from . import _kernels

    points = np.ascontiguousarray(points, dtype=np.float64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    centers = np.array(centers, dtype=np.float64)
    labels = np.empty(len(points), dtype=np.int32)
    dist2 = np.empty(len(points))
    n_iter = _kernels.lloyd(
        points,
        weights,
        centers,
        labels,
        dist2,
        max_iter,
        tol,
        tree,
        overrelaxation,
        energy_tol,
        n_fixed,
    )
    if tree is not None and tree.in_place:  # weights in the tree's order, dist2 in ours
        inertia = float(np.einsum("i,i->", weights, dist2[tree.order]))
    else:
        inertia = float(np.einsum("i,i->", weights, dist2))  # no (n,) temporary
    return centers, labels, inertia, n_iter


class _StandardUniforms:
    """Uniform numbers in [0, 1) from the standard library's Mersenne Twister, drawn
    with the ``random(size)`` of a NumPy ``Generator`` (float64 array of that shape)."""

    def __init__(self, seed: int | None) -> None:
        self._generator = random.Random(seed)

    def random(self, size) -> np.ndarray:
        count = int(np.prod(size))
        draw = self._generator.random
        return np.fromiter((draw() for _ in range(count)), np.float64, count).reshape(size)


def random_source(random_state):
    """Where the k-means++ draws come from, by ``random_state``.

    An int (0 or more) or None seeds the standard library's Mersenne Twister
    (``random.Random``), whose ``random()`` sequence for an int seed Python keeps the
    same across versions. The module is loaded anyway (by ``tempfile``), where
    ``numpy.random`` took 9-10 ms of every ``kpalette compress`` to import, 4% of a
    run on a 2 MP photo. A NumPy ``Generator`` (or a ``SeedSequence`` or
    ``BitGenerator``) is drawn from itself. The draws are the same for the same seed
    and ``n_init``, whatever the machine and number of threads.

    Returns
    -------
    object with ``random(size) -> float64 array``
    """
    if random_state is None or isinstance(random_state, numbers.Integral):
        if random_state is not None and random_state < 0:
            raise ValueError(f"random_state must be 0 or more, got {random_state}")
        return _StandardUniforms(None if random_state is None else int(random_state))
    if hasattr(random_state, "random"):  # a Generator, or a source from this function
        return random_state
    return np.random.default_rng(random_state)


def init_plusplus(points, weights, k, rng, *, tree=None, n_starts=1, fixed=None) -> np.ndarray:
    """Greedy k-means++ starts: (n_starts, k, d) centres chosen among ``points``.

    The starts are drawn one after the other from ``rng`` (the same numbers as
    ``n_starts`` calls for one start each) and computed side by side.
    ``tree`` is the points' ``_kernels.PointTree`` when the caller has it (built
    otherwise). ``fixed``, (m, d), are centres already chosen: the k are drawn
    around them, and the result is (n_starts, m + k, d), ``fixed`` first.
    """
    from ._kernels import PointTree, kmeans_plusplus

    if tree is None:
        tree = PointTree(
            np.ascontiguousarray(points, dtype=np.float64),
            np.ascontiguousarray(weights, dtype=np.float64),
        )
    n_trials = 2 + int(np.log(k))
    if fixed is None:
        uniforms = rng.random((n_starts, 1 + (k - 1) * n_trials))
        return points[kmeans_plusplus(tree, k, n_trials, uniforms)]
    fixed = np.ascontiguousarray(fixed, dtype=np.float64)
    uniforms = rng.random((n_starts, k * n_trials))
    chosen = points[kmeans_plusplus(tree, k, n_trials, uniforms, fixed)]
    return np.concatenate([np.broadcast_to(fixed, (n_starts, *fixed.shape)), chosen], axis=1)


def grid_means(points, weights, cells_per_axis=32):
    """Merge points that share a cell of a regular grid into their weighted mean.

    Parameters
    ----------
    points : (n, d) float64 array
    weights : (n,) float64 array
    cells_per_axis : int
        Cells along each axis of the points' bounding box (32 on 0..255 RGB is a
        5-bit histogram).

    Returns
    -------
    means : (m, d) float64 array
    totals : (m,) float64 array
        Summed weight of each non-empty cell.
    """
    from ._kernels import grid_means as compiled_grid_means

    means, totals, _ = compiled_grid_means(
        np.ascontiguousarray(points, dtype=np.float64),
        np.ascontiguousarray(weights, dtype=np.float64),
        cells_per_axis,
    )
    return means, totals


#: Fewest grid cells per centre for the coarse starts to be as good as full ones.
#: Measured at k = 256: 6.5 cells per centre ended 29% above the full-histogram
#: result (wood.jpg), 25 cells 9% above (hubble_deep_field.jpg); at 60-100 cells the
#: difference was within 0.2%.
MIN_CELLS_PER_CENTER = 64


def _coarse_version(points, weights, k):
    """A grid histogram with at least ``MIN_CELLS_PER_CENTER * k`` cells, else the data.

    Seeding k-means++ on a coarser grid is cheaper but was measured to end 7% above
    scikit-learn at k = 256 on a photo with few distinct colours (16 cells per centre).

    Colours (three coordinates) try the finer 64-cell grid first, and take it when it
    still halves the data: the starts are ranked by their inertia on the grid, and on
    a 32-cell grid that ranking misled. On hubble_deep_field.jpg at k = 16, seed 5,
    its four best starts ended 0.6-1.0% above scikit-learn's median once refined,
    where four others ended at or below it. Over seeds 0-7 at k = 16 the worst ratio
    to that median went from 1.0081 to 1.0006 there, from 1.0001 to 0.9899 on
    string.jpg and from 1.0017 to 1.0000 on retina.jpg (no worse than 0.9933 on seven
    other photos), for 0.01-0.03 s more per fit. Translucent colours (four) keep
    32 first: 64 cells per axis in four dimensions need a hash table twice the size
    of the data (1 GB for 19.9M colours).
    """
    for cells_per_axis in (64, 32) if points.shape[1] <= 3 else (32, 64):
        if len(points) < 2 * MIN_CELLS_PER_CENTER * k:
            break
        grid_points, grid_weights = grid_means(points, weights, cells_per_axis)
        if len(grid_points) >= MIN_CELLS_PER_CENTER * k and 2 * len(grid_points) <= len(points):
            return grid_points, grid_weights
    return points, weights


def _relative_tolerance(points, weights, tol) -> float:
    # einsum, not ``@``: a BLAS call here leaves OpenBLAS threads spinning on the
    # cores the compiled loops need next (measured: 30% of the samples of a fit).
    # No (n, d) temporaries: a translucent photo has millions of distinct colours.
    total = weights.sum()
    mean = np.einsum("i,ij->j", weights, points) / total
    variance = np.einsum("i,ij,ij->j", weights, points, points) / total - mean * mean
    return float(np.mean(np.maximum(variance, 0.0))) * tol


def auto_starts(k: int) -> tuple[int, int, int | None]:
    """(starts, refined, screening iterations) for ``n_init="auto"``.

    Different k-means++ starts end in local optima up to a few percent apart at small
    k, and less than half a percent apart at k = 256 (measured on photos), so small k
    gets many cheap starts on the coarse grid, each run to convergence, and its best
    few are refined on the full histogram; the best refined one wins.

    Above k = 128 one start runs ``SCREENING_ITERATIONS`` Lloyd iterations on the
    coarse grid and goes on to convergence on the full histogram (when there is no
    coarser grid, it runs to convergence on the histogram at once). Measured on 10
    photos, seeds 0-5, against scikit-learn's median (over-relaxed Lloyd): worst ratio
    1.0015, mean 0.9920, against 1.0015 and 0.9911 for the best of two starts screened
    that way, for 10% less time (string.jpg); without over-relaxation the worst ratio
    was 1.0041 with 1 to 4 screened starts, 1.0071 with 4 starts run to convergence.
    At k = 16 and 64 screening was worse (worst ratio 0.9992 -> 1.0065 at k = 16):
    there the starts that end best are not yet the best after 10 iterations.

    Up to k = 16, 16 starts rather than 12 (the first 12 are the same): over seeds
    0-7 at k = 16 the worst ratio went from 0.9933 to 0.9871 on rocket.jpg, 1.0006
    to 0.9987 on hubble_deep_field.jpg, 1.0000 to 0.9992 on retina.jpg and 0.9955 to
    0.9826 on string.jpg without its left 500 columns (k = 15), for 10-20% more fit
    time; refining 6 or 8 of them instead of 4 changed almost nothing.
    """
    if k <= 16:
        return 16, 4, None
    if k <= 64:
        return 8, 3, None
    if k <= 128:
        return 6, 2, None
    return 1, 1, SCREENING_ITERATIONS


#: Lloyd iterations a start runs on the coarse grid before the best is refined, when
#: screened.
SCREENING_ITERATIONS = 10


#: Lloyd steps are over-relaxed by this factor while that lowers the energy
#: (``_kernels.lloyd``).
OVERRELAXATION = 1.9


def kmeans_weighted(
    points,
    weights,
    k,
    *,
    n_init="auto",
    max_iter=300,
    tol=1e-4,
    rng=None,
    fixed=None,
    sort_in_place=False,
):
    """K-means on weighted points: several k-means++ starts on a coarse grid, then Lloyd.

    The starts run (k-means++ then Lloyd) on a coarse version of the data, points
    merged on a 32- or 64-cell grid (:func:`grid_means`), when it has at least
    ``MIN_CELLS_PER_CENTER`` cells per centre; otherwise on the full data, each to
    convergence or, when screened (:func:`auto_starts`), for a few iterations. The
    few best of them (lowest inertia) are refined with Lloyd on the full data and the
    best refined result is returned.

    Parameters
    ----------
    points : (n, d) float64 array
    weights : (n,) float64 array, positive
    k : int
        At most ``n``.
    n_init : "auto" or int
        Number of starts; ``"auto"`` chooses by k (:func:`auto_starts`). With an
        integer, a third of the starts (at least one) are refined.
    max_iter : int
    tol : float
        Relative tolerance: a run stops when the summed squared centre shift falls
        below ``tol`` times the mean weighted variance of the coordinates (as in
        scikit-learn).
    rng : None, int, numpy.random.Generator, or a :func:`random_source`
    fixed : (m, d) float64 array, optional
        Centres given beforehand, which stay put (a palette entry held for
        transparent pixels): ``k`` more are fitted around them.
    sort_in_place : bool
        Let the refinement sort ``points`` and ``weights`` (float64, C-contiguous,
        writable) where they are, instead of copies: they may come back reordered
        (rows still paired), and must not be read elsewhere during the call. The
        result is the same, for the rows as given; a copy of millions of distinct
        colours is saved.

    Returns
    -------
    centers, labels, inertia, n_iter
        As :func:`lloyd`, on the full data; ``centers`` has the ``fixed`` ones first.
    """
    rng = random_source(rng)
    points = np.ascontiguousarray(points, dtype=np.float64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    if n_init == "auto":
        n_starts, n_refined, screening = auto_starts(k)
    else:
        n_starts, n_refined, screening = int(n_init), max(1, -(-int(n_init) // 3)), None
    n_fixed = 0 if fixed is None else len(fixed)
    coarse_points, coarse_weights = _coarse_version(points, weights, k)
    if coarse_points is points and n_starts == 1:
        # Screening ranks starts, or runs them first on a coarser grid: with one start
        # on the data itself it would only cut one run in two, restarting its
        # over-relaxation. Measured at k = 256 on five such photos, seeds 0-4: median
        # inertia 0.9989-1.0003 of the cut run's, and up to 5 ms less (retina.jpg
        # 52 -> 47 ms); where the grid is coarser, screening on it stays faster.
        screening = None
    from ._kernels import PointTree

    coarse_tol = _relative_tolerance(coarse_points, coarse_weights, tol)
    coarse_tree = PointTree(coarse_points, coarse_weights)
    starts = [
        lloyd(
            coarse_points,
            coarse_weights,
            start,
            max_iter=max_iter if screening is None else min(screening, max_iter),
            tol=coarse_tol,
            tree=coarse_tree,
            overrelaxation=OVERRELAXATION,
            energy_tol=tol,
            n_fixed=n_fixed,
        )
        for start in init_plusplus(
            coarse_points, coarse_weights, k, rng, tree=coarse_tree, n_starts=n_starts, fixed=fixed
        )
    ]
    starts.sort(key=lambda result: result[2])
    if coarse_points is points and screening is None:
        return starts[0]
    full_tol = _relative_tolerance(points, weights, tol)
    if coarse_points is points:
        tree = coarse_tree
    else:
        # Shared by the refinements. Sorted in place, it holds no copy of the points
        # (800 MB for the 19.9M colours of a 105 MP translucent photo).
        tree = PointTree(points, weights, in_place=sort_in_place)
    best = None
    for result in starts[:n_refined]:
        candidate = lloyd(
            points,
            weights,
            result[0],
            max_iter=max_iter,
            tol=full_tol,
            tree=tree,
            overrelaxation=OVERRELAXATION,
            energy_tol=tol,
            n_fixed=n_fixed,
        )
        if best is None or candidate[2] < best[2]:  # only the best kept: (n,) labels each
            best = candidate
    return best


#: Distinct colours from which a fit lets the refinement sort the colours in place
#: (``kmeans_weighted(sort_in_place=True)``) and converts them again afterwards,
#: rather than have the tree copy them. Memory over time: on a 105 MP translucent
#: photo (19.9M colours, k = 16) the CLI's peak went from 3.51 to 2.83 GB, and its
#: time from 24.1 to 27.4 s (sorting in place 4.0 s against 2.9 s for the copy, and
#: converting again 1.2 s). Below about two million colours the copy is small.
SORT_IN_PLACE_FROM = 1 << 21


# --------------------------------------------------------------------------- the estimator
class PreparedInput:
    """An input flattened to pixels, with its colour histograms computed once.

    Fitting several quantizers to one image (a sweep over k, several colour spaces)
    reuses the histogram and the converted colours instead of recounting the pixels.

    Parameters
    ----------
    X : (H, W, C) or (N, C) array, C = 3 or 4
        As for :meth:`KMeansQuantizer.fit`.
    rgb_histogram : ColorHistogram, optional
        The histogram of X's colours when C = 3, counted already (the command line
        counts them while NumPy is imported, see ``decode.reading_ahead``).
    """

    def __init__(self, X, *, rgb_histogram=None):
        self.pixels, self.leading = as_pixels(X)
        n_channels = self.pixels.shape[1]
        self.transparent = self.pixels[:, 3] == 0 if n_channels == 4 else None
        #: Whether fully transparent pixels can get an entry of their own.
        self.can_reserve = bool(
            self.transparent is not None and self.transparent.any() and not self.transparent.all()
        )
        self._fitted = {}
        self._points = {}
        if rgb_histogram is not None:
            if n_channels != 3 or rgb_histogram.n_pixels != len(self.pixels):
                raise ValueError(
                    f"the histogram counts {rgb_histogram.n_pixels} pixels of 3 channels, "
                    f"the image has {len(self.pixels)} of {n_channels}"
                )
            self._fitted[False] = (rgb_histogram, 3)

    def fitted(self, reserve: bool):
        """(histogram of the fitted colours, channels clustered).

        Fully transparent pixels are left out when ``reserve``; opaque RGBA is
        clustered as RGB, since alpha would add nothing but cost. The histogram is
        counted from the pixels where they are, with no copy of them.
        """
        if reserve not in self._fitted:
            dims = self.pixels.shape[1]
            if dims == 4:
                n_opaque = np.count_nonzero(self.pixels[:, 3] == 255)
                n_left_out = np.count_nonzero(self.transparent) if reserve else 0
                dims = 3 if n_opaque + n_left_out == len(self.pixels) else 4
            self._fitted[reserve] = (
                color_histogram(self.pixels, dims, skip_transparent=reserve),
                dims,
            )
        return self._fitted[reserve]

    def forget_points(self, reserve: bool, color_space: str) -> None:
        """Drop the cached colours of :meth:`points` (they are computed again if asked)."""
        self._points.pop((reserve, color_space), None)

    def points(self, reserve: bool, color_space: str) -> np.ndarray:
        """(n, d) distinct fitted colours in ``color_space``."""
        if (reserve, color_space) not in self._points:
            histogram = self.fitted(reserve)[0]
            self._points[reserve, color_space] = to_space(histogram.colors, color_space)
        return self._points[reserve, color_space]


class KMeansQuantizer:
    """K-means colour quantizer in the scikit-learn style.

    Parameters
    ----------
    n_colors : int, default=16
        Number of colours (clusters). With an RGBA input that has fully transparent
        pixels, one of them is the transparent colour and ``n_colors - 1`` are fitted.
    n_init : "auto" or int, default="auto"
        Number of k-means++ starts, each run on a coarse grid histogram when it keeps
        enough cells per centre (else on the full one); the best are refined on the
        full histogram and the best of those is kept.
        ``"auto"`` chooses by ``n_colors``: 16 starts for k <= 16 down to 1 for
        k > 128 (see :func:`auto_starts`).
    max_iter : int, default=300
        Most Lloyd iterations per start.
    tol : float, default=1e-4
        Convergence tolerance: a run stops when the centres move less than ``tol``
        times the colours' variance (as in scikit-learn) or a step lowers the
        inertia by less than ``tol`` times the inertia.
    random_state : None, int or numpy.random.Generator, default=None
        Seed of the k-means++ draws; the same seed gives the same result.
    color_space : {"rgb", "lab", "oklab"}, default="rgb"
        Space the colours are clustered in: sRGB values (minimises the MSE), CIELAB
        or OKLab (minimise a perceptual difference; see :mod:`kpalette.colorspace`).
        Each distinct colour is converted once.

    Attributes
    ----------
    cluster_centers_ : (k, C) float64 array
        Mean of each cluster in the clustering space: 0..255 sRGB units, or CIELAB /
        OKLab coordinates (C = 3, or 4 with alpha: then the colour is premultiplied
        by alpha and alpha is scaled by ``colorspace.ALPHA_SCALE`` outside RGB, see
        :func:`colorspace.to_space`).
    palette_ : (k, C) uint8 array
        The centres as sRGB(A), rounded (clipped to the gamut): the colours written
        to images.
    labels_ : (H, W) or (N,) array
        Index into ``palette_`` of every pixel of the fitted input (uint8 when k <= 256).
    inertia_ : float
        Sum over pixels of the squared distance to their cluster's centre, in the
        clustering space.
    n_iter_ : int
        Lloyd iterations of the kept run.
    counts_ : (k,) int64 array
        Pixels per cluster.

    Notes
    -----
    The distinct colours of the input are clustered, each weighted by its pixel count:
    the objective is that of K-means on every pixel. Translucent colours are clustered
    premultiplied by alpha, with alpha beside them: in RGB the objective is then the
    squared error that :mod:`kpalette.metrics` reports, and colours that are nearly
    transparent, whatever their hidden colour, cost few palette entries. Fully
    transparent pixels take no part in the fit. When the input has fewer distinct
    colours than ``n_colors``, the palette is exactly those colours (with a
    :class:`KPaletteWarning`).
    """

    def __init__(
        self,
        n_colors=16,
        *,
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        random_state=None,
        color_space="rgb",
    ):
        self.n_colors = n_colors
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.color_space = color_space

    def __repr__(self) -> str:
        defaults = {
            "n_init": "auto",
            "max_iter": 300,
            "tol": 1e-4,
            "random_state": None,
            "color_space": "rgb",
        }
        extras = "".join(
            f", {name}={getattr(self, name)!r}"
            for name, default in defaults.items()
            if getattr(self, name) != default
        )
        return f"KMeansQuantizer(n_colors={self.n_colors!r}{extras})"

    # -- public API -----------------------------------------------------------------
    def fit(self, X, y=None):
        """Fit the palette to an image or a set of pixels.

        Parameters
        ----------
        X : (H, W, C) or (N, C) array, C = 3 or 4
            See :func:`as_pixels` for the accepted value ranges.
        y : ignored

        Returns
        -------
        self
        """
        return self._fit_prepared(PreparedInput(X))

    def _fit_prepared(self, prepared: PreparedInput, *, pixel_labels: bool = True):
        """Fit to an input whose histogram may already be computed (see PreparedInput).

        With ``pixel_labels=False`` the per-pixel ``labels_`` and ``counts_`` are not
        computed (``None``): a sweep over k needs only the colour table and inertia.
        """
        _check_params(self.n_colors, self.n_init, self.max_iter, self.tol, self.color_space)
        pixels = prepared.pixels
        self.n_channels_ = pixels.shape[1]
        rng = random_source(self.random_state)
        transparent = prepared.transparent
        reserve = prepared.can_reserve and self.n_colors >= 2
        histogram, self._cluster_dims = prepared.fitted(reserve)
        k = self.n_colors - 1 if reserve else self.n_colors
        points = prepared.points(reserve, self.color_space)
        weights = histogram.counts.astype(np.float64)

        if histogram.n_colors <= k:
            if histogram.n_colors < k:
                n_distinct = histogram.n_colors + reserve  # fully transparent: one more
                warnings.warn(
                    f"the input has {n_distinct} distinct "
                    f"colour{'' if n_distinct == 1 else 's'}"
                    f"{' (fully transparent counted as one)' if reserve else ''}, fewer than "
                    f"n_colors={self.n_colors}; the palette is those colours exactly",
                    KPaletteWarning,
                    stacklevel=3,
                )
            centers = points.copy()
            color_labels = np.arange(histogram.n_colors, dtype=np.int32)
            n_iter = 0
        else:
            # Translucent colours can take the transparent entry (it is as near to the
            # faintest as any): the others are fitted around it, held in place.
            sort_in_place = len(points) >= SORT_IN_PLACE_FROM
            hold_transparent = reserve and self._cluster_dims == self.n_channels_
            centers, color_labels, _, n_iter = kmeans_weighted(
                points,
                weights,
                k,
                n_init=self.n_init,
                max_iter=self.max_iter,
                tol=self.tol,
                rng=rng,
                fixed=to_space(np.zeros((1, 4), np.uint8), self.color_space)
                if hold_transparent
                else None,
                sort_in_place=sort_in_place,
            )
            if sort_in_place:  # the cached points came back reordered: converted again,
                del points, weights  # once the old ones are freed
                prepared.forget_points(reserve, self.color_space)
                points = prepared.points(reserve, self.color_space)
            if hold_transparent:  # held first in the fit, last in the palette
                centers = centers[1:]
                color_labels = np.where(color_labels == 0, k, color_labels - 1).astype(np.int32)
        colors = from_space(centers, self.color_space)
        if self._cluster_dims < self.n_channels_:
            colors = np.column_stack([colors, np.full(len(colors), 255.0)])
            centers = np.column_stack(
                [centers, np.full(len(centers), 255.0 * ALPHA_SCALE[self.color_space])]
            )
        self._reserved = len(centers) if reserve else None
        if reserve:
            transparent_color = np.zeros((1, self.n_channels_), dtype=np.uint8)
            centers = np.vstack([centers, to_space(transparent_color, self.color_space)])
            colors = np.vstack([colors, np.zeros((1, self.n_channels_))])
        self.cluster_centers_ = centers
        self.palette_ = np.clip(np.rint(colors), 0, 255).astype(np.uint8)

        # Final labels against the rounded palette: what is written is what is scored.
        color_labels = self._nearest_palette_entry(points, start=color_labels)
        self._color_table = self._table_of_colors(histogram, color_labels, transparent, reserve)
        self.inertia_ = self._inertia(points, histogram.counts, color_labels)
        self.n_iter_ = n_iter
        self._color_labels = color_labels
        self.labels_ = self.counts_ = None
        if pixel_labels:
            self._label_pixels(prepared)
        return self

    def _label_pixels(self, prepared: PreparedInput) -> None:
        """Set ``labels_`` and ``counts_`` for the input the model was fitted to."""
        self.labels_ = self._pixel_indices(prepared)
        self.counts_ = np.bincount(self.labels_.ravel(), minlength=len(self.palette_)).astype(
            np.int64
        )

    def _pixel_indices(self, prepared: PreparedInput, remap=None) -> np.ndarray:
        """Palette index of every pixel of the fitted input, through ``remap`` if given.

        Returns
        -------
        (H, W) or (N,) array, uint8 when the palette has at most 256 entries
        """
        reserve = self._reserved is not None
        histogram, _ = prepared.fitted(reserve)
        n_entries = len(self.palette_)
        entry_of = np.arange(n_entries) if remap is None else np.asarray(remap)
        labels = labels_for_pixels(
            prepared.pixels,
            histogram,
            entry_of[self._color_labels],
            transparent_label=entry_of[self._reserved] if reserve else None,
        )
        labels = labels.astype(np.uint8 if n_entries <= 256 else np.int32, copy=False)
        return labels.reshape(prepared.leading)

    def predict(self, X):
        """Index of the nearest palette colour for every pixel of ``X``.

        Parameters
        ----------
        X : (H, W, C) or (N, C) array with the channels of the fitted input

        Returns
        -------
        labels : (H, W) or (N,) array
        """
        self._check_fitted()
        pixels, leading = as_pixels(X)
        if pixels.shape[1] != self.n_channels_:
            raise ValueError(
                f"fitted on {self.n_channels_}-channel colours, got {pixels.shape[1]} channels"
            )
        labels = np.empty(len(pixels), dtype=np.uint8 if len(self.palette_) <= 256 else np.int32)
        visible = np.ones(len(pixels), dtype=bool)
        if self._reserved is not None:
            visible = pixels[:, 3] != 0
            labels[~visible] = self._reserved
        if visible.any():
            subset = pixels[visible] if not visible.all() else pixels
            if self._cluster_dims == 3:
                subset = subset[:, :3]
            histogram = color_histogram(subset)
            color_labels = self._nearest_palette_entry(to_space(histogram.colors, self.color_space))
            labels[visible] = labels_for_pixels(subset, histogram, color_labels)
        return labels.reshape(leading)

    def fit_predict(self, X, y=None):
        """Fit to ``X`` and return ``labels_``."""
        return self.fit(X).labels_

    # -- helpers --------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "palette_"):
            raise AttributeError(
                "this KMeansQuantizer is not fitted yet; call fit() before predict()"
            )

    def _fitted_palette(self) -> np.ndarray:
        """(m, d) palette entries that visible colours may take, in the clustering space.

        The entry reserved for fully transparent pixels is one of them when
        translucent colours are clustered (it is then the nearest entry for some
        nearly transparent colours); when the visible colours are opaque and
        clustered as RGB it is left out, as it would read as black.
        """
        palette = self.palette_[:, : self._cluster_dims]
        if self._reserved is not None and self._cluster_dims < self.n_channels_:
            palette = palette[: self._reserved]
        return to_space(palette, self.color_space)

    def _nearest_palette_entry(self, points, start=None) -> np.ndarray:
        """Index of the nearest (rounded) palette entry for points in the clustering space."""
        from ._kernels import assign

        palette = self._fitted_palette()
        points = np.ascontiguousarray(points, dtype=np.float64)
        labels = (
            np.zeros(len(points), dtype=np.int32)
            if start is None
            else np.array(start, dtype=np.int32, copy=True)
        )
        assign(points, np.ascontiguousarray(palette), labels, np.empty(len(points)))
        return labels

    def _table_of_colors(self, histogram, color_labels, transparent, reserve):
        """(colors, counts, labels) over all fitted-input pixels: the exact mapping.

        ``colors`` has the input's channels; fully transparent pixels, when a palette
        entry is reserved for them, are one row (0, 0, 0, 0), which is what they are
        once premultiplied. Quality measures are computed from it in O(colours).
        """
        colors = histogram.colors
        if colors.shape[1] < self.n_channels_:
            colors = np.column_stack([colors, np.full(len(colors), 255, np.uint8)])
        counts = histogram.counts
        labels = color_labels
        if reserve:
            colors = np.vstack([colors, np.zeros((1, self.n_channels_), np.uint8)])
            counts = np.append(counts, np.count_nonzero(transparent))
            labels = np.append(labels, np.int32(self._reserved))
        # No copies where the types already fit: one row per distinct colour, and a
        # translucent photo has millions of them.
        return colors, counts.astype(np.int64, copy=False), labels.astype(np.int32, copy=False)

    def _inertia(self, points, counts, color_labels) -> float:
        """Sum over the fitted pixels of the squared distance to their centre."""
        from ._kernels import weighted_squared_distance

        centers = np.ascontiguousarray(self.cluster_centers_[:, : self._cluster_dims])
        return weighted_squared_distance(
            np.ascontiguousarray(points, dtype=np.float64),
            np.ascontiguousarray(counts, dtype=np.int64),
            np.ascontiguousarray(color_labels, dtype=np.int32),
            centers,
        )
