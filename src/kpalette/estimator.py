"""``KMeans``, a drop-in for scikit-learn's on any numeric data (and the parameters it
shares with :class:`kpalette.KMeansQuantizer`, in :mod:`kpalette.quantizer`).

Both cluster the distinct rows of their input, each weighted by how often it occurs:
the same objective as K-means on every row, at a fraction of the work when rows
repeat, as the pixels of an image do.
"""

from __future__ import annotations

import functools
import numbers
import warnings

import numpy as np

from ._kernels.nearest import assign
from .exceptions import ConvergenceWarning, not_fitted
from .histogram import color_histogram, labels_for_pixels
from .kmeans import (
    MAX_TREE_DIMENSIONS,
    OVERRELAXATION,
    absolute_tolerance,
    kmeans_plain,
    kmeans_weighted,
    lloyd,
    lloyd_plain,
    random_source,
)
from .threads import limited

__all__ = ["KMeans"]


class _Parameters:
    """``get_params`` and ``set_params`` over the constructor's parameters, named in
    ``_PARAMS``: the part of scikit-learn's estimator contract both estimators share."""

    _PARAMS: tuple[str, ...] = ()

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's parameters, as scikit-learn's estimators give them."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params):
        """Set constructor parameters; returns ``self``."""
        for name, value in params.items():
            if name not in self._PARAMS:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; "
                    f"valid ones are {', '.join(self._PARAMS)}"
                )
            setattr(self, name, value)
        return self


