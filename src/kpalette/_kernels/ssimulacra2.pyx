# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""SSIMULACRA2's two loops over the pixels of each scale (:mod:`kpalette.ssimulacra2`):
the Gaussian blur of the planes, and the SSIM, artefact and detail-lost maps summed
into their means and 4-norms without being stored. Rows are parallel; every sum is
made row by row, then the rows added in order, so the score does not depend on the
number of threads. Tested against the NumPy twins in ``tests/reference.py``.
"""

import numpy as np

from cython.parallel cimport prange
from libc.math cimport fabsf

from kpalette._kernels._shared cimport GRAIN_PIXELS, kpalette_team

cdef enum:
    MAX_TAPS = 63


cdef tuple _shape(const float[:, :, ::1] array):
    return (array.shape[0], array.shape[1], array.shape[2])


cdef inline Py_ssize_t _mirrored(Py_ssize_t row, Py_ssize_t height) noexcept nogil:
    """Row ``row`` of a column mirrored at both ends (the edge row repeated)."""
    if row < 0:
        row = -row - 1
    if row >= height:
        row = 2 * height - 1 - row
    if row < 0:
        return 0
    if row >= height:
        return height - 1
    return row


def blur(const float[:, :, ::1] planes, const float[::1] taps, float[:, :, ::1] work,
         float[:, :, ::1] out):
    """Separable Gaussian blur of (H, W, C) planes into ``out``: down the columns with
    the rows mirrored past the top and bottom, then along the rows with zeros past
    the left and right sides (the ``ssimulacra2`` package's edges).

    Parameters
    ----------
    planes : (H, W, C) float32
    taps : (2 r + 1,) float32
        The kernel, centred (at most 63 taps).
    work, out : (H, W, C) float32
        The vertical pass's result, and the blur.
    """
    cdef Py_ssize_t height = planes.shape[0], width = planes.shape[1], depth = planes.shape[2]
    cdef Py_ssize_t n_taps = taps.shape[0]
    if n_taps % 2 != 1 or n_taps > MAX_TAPS:
        raise ValueError(f"taps must be an odd number up to {MAX_TAPS}, got {n_taps}")
    for name, shape in (("work", _shape(work)), ("out", _shape(out))):
        if shape != (height, width, depth):
            raise ValueError(
                f"{name} must have the planes' shape {(height, width, depth)}, got {shape}"
            )
    if height == 0 or width == 0 or depth == 0:
        return
    cdef Py_ssize_t radius = n_taps // 2, row_values = width * depth
    cdef Py_ssize_t y, t, v, first, last
    cdef float tap
    cdef const float* above
    cdef float* target
    # grains of values blurred (each a pass of n_taps multiply-adds)
    cdef int threads = kpalette_team(height * row_values, GRAIN_PIXELS)
    for y in prange(height, nogil=True, schedule="static", num_threads=threads):
        target = &work[y, 0, 0]
        for v in range(row_values):
            target[v] = 0.0
        for t in range(n_taps):
            tap = taps[t]
            above = &planes[_mirrored(y + t - radius, height), 0, 0]
            for v in range(row_values):
                target[v] = target[v] + tap * above[v]
    for y in prange(height, nogil=True, schedule="static", num_threads=threads):
        target = &out[y, 0, 0]
        for v in range(row_values):
            target[v] = 0.0
        for t in range(n_taps):
            tap = taps[t]
            # out[x] += tap * work[x + t - radius], for the x whose source is inside
            first = radius - t if t < radius else 0
            last = width - (t - radius) if t > radius else width
            if first >= last:
                continue
            above = &work[y, 0, 0] + (t - radius) * depth
            for v in range(first * depth, last * depth):
                target[v] = target[v] + tap * above[v]


def scale_sums(const float[:, :, ::1] a, const float[:, :, ::1] b,
               const float[:, :, ::1] blurred_a, const float[:, :, ::1] blurred_b, double c2):
    """The means and 4-norms of one scale's maps, per channel.

    Parameters
    ----------
    a, b : (H, W, 3) float32
        The reference and the distorted image in (positive) XYB.
    blurred_a : (H, W, 6) float32
        The blur of ``[a, a*a]`` (made once for a reference scored many times).
    blurred_b : (H, W, 9) float32
        The blur of ``[b, b*b, a*b]``.
    c2 : float
        SSIM's stabiliser.

    Returns
    -------
    (3, 2, 3) float64 array
        [channel, (mean, 4-norm), (ssim, artefact, detail lost)].
    """
    cdef Py_ssize_t height = a.shape[0], width = a.shape[1]
    if a.shape[2] != 3 or _shape(b) != (height, width, 3):
        raise ValueError(
            f"a and b must be (H, W, 3) of one shape, got {_shape(a)} and {_shape(b)}"
        )
    if _shape(blurred_a) != (height, width, 6):
        raise ValueError(f"blurred_a must be {(height, width, 6)}, got {_shape(blurred_a)}")
    if _shape(blurred_b) != (height, width, 9):
        raise ValueError(f"blurred_b must be {(height, width, 9)}, got {_shape(blurred_b)}")
    if height == 0 or width == 0:
        raise ValueError("the images are empty")
    rows = np.zeros((height, 18), dtype=np.float64)
    cdef double[:, ::1] row_sums = rows
    cdef Py_ssize_t y, x
    cdef int c
    cdef const float* ma
    cdef const float* mb
    cdef float mu_a, mu_b, num_m, num_s, denom_s, ssim, ratio, value, c2f = <float>c2
    cdef double squared
    cdef int threads = kpalette_team(height * width * 15, GRAIN_PIXELS)
    for y in prange(height, nogil=True, schedule="static", num_threads=threads):
        for x in range(width):
            ma = &blurred_a[y, x, 0]
            mb = &blurred_b[y, x, 0]
            for c in range(3):
                mu_a = ma[c]
                mu_b = mb[c]
                num_m = 1.0 - (mu_a - mu_b) * (mu_a - mu_b)
                num_s = 2.0 * (mb[6 + c] - mu_a * mu_b) + c2f
                denom_s = (ma[3 + c] - mu_a * mu_a) + (mb[3 + c] - mu_b * mu_b) + c2f
                ssim = 1.0 - num_m * num_s / denom_s
                if ssim < 0.0:
                    ssim = 0.0
                ratio = ((1.0 + fabsf(b[y, x, c] - mu_b)) / (1.0 + fabsf(a[y, x, c] - mu_a))
                         - 1.0)
                # [channel][map]: the sum, then the sum of fourth powers
                row_sums[y, c * 6 + 0] += ssim
                squared = <double>ssim * ssim
                row_sums[y, c * 6 + 1] += squared * squared
                value = ratio if ratio > 0.0 else 0.0
                row_sums[y, c * 6 + 2] += value
                squared = <double>value * value
                row_sums[y, c * 6 + 3] += squared * squared
                value = -ratio if ratio < 0.0 else 0.0
                row_sums[y, c * 6 + 4] += value
                squared = <double>value * value
                row_sums[y, c * 6 + 5] += squared * squared
    totals = rows.sum(axis=0).reshape(3, 3, 2) / (height * width)  # [channel, map, sum]
    out = np.empty((3, 2, 3))
    out[:, 0, :] = totals[:, :, 0]
    out[:, 1, :] = np.sqrt(np.sqrt(totals[:, :, 1]))
    return out
