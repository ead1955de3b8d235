"""Compiled hot loops (Numba, cached on disk after the first run).

Everything that touches every pixel or every distinct colour on every K-means
iteration lives here; the rest of kpalette orchestrates in NumPy. Each kernel has a
plain NumPy twin in ``tests/reference.py`` and is tested against it.

Why hand-written loops: NumPy's ``bincount``/``unique`` need a 24-bit code array per
pixel and a sort or a 128 MB int64 table (measured 0.35 s for 8.7 MP against 0.05 s
here), and SciPy/scikit-learn offer no weighted assignment that starts from the
previous labels and prunes with the triangle inequality.

Determinism: parallel loops write per-point results or per-chunk partial sums over a
fixed chunk size, merged in chunk order, so results do not depend on thread count.
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: Points per chunk in the parallel reductions (fixed, so sums are reproducible).
CHUNK = 16384
_N_CODES = 1 << 24


@nb.njit(cache=True, nogil=True)
def count_rgb(pixels):
    """Count every 24-bit colour.

    Parameters
    ----------
    pixels : (N, 3) uint8 array

    Returns
    -------
    table : (2**24,) uint32 array
        ``table[(r << 16) | (g << 8) | b]`` is the number of pixels of that colour.
    """
    table = np.zeros(_N_CODES, dtype=np.uint32)
    for i in range(pixels.shape[0]):
        code = (np.int64(pixels[i, 0]) << 16) | (np.int64(pixels[i, 1]) << 8) | pixels[i, 2]
        table[code] += 1
    return table


@nb.njit(cache=True, parallel=True, nogil=True)
def lookup_rgb(pixels, table, out):
    """``out[i] = table[code(pixels[i])]`` for every pixel (the label map).

    Parameters
    ----------
    pixels : (N, 3) uint8 array
    table : (2**24,) integer array
    out : (N,) integer array, written in place
    """
    n = pixels.shape[0]
    for i in nb.prange(n):
        code = (np.int64(pixels[i, 0]) << 16) | (np.int64(pixels[i, 1]) << 8) | pixels[i, 2]
        out[i] = table[code]


@nb.njit(cache=True, nogil=True)
def _sorted_neighbours(centers):
    """Centre-to-centre distances and, per centre, the others sorted by distance."""
    k, d = centers.shape
    between = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            acc = 0.0
            for t in range(d):
                diff = centers[i, t] - centers[j, t]
                acc += diff * diff
            between[i, j] = np.sqrt(acc)
    order = np.empty((k, k), dtype=np.int64)
    for i in range(k):
        order[i] = np.argsort(between[i], kind="mergesort")
    return between, order


@nb.njit(cache=True, parallel=True, nogil=True)
def assign(points, centers, labels, dist2):
    """Nearest centre of every point (squared Euclidean), sort-means style.

    Each point starts from its current label ``a`` and visits the other centres in
    order of their distance from ``c_a``; once ``|c_a - c_j| > |x - c_a| + |x - c_best|``
    no farther centre can be closer (triangle inequality) and the search stops.
    Exact: ties go to the lower index, as with ``argmin``.

    Parameters
    ----------
    points : (n, d) float64 array
    centers : (k, d) float64 array
    labels : (n,) int32 array
        Start guesses in ``0..k-1``; overwritten with the nearest centre.
    dist2 : (n,) float64 array
        Overwritten with the squared distance to the nearest centre.
    """
    n, d = points.shape
    between, order = _sorted_neighbours(centers)
    k = centers.shape[0]
    for p in nb.prange(n):
        a = labels[p]
        acc = 0.0
        for t in range(d):
            diff = points[p, t] - centers[a, t]
            acc += diff * diff
        best = a
        best2 = acc
        dist_a = np.sqrt(acc)
        bound = 2.0 * dist_a
        for r in range(k):
            j = order[a, r]
            if between[a, j] > bound * (1.0 + 1e-12) + 1e-9:
                break
            if j == a:
                continue
            acc = 0.0
            for t in range(d):
                diff = points[p, t] - centers[j, t]
                acc += diff * diff
            if acc < best2 or (acc == best2 and j < best):
                best = j
                best2 = acc
                bound = dist_a + np.sqrt(acc)
        labels[p] = best
        dist2[p] = best2


@nb.njit(cache=True, parallel=True, nogil=True)
def weighted_sums(points, weights, labels, k):
    """Per-cluster weighted coordinate sums and total weights.

    Parameters
    ----------
    points : (n, d) float64 array
    weights : (n,) float64 array
    labels : (n,) int32 array
    k : int

    Returns
    -------
    sums : (k, d) float64 array
    totals : (k,) float64 array
    """
    n, d = points.shape
    n_chunks = (n + CHUNK - 1) // CHUNK
    partial = np.zeros((n_chunks, k, d))
    partial_w = np.zeros((n_chunks, k))
    for c in nb.prange(n_chunks):
        stop = min(n, (c + 1) * CHUNK)
        for p in range(c * CHUNK, stop):
            label = labels[p]
            w = weights[p]
            partial_w[c, label] += w
            for t in range(d):
                partial[c, label, t] += w * points[p, t]
    sums = np.zeros((k, d))
    totals = np.zeros(k)
    for c in range(n_chunks):
        for j in range(k):
            totals[j] += partial_w[c, j]
            for t in range(d):
                sums[j, t] += partial[c, j, t]
    return sums, totals


@nb.njit(cache=True, parallel=True, nogil=True)
def _min_dist2_update(points, weights, center, closest, out):
    """``out = min(closest, |x - center|^2)``; returns ``sum(weights * out)``."""
    n, d = points.shape
    n_chunks = (n + CHUNK - 1) // CHUNK
    partial = np.zeros(n_chunks)
    for c in nb.prange(n_chunks):
        stop = min(n, (c + 1) * CHUNK)
        acc_c = 0.0
        for p in range(c * CHUNK, stop):
            acc = 0.0
            for t in range(d):
                diff = points[p, t] - center[t]
                acc += diff * diff
            value = min(acc, closest[p])
            out[p] = value
            acc_c += weights[p] * value
        partial[c] = acc_c
    total = 0.0
    for c in range(n_chunks):
        total += partial[c]
    return total


@nb.njit(cache=True, nogil=True)
def _pick(cumulative, target):
    """First index whose cumulative weight exceeds ``target`` (clipped to the range)."""
    index = np.searchsorted(cumulative, target, side="right")
    return min(index, cumulative.shape[0] - 1)


@nb.njit(cache=True, nogil=True)
def kmeans_plusplus(points, weights, k, n_trials, uniforms):
    """Greedy weighted k-means++ seeding.

    The first centre is drawn with probability proportional to weight; each next one
    is the best (lowest potential) of ``n_trials`` candidates drawn with probability
    proportional to ``weight * D(x)^2``.

    Parameters
    ----------
    points : (n, d) float64 array
    weights : (n,) float64 array
    k : int
    n_trials : int
    uniforms : (1 + (k - 1) * n_trials,) float64 array
        Uniform random numbers in [0, 1) that drive every draw (from the caller's
        seeded generator, so the result is reproducible).

    Returns
    -------
    chosen : (k,) int64 array
        Indices into ``points`` of the chosen centres.
    """
    n, d = points.shape
    chosen = np.empty(k, dtype=np.int64)
    cumulative = np.cumsum(weights)
    first = _pick(cumulative, uniforms[0] * cumulative[-1])
    chosen[0] = first
    closest = np.full(n, np.inf)
    candidate_dist = np.empty(n)
    best_dist = np.empty(n)
    _min_dist2_update(points, weights, points[first], closest, closest)
    for c in range(1, k):
        cumulative = np.cumsum(weights * closest)
        total = cumulative[-1]
        if total <= 0.0:
            # Every point already sits on a centre: repeat the first (caller warns).
            chosen[c:] = first
            break
        best_potential = np.inf
        best_index = -1
        for t in range(n_trials):
            u = uniforms[1 + (c - 1) * n_trials + t]
            index = _pick(cumulative, u * total)
            trial = _min_dist2_update(points, weights, points[index], closest, candidate_dist)
            if trial < best_potential:
                best_potential = trial
                best_index = index
                best_dist[:] = candidate_dist
        chosen[c] = best_index
        closest[:] = best_dist
    return chosen