# --------------------------------------------------------------------------- the drop-in
def _within_threads(method):
    """``method`` run with the estimator's ``n_threads`` as the loops' limit."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        threads = self.n_threads
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1
        ):
            raise ValueError(f"n_threads must be None or a whole number >= 1, got {threads!r}")
        with limited(None if threads is None else int(threads)):
            return method(self, *args, **kwargs)

    return call


class KMeans(_Parameters):
    """K-means clustering with scikit-learn's ``KMeans`` interface, on any numeric data.

    ``from kpalette import KMeans`` runs code written for ``sklearn.cluster.KMeans``
    unchanged: the same constructor, methods and fitted attributes. The distinct rows of
    ``X`` are clustered, each weighted by how often it occurs (and by ``sample_weight``),
    which is the objective of K-means on every row at a fraction of the work when rows
    repeat, as the pixels of an image do. Pixel data (three columns of 8-bit values, as
    ``uint8``, whole numbers, or floats ``k / 255``) is counted by kpalette's colour
    counter; other data by ``numpy.unique``.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "random"}, callable or (n_clusters, n_features) array
        How the starting centres are chosen: greedy k-means++, rows drawn at random
        (with probability by weight), ``init(X, n_clusters, random_state)``, or the
        given centres (then one run).
    n_init : "auto" or int, default="auto"
        Starts; the best is kept. ``"auto"``: 16 for k <= 16 down to 1 above k = 128
        for k-means++ (its starts run on a coarse grid of the data first), 10 for
        ``"random"``, 1 for given centres.
    max_iter : int, default=300
        Most Lloyd iterations of a run.
    tol : float, default=1e-4
        Relative tolerance: a run stops when the centres move less than ``tol`` times
        the data's mean variance (as in scikit-learn).
    verbose : int, default=0
        Accepted for compatibility; nothing is printed.
    random_state : None, int, numpy.random.Generator or RandomState, default=None
        Seed of the starts; an int gives the same result on every machine.
    copy_x : bool, default=True
        Accepted for compatibility: ``X`` is never modified.
    algorithm : {"lloyd", "elkan"}, default="lloyd"
        Accepted for compatibility: both run kpalette's exact Lloyd iterations.
    n_threads : int, optional
        Most threads of the compiled loops, as scikit-learn's own estimators spell it
        (default: :func:`kpalette.threads.default_threads`: ``OMP_NUM_THREADS`` or the
        CPUs this process may use). The result does not depend on it.

    Attributes
    ----------
    cluster_centers_ : (n_clusters, n_features) float64 array
        Cluster means, in the units of ``X``.
    labels_ : (n_samples,) int32 array
        Index of each row's cluster (its nearest centre).
    inertia_ : float
        Sum of squared distances of the rows to their centres (weighted).
    n_iter_ : int
        Lloyd iterations of the kept run.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from kpalette import KMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> model = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> sorted(model.cluster_centers_.tolist())
    [[1.0, 2.0], [10.0, 2.0]]
    """

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        verbose=0,
        random_state=None,
        copy_x=True,
        algorithm="lloyd",
        n_threads=None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.n_threads = n_threads

    _PARAMS = (
        "n_clusters",
        "init",
        "n_init",
        "max_iter",
        "tol",
        "verbose",
        "random_state",
        "copy_x",
        "algorithm",
        "n_threads",
    )

    def __repr__(self) -> str:
        defaults = KMeans().get_params()
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if isinstance(value, np.ndarray) or value != defaults[name]
        ]
        return f"KMeans({', '.join(changed)})"

    def __sklearn_tags__(self):
        """Tags for scikit-learn's checks and meta-estimators (read only by scikit-learn,
        so imported from it only here)."""
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type="clusterer",
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags(preserves_dtype=["float64"]),
            input_tags=InputTags(allow_nan=False, sparse=False),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "cluster_centers_")

    # -- fitting ------------------------------------------------------------------------
    @_within_threads
    def fit(self, X, y=None, sample_weight=None) -> KMeans:
        """Compute the clusters.

        Parameters
        ----------
        X : (n_samples, n_features) array-like of numbers
        y : ignored
        sample_weight : (n_samples,) array-like, optional
            Weight of each row (default 1): a row of weight 2 counts as two rows.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad parameters, fewer rows than ``n_clusters``, or data that is not a
            finite 2-D numeric array (the message quotes what was received).

        Warns
        -----
        ConvergenceWarning
            Fewer distinct rows than ``n_clusters``: the centres are those rows, some
            repeated.
        """
        k = self._check_params()
        X = _check_data(X, "KMeans.fit")
        n_samples, n_features = X.shape
        if n_samples < k:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={k}.")
        weights = _check_weights(sample_weight, n_samples)
        rows = _DistinctRows(X, weights)
        # Fitted in the rows' own units (0..255 for colours given as floats k / 255,
        # so that floats and bytes give the same fit), reported in those of X.
        centers, n_iter = self._fit_distinct(rows, k)
        row_labels = _nearest_centres(rows.fit_points, centers)
        self.cluster_centers_ = centers / rows.scale
        self.labels_ = rows.spread(row_labels)
        inertia = _inertia(rows.fit_points, rows.weights, centers, row_labels)
        self.inertia_ = inertia / rows.scale**2
        self.n_iter_ = int(n_iter)
        self.n_features_in_ = n_features
        return self

    def _check_params(self) -> int:
        k = self.n_clusters
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"n_clusters must be an integer >= 1, got {k!r}")
        if self.n_init != "auto" and (
            isinstance(self.n_init, bool)
            or not isinstance(self.n_init, numbers.Integral)
            or self.n_init < 1
        ):
            raise ValueError(f"n_init must be 'auto' or an integer >= 1, got {self.n_init!r}")
        if (
            isinstance(self.max_iter, bool)
            or not isinstance(self.max_iter, numbers.Integral)
            or self.max_iter < 1
        ):
            raise ValueError(f"max_iter must be an integer >= 1, got {self.max_iter!r}")
        if isinstance(self.tol, bool) or not isinstance(self.tol, numbers.Real) or self.tol < 0:
            raise ValueError(f"tol must be a number >= 0, got {self.tol!r}")
        if self.algorithm not in ("lloyd", "elkan"):
            raise ValueError(f"algorithm must be 'lloyd' or 'elkan', got {self.algorithm!r}")
        init = self.init
        if isinstance(init, str) and init not in ("k-means++", "random"):
            raise ValueError(
                f"init must be 'k-means++', 'random', a callable or an array, got {init!r}"
            )
        return int(k)

    def _fit_distinct(self, rows: _DistinctRows, k: int):
        """(centres, iterations) of the best run on the weighted distinct rows."""

        points, weights = rows.fitted()
        rng = random_source(self.random_state)
        if k == 1:  # the (weighted) column means, exactly as NumPy computes them
            return rows.mean()[None, :] * rows.scale, 1
        if len(points) < k:
            warnings.warn(
                f"Number of distinct clusters ({len(points)}) found smaller than "
                f"n_clusters ({k}). Possibly due to duplicate points in X.",
                ConvergenceWarning,
                stacklevel=3,
            )
            order = np.argsort(-weights, kind="stable")
            repeats = order[np.arange(k) % len(points)]
            return np.concatenate([points, points[repeats[: k - len(points)]]]), 0
        tree_fits = points.shape[1] <= MAX_TREE_DIMENSIONS
        init = self.init
        if isinstance(init, str) and init == "k-means++":
            fit = kmeans_weighted if tree_fits else kmeans_plain
            centers, _, _, n_iter = fit(
                points, weights, k, n_init=self.n_init, max_iter=self.max_iter,
                tol=self.tol, rng=rng,
            )  # fmt: skip
            return centers, n_iter
        tol = absolute_tolerance(points, weights, self.tol)

        def run(start):
            if tree_fits:
                return lloyd(points, weights, start, max_iter=self.max_iter, tol=tol,
                             overrelaxation=OVERRELAXATION, energy_tol=self.tol)  # fmt: skip
            return lloyd_plain(points, weights, start, max_iter=self.max_iter, tol=tol)

        if isinstance(init, str):  # "random": rows drawn by weight, without replacement
            n_starts = 10 if self.n_init == "auto" else int(self.n_init)
            best = None
            for _ in range(n_starts):
                chosen = _weighted_sample(weights, k, rng)
                result = run(points[chosen])
                if best is None or result[2] < best[2]:
                    best = result
            assert best is not None  # n_init >= 1 starts were run
            return best[0], best[3]
        start = init(rows.original, k, self.random_state) if callable(init) else init
        start = np.array(start, dtype=np.float64)
        if start.shape != (k, points.shape[1]):
            raise ValueError(
                f"The shape of the initial centers {start.shape} does not match the number "
                f"of clusters {k} and features {points.shape[1]}"
            )
        if not np.isfinite(start).all():
            raise ValueError("the initial centers contain NaN or infinity")
        if self.n_init not in ("auto", 1):
            warnings.warn(
                f"Explicit initial center position passed: performing only one init in "
                f"KMeans instead of n_init={self.n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
        result = run(start)
        return result[0], result[3]

    # -- using the fit ------------------------------------------------------------------
    def _check_fitted_data(self, X, what: str) -> np.ndarray:
        if not hasattr(self, "cluster_centers_"):
            raise not_fitted(
                f"This KMeans instance is not fitted yet. Call 'fit' with appropriate "
                f"arguments before using {what}."
            )
        X = _check_data(X, f"KMeans.{what}")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but KMeans is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X

    @_within_threads
    def predict(self, X) -> np.ndarray:
        """Index of the nearest centre of each row: (n_samples,) int32 array."""
        X = self._check_fitted_data(X, "predict")
        rows = _DistinctRows(X, None)
        return rows.spread(_nearest_centres(rows.points, self.cluster_centers_))

    def fit_predict(self, X, y=None, sample_weight=None) -> np.ndarray:
        """Fit and return ``labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    @_within_threads
    def transform(self, X) -> np.ndarray:
        """Distance of each row to every centre: (n_samples, n_clusters) float64 array."""
        X = self._check_fitted_data(X, "transform")
        return _distances(X.astype(np.float64, copy=False), self.cluster_centers_)

    def fit_transform(self, X, y=None, sample_weight=None) -> np.ndarray:
        """Fit and return :meth:`transform` of ``X``."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    @_within_threads
    def score(self, X, y=None, sample_weight=None) -> float:
        """Minus the (weighted) sum of squared distances of the rows to their nearest
        centres: higher is better, as scikit-learn's."""
        X = self._check_fitted_data(X, "score")
        weights = _check_weights(sample_weight, len(X))
        rows = _DistinctRows(X, weights)
        labels = _nearest_centres(rows.points, self.cluster_centers_)
        return -_inertia(rows.points, rows.weights, self.cluster_centers_, labels)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of :meth:`transform`'s columns: ``kmeans0``, ``kmeans1``, ..."""
        if not hasattr(self, "cluster_centers_"):
            raise not_fitted("This KMeans instance is not fitted yet.")
        return np.asarray([f"kmeans{i}" for i in range(len(self.cluster_centers_))], dtype=object)


