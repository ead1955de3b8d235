# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Helpers shared by the compiled modules (inlined into each that cimports them)."""

from libc.math cimport INFINITY
from libc.stdint cimport int32_t

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static inline int kpalette_max_threads(void) { return omp_get_max_threads(); }
    #else
    static inline int kpalette_max_threads(void) { return 1; }
    #endif
    /* Threads for a parallel region of ``work`` units: one per ``grain`` units, at
       least 1 and at most the calling thread's limit. A region of one thread wakes no
       other, so small work never pays for a team (nor waits for one on a busy
       machine). */
    static inline int kpalette_team(Py_ssize_t work, Py_ssize_t grain) {
        Py_ssize_t n = grain > 0 ? work / grain : 1;
        int most = kpalette_max_threads();
        if (n < 1) return 1;
        return n < most ? (int)n : most;
    }
    """
    int kpalette_max_threads() noexcept nogil
    int kpalette_team(Py_ssize_t work, Py_ssize_t grain) noexcept nogil


# Work per thread below which a region runs on fewer threads (kpalette_team's grains),
# so that a thread costs less than it gains (docs/benchmarks.md, "Threads").
cdef enum:
    GRAIN_PIXELS = 262144  # pixels looked up or colours converted, per thread
    GRAIN_POINTS = 65536  # points assigned to their nearest centre, per thread
    GRAIN_WALK = 131072  # points under the trees a seeding or Lloyd step walks, per thread
    GRAIN_BYTES = 262144  # PNG scanline bytes filtered, per thread


"""Squared distance between two points of d coordinates (d = 3 unrolled)."""
cdef inline double _point_dist2(const double* x, const double* y, int d) noexcept nogil:
    """Squared distance between two points of d coordinates (d = 3 unrolled)."""
    cdef double acc = 0.0, diff
    cdef int t
    if d == 3:
        return ((x[0] - y[0]) * (x[0] - y[0]) + (x[1] - y[1]) * (x[1] - y[1])
                + (x[2] - y[2]) * (x[2] - y[2]))
    for t in range(d):
        diff = x[t] - y[t]
        acc += diff * diff
    return acc



cdef inline double _dist2(const double[:, ::1] a, Py_ssize_t i, const double[:, ::1] b,
                          Py_ssize_t j, int d) noexcept nogil:
    """``|a[i] - b[j]|^2`` (:func:`_point_dist2` on rows of two arrays)."""
    return _point_dist2(&a[i, 0], &b[j, 0], d)


cdef inline Py_ssize_t _box_candidates_3d(const double* centers, const int32_t* among, Py_ssize_t m,
                                   const double* low, const double* high,
                                   int32_t* out) noexcept nogil:
    """:func:`_box_candidates` for d = 3 (colours), unrolled: the same arithmetic."""
    cdef Py_ssize_t i, n = 0
    cdef const double* z
    cdef double best = INFINITY, acc, d0, d1, d2, to_z, to_nearest
    cdef double mid0 = 0.5 * (low[0] + high[0]), mid1 = 0.5 * (low[1] + high[1])
    cdef double mid2 = 0.5 * (low[2] + high[2]), n0, n1, n2, c0, c1, c2
    cdef Py_ssize_t best_at = 0
    for i in range(m):
        z = centers + among[i] * 3
        d0 = z[0] - mid0
        d1 = z[1] - mid1
        d2 = z[2] - mid2
        acc = d0 * d0 + d1 * d1 + d2 * d2
        if acc < best:
            best = acc
            best_at = i
    z = centers + among[best_at] * 3
    n0 = z[0]
    n1 = z[1]
    n2 = z[2]
    for i in range(m):
        if i == best_at:
            out[n] = among[i]
            n += 1
            continue
        z = centers + among[i] * 3
        c0 = high[0] if z[0] > n0 else low[0]
        c1 = high[1] if z[1] > n1 else low[1]
        c2 = high[2] if z[2] > n2 else low[2]
        to_z = (z[0] - c0) * (z[0] - c0) + (z[1] - c1) * (z[1] - c1) + (z[2] - c2) * (z[2] - c2)
        to_nearest = ((n0 - c0) * (n0 - c0) + (n1 - c1) * (n1 - c1)
                      + (n2 - c2) * (n2 - c2))
        if to_z <= to_nearest * (1.0 + 1e-12) + 1e-9:
            out[n] = among[i]
            n += 1
    return n


cdef inline Py_ssize_t _box_candidates(const double* centers, int d, const int32_t* among,
                                Py_ssize_t m, const double* low, const double* high,
                                int32_t* out) noexcept nogil:
    """Centres (of ``among``, ascending) that can be the nearest of some point of a box.

    Kanungo et al.'s filter: with ``z*`` the centre nearest the box's middle, a centre
    ``z`` is dropped when even the box's corner farthest toward ``z`` is closer to
    ``z*``, so every point of the box is. Kept, in the order of ``among``, are ``z*``
    and every centre that is not strictly farther (ties kept, so the lower index can
    still win), with a margin against rounding. Returns how many were written.
    """
    cdef Py_ssize_t i, n = 0
    cdef const double* z
    cdef const double* nearest
    cdef double acc, best = INFINITY, corner, to_z, to_nearest, diff
    cdef int t, best_at = 0
    if d == 3:
        return _box_candidates_3d(centers, among, m, low, high, out)
    for i in range(m):
        z = centers + among[i] * d
        acc = 0.0
        for t in range(d):
            diff = z[t] - 0.5 * (low[t] + high[t])
            acc += diff * diff
        if acc < best:
            best = acc
            best_at = <int>i
    nearest = centers + among[best_at] * d
    for i in range(m):
        if i == best_at:
            out[n] = among[i]
            n += 1
            continue
        z = centers + among[i] * d
        to_z = 0.0
        to_nearest = 0.0
        for t in range(d):
            corner = high[t] if z[t] > nearest[t] else low[t]
            to_z += (z[t] - corner) * (z[t] - corner)
            to_nearest += (nearest[t] - corner) * (nearest[t] - corner)
        if to_z <= to_nearest * (1.0 + 1e-12) + 1e-9:
            out[n] = among[i]
            n += 1
    return n


cdef inline int check_length(str what, Py_ssize_t got, Py_ssize_t expected) except -1:
    """ValueError unless ``got == expected``: ``what`` names the argument."""
    if got != expected:
        raise ValueError(f"{what} must have {expected} rows, got {got}")
    return 0


cdef inline int check_columns(str what, Py_ssize_t got, Py_ssize_t expected) except -1:
    """ValueError unless ``got == expected`` columns."""
    if got != expected:
        raise ValueError(f"{what} must have {expected} columns, got {got}")
    return 0


cdef inline int check_indices(str what, values, Py_ssize_t stop) except -1:
    """ValueError unless every value (an integer array) is in ``0 .. stop - 1``."""
    import numpy as np

    array = np.asarray(values)
    if array.size and (array.min() < 0 or array.max() >= stop):
        raise ValueError(
            f"{what} must be in 0..{stop - 1}, got values from {array.min()} to {array.max()}"
        )
    return 0
