"""Weighted K-means: k-means++ starts on a coarse grid, then over-relaxed Lloyd.

The algorithm behind :func:`kpalette.fit_histogram`, on any weighted points (the
distinct colours of an image, each weighted by its pixel count: the same objective
as K-means on every pixel, at a fraction of the work). The loops are compiled
(:mod:`kpalette._kernels.clustering`); this module orchestrates them.
"""

from __future__ import annotations

import numbers
import random

import numpy as np

from ._kernels.clustering import lloyd as tree_lloyd
from ._kernels.grid import grid_means as compiled_grid_means
from ._kernels.nearest import assign
from ._kernels.seeding import kmeans_plusplus
from ._kernels.tree import PointTree

__all__ = [
    "PreparedPoints",
    "absolute_tolerance",
    "auto_starts",
    "grid_means",
    "init_plusplus",
    "kmeans_plain",
    "kmeans_weighted",
    "lloyd",
    "lloyd_plain",
    "plusplus_plain",
    "random_source",
]


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

    points = np.ascontiguousarray(points, dtype=np.float64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    centers = np.array(centers, dtype=np.float64)
    labels = np.empty(len(points), dtype=np.int32)
    dist2 = np.empty(len(points))
    n_iter = tree_lloyd(
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
    (``random.Random``), whose ``random()`` sequence for an int seed Python promises
    to keep across versions (NumPy's streams carry no such promise). A NumPy
    ``Generator`` (or a ``SeedSequence`` or ``BitGenerator``) is drawn from itself.
    The draws are the same for the same seed and ``n_init``, whatever the machine and
    number of threads.

    Returns
    -------
    object with ``random(size) -> float64 array``
    """
    if random_state is None or isinstance(random_state, numbers.Integral):
        if random_state is not None and random_state < 0:
            raise ValueError(f"random_state must be a whole number >= 0, got {random_state}")
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

    means, totals, _ = compiled_grid_means(
        np.ascontiguousarray(points, dtype=np.float64),
        np.ascontiguousarray(weights, dtype=np.float64),
        cells_per_axis,
    )
    return means, totals


#: Fewest grid cells per centre for the coarse starts to be as good as full ones
#: (docs/benchmarks.md, "Tuning the engine").
MIN_CELLS_PER_CENTER = 64


class PreparedPoints:
    """Weighted points and what every fit of them builds first, made once and kept.

    :func:`kmeans_weighted` merges the points on coarse grids, measures their
    variance and builds a search tree over each set it runs Lloyd on; none of that
    depends on k. A sweep over k (:class:`kpalette.KSweep`, the web page's slider)
    passes one ``PreparedPoints`` to every fit of the same colours instead of redoing
    it, some 20% of a fit on a photo's colours. The results are the same. Threads may
    share one: of two building the same grid or tree at once, both use the first kept.

    Parameters
    ----------
    points : (n, d) float64 array
    weights : (n,) float64 array, positive
    """

    def __init__(self, points, weights):
        self.points = np.ascontiguousarray(points, dtype=np.float64)
        self.weights = np.ascontiguousarray(weights, dtype=np.float64)
        self._grids: dict = {}
        self._trees: dict = {}
        self._tolerances: dict = {}

    def coarse(self, k: int) -> tuple[np.ndarray, np.ndarray, object]:
        """(points, weights, key): a grid histogram with at least
        ``MIN_CELLS_PER_CENTER * k`` cells, else the points themselves (key None).

        Colours (three coordinates) try the finer 64-cell grid first, and take it when
        it still halves the data: the starts are ranked by their inertia on the grid,
        and a 32-cell grid misranked them on some photos. Translucent colours (four
        coordinates) try 32 first: 64 cells per axis in four dimensions need a hash
        table twice the size of the data.
        """
        points, weights = self.points, self.weights
        for cells_per_axis in (64, 32) if points.shape[1] <= 3 else (32, 64):
            if len(points) < 2 * MIN_CELLS_PER_CENTER * k:
                break
            grid_points, grid_weights = self._kept(
                self._grids, cells_per_axis, grid_means, points, weights, cells_per_axis
            )
            if len(grid_points) >= MIN_CELLS_PER_CENTER * k and 2 * len(grid_points) <= len(points):
                return grid_points, grid_weights, cells_per_axis
        return points, weights, None

    @staticmethod
    def _kept(cache: dict, key, make, *args):
        """``cache[key]``, made by ``make(*args)`` if absent; of two threads making it at
        once, both get the first kept."""
        value = cache.get(key)
        return cache.setdefault(key, make(*args)) if value is None else value

    def _arrays(self, key):
        return (self.points, self.weights) if key is None else self._grids[key]

    def tree(self, key=None, *, in_place: bool = False):
        """The search tree over the points (key None) or a grid of :meth:`coarse`.

        ``in_place`` sorts the points themselves (see :class:`PointTree`); such a
        tree is not kept, since the points it was given are then reordered.
        """

        if in_place:
            return PointTree(*self._arrays(key), in_place=True)
        return self._kept(self._trees, key, PointTree, *self._arrays(key))

    def tolerance(self, key, tol: float) -> float:
        """:func:`absolute_tolerance` of the points (key None) or of a grid."""
        return self._kept(self._tolerances, (key, tol), absolute_tolerance, *self._arrays(key), tol)


def absolute_tolerance(points, weights, tol) -> float:
    """``tol`` times the mean weighted variance of the coordinates: the summed squared
    centre shift below which a run has converged (scikit-learn's rule)."""
    # einsum, not ``@``: a BLAS call here leaves OpenBLAS threads spinning on the
    # cores the compiled loops need next.
    # No (n, d) temporaries: a translucent photo has millions of distinct colours.
    total = weights.sum()
    mean = np.einsum("i,ij->j", weights, points) / total
    variance = np.einsum("i,ij,ij->j", weights, points, points) / total - mean * mean
    return float(np.mean(np.maximum(variance, 0.0))) * tol


def auto_starts(k: int) -> tuple[int, int, int | None]:
    """(starts, refined, screening iterations) for ``n_init="auto"``.

    Different k-means++ starts end in local optima up to a few percent apart at small
    k, and less than half a percent apart at k = 256, so small k gets many cheap
    starts on the coarse grid, each run to convergence, and its best few are refined
    on the full histogram; the best refined one wins.

    Above k = 128 one start runs ``SCREENING_ITERATIONS`` Lloyd iterations on the
    coarse grid and goes on to convergence on the full histogram (when there is no
    coarser grid, it runs to convergence on the histogram at once): as good as the
    best of two, in less time. At smaller k screening was worse: the starts that end
    best are not yet the best after 10 iterations. The choices were measured against
    scikit-learn on photos (docs/benchmarks.md).
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
    prepared=None,
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
    prepared : PreparedPoints, optional
        The points' grids and trees kept from earlier fits (then ``points`` and
        ``weights`` must be its own arrays); the result is the same without it.

    Returns
    -------
    centers, labels, inertia, n_iter
        As :func:`lloyd`, on the full data; ``centers`` has the ``fixed`` ones first.
    """
    rng = random_source(rng)
    if prepared is None:
        prepared = PreparedPoints(points, weights)
    elif points is not prepared.points or weights is not prepared.weights:
        raise ValueError("give prepared.points and prepared.weights with prepared")
    elif sort_in_place:
        raise ValueError("sort_in_place would reorder the points that prepared keeps")
    points, weights = prepared.points, prepared.weights
    if n_init == "auto":
        n_starts, n_refined, screening = auto_starts(k)
    else:
        n_starts, n_refined, screening = int(n_init), max(1, -(-int(n_init) // 3)), None
    n_fixed = 0 if fixed is None else len(fixed)
    coarse_points, coarse_weights, grid = prepared.coarse(k)
    if coarse_points is points and n_starts == 1:
        # Screening ranks starts, or runs them first on a coarser grid: with one start
        # on the data itself it would only cut one run in two, restarting its
        # over-relaxation.
        screening = None
    coarse_tol = prepared.tolerance(grid, tol)
    coarse_tree = prepared.tree(grid)
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
    full_tol = prepared.tolerance(None, tol)
    # Shared by the refinements. Sorted in place, it holds no copy of the points (a
    # translucent photo can have tens of millions of distinct colours).
    tree = coarse_tree if coarse_points is points else prepared.tree(None, in_place=sort_in_place)
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
            # The iterations of the kept run: on the coarse grid, then on the data.
            best = (*candidate[:3], candidate[3] + result[3])
    return best


#: Most coordinates the grid tree takes (``kpalette._kernels.tree.PointTree``);
#: points with more go to :func:`kmeans_plain`.
MAX_TREE_DIMENSIONS = 7


def plusplus_plain(points, weights, k, rng, *, n_trials=None) -> np.ndarray:
    """Greedy weighted k-means++ in NumPy, for points of any dimension: (k, d) centres.

    Each new centre is the best of ``n_trials`` candidates (2 + log k, as in
    scikit-learn) drawn with probability proportional to weight times squared
    distance to the nearest centre chosen so far.
    """
    rng = random_source(rng)
    n = len(points)
    n_trials = 2 + int(np.log(k)) if n_trials is None else n_trials
    cumulative = np.cumsum(weights)
    first = min(int(np.searchsorted(cumulative, rng.random(1)[0] * cumulative[-1])), n - 1)
    centers = np.empty((k, points.shape[1]))
    centers[0] = points[first]
    closest = ((points - centers[0]) ** 2).sum(axis=1)
    for c in range(1, k):
        potential = np.cumsum(weights * closest)
        if potential[-1] <= 0:  # every point is a centre already
            centers[c] = points[int(rng.random(1)[0] * n) % n]
            continue
        draws = rng.random(n_trials) * potential[-1]
        candidates = np.minimum(np.searchsorted(potential, draws), n - 1)
        to_candidates = ((points[None, :, :] - points[candidates][:, None, :]) ** 2).sum(axis=2)
        kept = np.minimum(closest[None, :], to_candidates)
        best = int(np.argmin(np.einsum("ij,j->i", kept, weights)))  # no BLAS threads
        centers[c] = points[candidates[best]]
        closest = kept[best]
    return centers


def lloyd_plain(points, weights, centers, *, max_iter=300, tol=0.0):
    """Weighted Lloyd iterations in NumPy (the nearest centre found by the compiled
    ``assign``), for points of any dimension.

    Returns
    -------
    centers, labels, inertia, n_iter
        As :func:`lloyd`: the labels are the nearest centres of the returned centres.
    """

    points = np.ascontiguousarray(points, dtype=np.float64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    centers = np.array(centers, dtype=np.float64)
    k, d = centers.shape
    labels = np.zeros(len(points), dtype=np.int32)
    dist2 = np.empty(len(points))
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        previous = labels.copy()
        assign(points, centers, labels, dist2)
        totals = np.bincount(labels, weights=weights, minlength=k)
        sums = np.stack(
            [np.bincount(labels, weights=weights * points[:, j], minlength=k) for j in range(d)],
            axis=1,
        )
        new = centers.copy()
        filled = totals > 0
        new[filled] = sums[filled] / totals[filled, None]
        for empty in np.flatnonzero(~filled):  # onto the farthest point
            far = int(np.argmax(dist2 * (weights > 0)))
            new[empty] = points[far]
            dist2[far] = 0.0
        shift = float(((new - centers) ** 2).sum())
        centers = new
        if (n_iter > 1 and np.array_equal(labels, previous)) or shift <= tol:
            break
    assign(points, centers, labels, dist2)
    return centers, labels, float(np.einsum("i,i->", weights, dist2)), n_iter


def kmeans_plain(points, weights, k, *, n_init="auto", max_iter=300, tol=1e-4, rng=None):
    """K-means on weighted points of any dimension, in NumPy: the best of ``n_init``
    k-means++ starts, each run to convergence (``"auto"``: as :func:`auto_starts`).

    Slower than :func:`kmeans_weighted`, whose grid tree takes at most
    ``MAX_TREE_DIMENSIONS`` coordinates; the same objective and result types.
    """
    rng = random_source(rng)
    points = np.ascontiguousarray(points, dtype=np.float64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    n_starts = auto_starts(k)[0] if n_init == "auto" else int(n_init)
    absolute_tol = absolute_tolerance(points, weights, tol)
    best = None
    for _ in range(n_starts):
        start = plusplus_plain(points, weights, k, rng)
        result = lloyd_plain(points, weights, start, max_iter=max_iter, tol=absolute_tol)
        if best is None or result[2] < best[2]:
            best = result
    return best