def _check_data(X, caller: str) -> np.ndarray:
    """``X`` as a finite 2-D numeric array (not copied when it is one already)."""
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            f"{caller}: sparse input is not supported (got {type(X).__name__}); "
            "pass a dense array, e.g. X.toarray()"
        )
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):  # pandas
        X = X.to_numpy()
    X = np.asarray(X)
    if X.dtype.kind == "c":
        raise ValueError(f"{caller}: Complex data not supported, got dtype {X.dtype}")
    if X.dtype.kind in "USV":
        raise ValueError(f"{caller}: expected numbers, got an array of dtype {X.dtype}")
    if X.dtype.kind == "O":
        X = X.astype(np.float64)  # a TypeError names anything that is not a number
    elif X.dtype.kind == "b":
        X = X.astype(np.uint8)
    elif X.dtype.kind not in "iuf":
        raise ValueError(f"{caller}: expected numbers, got an array of dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(
            f"{caller}: Expected 2D array, got {X.ndim}D array of shape {X.shape} instead. "
            "Reshape your data either using X.reshape(-1, 1) if it has a single feature "
            "or X.reshape(1, -1) if it holds a single sample."
        )
    if X.shape[0] == 0:
        raise ValueError(
            f"{caller}: Found array with 0 sample(s) (shape={X.shape}) while a minimum of "
            "1 is required."
        )
    if X.shape[1] == 0:
        raise ValueError(
            f"{caller}: Found array with 0 feature(s) (shape={X.shape}) while a minimum of "
            "1 is required."
        )
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise ValueError(f"{caller}: Input contains NaN or infinity (got an array of {X.dtype})")
    return X


