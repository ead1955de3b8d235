# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Rate-aware mapping of pixels to palette entries: a pixel takes its left or upper
neighbour's entry instead of its nearest one when that costs little, so that deflate
finds longer runs. Bands of ``RUN_BAND_ROWS`` rows are mapped on their own (each
band's first row has no upper neighbour), in parallel; the band size is fixed, so the
entries do not depend on the number of threads. Tested against a NumPy twin in
``tests/reference.py``.
"""

import numpy as np

from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.stdint cimport int32_t

from kpalette._kernels._shared cimport GRAIN_PIXELS, check_columns, check_length, kpalette_team

#: Rows mapped as one band (one row in this many has no upper neighbour to follow).
RUN_BAND_ROWS = 512


cdef inline double _distance(const double[:, ::1] points, Py_ssize_t i,
                             const double[:, ::1] centers, Py_ssize_t j, int d) noexcept nogil:
    cdef double acc = 0.0, diff
    cdef int c
    for c in range(d):
        diff = points[i, c] - centers[j, c]
        acc += diff * diff
    return sqrt(acc)


def map_with_runs(const int32_t[:, ::1] color_ids, const double[:, ::1] points,
                  const int32_t[::1] nearest, const double[:, ::1] centers,
                  double tolerance, int32_t[:, ::1] out, Py_ssize_t band_rows=RUN_BAND_ROWS):
    """Each pixel's entry: of the entries of the pixels to its left and above (as
    already chosen) that are at most ``tolerance`` farther from its colour than its
    nearest entry is, the closer (the left one on a tie); when neither is, the
    nearest. So a pixel whose neighbour has its nearest entry keeps it. Rows in
    order, left to right, in bands of ``band_rows`` rows whose first row has no upper
    neighbour (the bands in parallel).

    Parameters
    ----------
    color_ids : (H, W) int32 array
        The distinct colour of each pixel (a row of ``points``), or -1 for a pixel
        that keeps the entry already in ``out`` (transparent) and is no neighbour.
    points : (n, d) float64 array
        The distinct colours' coordinates in the clustering space.
    nearest : (n,) int32 array
        Each colour's nearest entry, in 0..m-1.
    centers : (m, d) float64 array
        The entries' coordinates in the same space.
    tolerance : float
        The extra distance a neighbour's entry may cost (0: the nearest always).
    out : (H, W) int32 array
        Written with the chosen entry of every pixel of colour id 0 or more.
    band_rows : int
        Rows of a band, at least 1.
    """
    cdef Py_ssize_t height = color_ids.shape[0], width = color_ids.shape[1]
    cdef Py_ssize_t n = points.shape[0], m = centers.shape[0]
    cdef int d = points.shape[1]
    check_columns("centers", centers.shape[1], d)
    check_length("nearest", nearest.shape[0], n)
    if out.shape[0] != height or out.shape[1] != width:
        raise ValueError(
            f"out must have shape ({height}, {width}), got ({out.shape[0]}, {out.shape[1]})"
        )
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be 0 or more, got {tolerance}")
    if band_rows < 1:
        raise ValueError(f"band_rows must be 1 or more, got {band_rows}")
    if height and width:
        ids = np.asarray(color_ids)
        if ids.min() < -1 or ids.max() >= n:
            raise ValueError(f"color ids must be in -1..{n - 1}, got {ids.min()}..{ids.max()}")
    if n:
        entries = np.asarray(nearest)
        if entries.min() < 0 or entries.max() >= m:
            raise ValueError(
                f"nearest entries must be in 0..{m - 1}, got {entries.min()}..{entries.max()}"
            )
    cdef Py_ssize_t n_bands = (height + band_rows - 1) // band_rows if height else 0, band
    cdef int threads = kpalette_team(height * width, GRAIN_PIXELS)
    for band in prange(n_bands, nogil=True, schedule="dynamic", num_threads=threads):
        _map_band(color_ids, points, nearest, centers, tolerance, out, d,
                  band * band_rows, min(height, (band + 1) * band_rows))


cdef void _map_band(const int32_t[:, ::1] color_ids, const double[:, ::1] points,
                    const int32_t[::1] nearest, const double[:, ::1] centers,
                    double tolerance, int32_t[:, ::1] out, int d,
                    Py_ssize_t first, Py_ssize_t stop) noexcept nogil:
    """Rows ``first`` to ``stop`` - 1 of :func:`map_with_runs`, the first with no
    upper neighbour."""
    cdef Py_ssize_t width = color_ids.shape[1], x, y
    cdef int32_t colour, best, left, above
    cdef double base, to_left, to_above
    for y in range(first, stop):
        for x in range(width):
            colour = color_ids[y, x]
            if colour < 0:
                continue
            best = nearest[colour]
            left = out[y, x - 1] if x > 0 and color_ids[y, x - 1] >= 0 else -1
            above = out[y - 1, x] if y > first and color_ids[y - 1, x] >= 0 else -1
            if tolerance > 0 and ((left >= 0 and left != best) or (above >= 0 and above != best)):
                base = _distance(points, colour, centers, best, d) + tolerance
                to_left = _distance(points, colour, centers, left, d) if left >= 0 else base + 1
                to_above = _distance(points, colour, centers, above, d) if above >= 0 else base + 1
                if to_left <= base and to_left <= to_above:
                    best = left
                elif to_above <= base:
                    best = above
            out[y, x] = best
