# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The nearest-centre search of any points (``assign``): each point's nearest centre
and its squared distance, the centres visited in order of their distance from the
point's previous one and cut off by the triangle inequality. Tested against the NumPy
twin in ``tests/reference.py``.
"""

import numpy as np

from cython.parallel cimport prange
from libc.math cimport INFINITY, sqrt
from libc.stdint cimport int32_t, int64_t

from kpalette._kernels._shared cimport (
    GRAIN_POINTS,
    _dist2,
    check_columns,
    check_indices,
    check_length,
    kpalette_team,
)


cdef void _center_distances(const double[:, ::1] centers, double* between) noexcept nogil:
    """``between[i * k + j] = |c_i - c_j|``."""
    cdef Py_ssize_t k = centers.shape[0], i, j
    cdef int d = centers.shape[1]
    for i in range(k):
        between[i * k + i] = 0.0
        for j in range(i + 1, k):
            between[i * k + j] = sqrt(_dist2(centers, i, centers, j, d))
            between[j * k + i] = between[i * k + j]


def _neighbour_order(const double[:, ::1] centers):
    """Centre-to-centre distances and, per centre, the others sorted by distance."""
    cdef Py_ssize_t k = centers.shape[0]
    between_array = np.empty((k, k))
    cdef double[:, ::1] between = between_array
    _center_distances(centers, &between[0, 0])
    # Not a stable sort: equally distant centres may come in any order, since the
    # search visits every centre within its bound whatever the order among them
    # (labels and distances are the same); it is three times as fast as a stable one.
    order = np.argsort(between_array, axis=1)
    return between_array, order


cdef inline int32_t _sort_means_point(
    const double[:, ::1] points, Py_ssize_t p, const double[:, ::1] centers,
    const double[:, ::1] between, const int64_t[:, ::1] order, int32_t start,
    double* best_out, double* lower_out,
) noexcept nogil:
    """Nearest centre of one point by sort-means; also a lower bound on the others.

    Visits the centres in order of their distance from ``c_start`` and stops once
    ``|c_start - c_j| > |x - c_start| + |x - c_best|``: no farther centre can be
    closer. ``lower_out`` gets a lower bound on the distance (not squared) from the
    point to every centre but the nearest.
    """
    cdef Py_ssize_t k = centers.shape[0], r, j
    cdef int d = centers.shape[1]
    cdef double acc = _dist2(points, p, centers, start, d)
    cdef int32_t best = start
    cdef double best2 = acc, second = INFINITY
    cdef double dist_a = sqrt(acc), bound = 2.0 * dist_a
    cdef double unvisited = INFINITY
    for r in range(k):
        j = order[start, r]
        if between[start, j] > bound * (1.0 + 1e-12) + 1e-9:
            unvisited = between[start, j] - dist_a
            break
        if j == start:
            continue
        acc = _dist2(points, p, centers, j, d)
        if acc < best2 or (acc == best2 and j < best):
            second = best2
            best = <int32_t>j
            best2 = acc
            bound = dist_a + sqrt(acc)
        elif acc < second:
            second = acc
    best_out[0] = best2
    lower_out[0] = min(sqrt(second), unvisited)
    return best


def assign(const double[:, ::1] points, const double[:, ::1] centers, int32_t[::1] labels,
           double[::1] dist2):
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
    cdef Py_ssize_t n = points.shape[0], p
    if centers.shape[0] < 1:
        raise ValueError("assign needs at least one centre, got 0")
    check_columns("centers", centers.shape[1], points.shape[1])
    check_length("labels", labels.shape[0], n)
    check_length("dist2", dist2.shape[0], n)
    check_indices("labels (the starting guesses)", labels, centers.shape[0])
    if centers.shape[0] > ASSIGN_TABLE_MAX:
        _assign_each(points, centers, labels, dist2)
        return
    between_array, order_array = _neighbour_order(centers)
    cdef double[:, ::1] between = between_array
    cdef int64_t[:, ::1] order = order_array
    lower_array = np.empty(n)
    cdef double[::1] lower = lower_array
    with nogil:
        for p in prange(n, schedule="static", num_threads=kpalette_team(n, GRAIN_POINTS)):
            labels[p] = _sort_means_point(
                points, p, centers, between, order, labels[p], &dist2[p], &lower[p]
            )


#: Most centres for which :func:`assign` builds its k x k table of centre distances
#: (16 bytes a pair, 268 MB here); above it every point compares every centre, so that
#: memory stays linear in k.
cdef Py_ssize_t ASSIGN_TABLE_MAX = 4096


cdef void _assign_each(const double[:, ::1] points, const double[:, ::1] centers,
                       int32_t[::1] labels, double[::1] dist2) noexcept:
    """:func:`assign` by comparing every centre: no table, ties to the lower index."""
    cdef Py_ssize_t n = points.shape[0], k = centers.shape[0], p, j
    cdef int d = points.shape[1]
    cdef double best, acc
    cdef int32_t label
    with nogil:
        for p in prange(n, schedule="static", num_threads=kpalette_team(n, GRAIN_POINTS)):
            best = INFINITY
            label = 0
            for j in range(k):
                acc = _dist2(points, p, centers, j, d)
                if acc < best:
                    best = acc
                    label = <int32_t>j
            labels[p] = label
            dist2[p] = best