def _check_weights(sample_weight, n_samples: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.ndim == 0:
        weights = np.full(n_samples, float(weights))
    if weights.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {weights.shape}")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("sample_weight must be finite and non-negative")
    if not weights.sum() > 0:
        raise ValueError("sample_weight must not be all zero")
    return weights


def _colour_pixels(X: np.ndarray):
    """(pixels, scale) when ``X`` holds 8-bit colour values: three columns of whole
    numbers 0..255 (scale 1), or floats ``k / 255`` as ``matplotlib.pyplot.imread``
    gives for PNG files (scale 255); ``pixels`` is then the (n, 3) uint8 array with
    ``pixels / scale == X`` exactly. (None, None) for any other data."""
    if X.shape[1] != 3:
        return None, None
    if X.dtype == np.uint8:
        return np.ascontiguousarray(X), 1
    low, high = X.min(), X.max()
    if low < 0 or high > 255:
        return None, None
    if X.dtype.kind in "iu":
        return np.ascontiguousarray(X, dtype=np.uint8), 1
    scale = 255 if high <= 1 else 1
    whole = np.multiply(X, scale, dtype=X.dtype)
    np.rint(whole, out=whole)
    back = whole if scale == 1 else np.divide(whole, scale, dtype=X.dtype)
    if not np.array_equal(back, X):
        return None, None
    return whole.astype(np.uint8), scale


class _DistinctRows:
    """The distinct rows of ``X`` with their total weights, and the way back to the rows."""

    def __init__(self, X: np.ndarray, weights):
        self.original = X
        self.row_weights = weights
        self.pixels, scale = _colour_pixels(X)
        self.scale = scale
        self.colours = scale is not None
        if self.colours:
            histogram = color_histogram(self.pixels)
            self.histogram = histogram
            self.fit_points = histogram.colors.astype(np.float64)
            self.points = self.fit_points / scale if scale != 1 else self.fit_points
            if weights is None:
                self.weights: np.ndarray = histogram.counts.astype(np.float64)
            else:
                index = labels_for_pixels(self.pixels, histogram, np.arange(len(self.points)))
                self.weights = np.bincount(index, weights=weights, minlength=len(self.points))
        else:
            self.scale = 1
            self.points, inverse, counts = np.unique(
                X.astype(np.float64), axis=0, return_inverse=True, return_counts=True
            )
            self.fit_points = self.points
            self.inverse = inverse.reshape(-1)
            self.weights = (
                counts.astype(np.float64)
                if weights is None
                else np.bincount(self.inverse, weights=weights, minlength=len(self.points))
            )

    def fitted(self):
        """(points, weights) of the rows of positive weight, in the fit's units."""
        keep = self.weights > 0
        if keep.all():
            return self.fit_points, self.weights
        return self.fit_points[keep], self.weights[keep]

    def mean(self) -> np.ndarray:
        """The weighted column means of the rows, as NumPy computes them on ``X``."""
        X = self.original.astype(np.float64, copy=False)
        return np.average(X, axis=0, weights=self.row_weights)

    def spread(self, labels: np.ndarray) -> np.ndarray:
        """The label of every row, from one per distinct row: (n_samples,) int32."""
        labels = np.ascontiguousarray(labels, dtype=np.int32)
        if self.colours:
            return labels_for_pixels(self.pixels, self.histogram, labels).astype(
                np.int32, copy=False
            )
        return labels[self.inverse]


def _nearest_centres(points: np.ndarray, centers: np.ndarray) -> np.ndarray:

    labels = np.zeros(len(points), dtype=np.int32)
    assign(
        np.ascontiguousarray(points, dtype=np.float64),
        np.ascontiguousarray(centers, dtype=np.float64),
        labels,
        np.empty(len(points)),
    )
    return labels


def _inertia(points, weights, centers, labels) -> float:
    difference = points - centers[labels]
    return float(np.einsum("i,ij,ij->", weights, difference, difference))


def _distances(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    out = np.empty((len(X), len(centers)))
    for start in range(0, len(X), 1 << 16):  # (block, k, d) differences at a time
        block = X[start : start + (1 << 16)]
        difference = block[:, None, :] - centers[None, :, :]
        out[start : start + len(block)] = np.sqrt(np.einsum("ijk,ijk->ij", difference, difference))
    return out


def _weighted_sample(weights: np.ndarray, k: int, rng) -> np.ndarray:
    """``k`` distinct indices drawn with probability by weight (rows with weight 0 last)."""
    keys = -np.log(np.maximum(rng.random(len(weights)), 1e-300)) / np.where(
        weights > 0, weights, 1e-300
    )
    return np.argsort(keys, kind="stable")[:k]
