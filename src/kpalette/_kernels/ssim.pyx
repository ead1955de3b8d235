# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""SSIM's window sums over two images, in bands of rows: the sums from which
:func:`kpalette.metrics.structural_similarity` makes its map. Tested against the NumPy
twin in ``tests/reference.py`` and scikit-image.
"""

import numpy as np

from cython.parallel cimport prange
from libc.stdint cimport uint8_t
from libc.stdlib cimport calloc, free


# --------------------------------------------------------------------------- SSIM
cdef enum:
    _SSIM_WINDOW = 7
    _SSIM_BAND_ROWS = 32

#: Side of the SSIM window (scikit-image's default, uniform weights).
SSIM_WINDOW = _SSIM_WINDOW
#: Centre rows per task of :func:`ssim_sums`: fixed, so the sums do not depend on the
#: number of threads.
SSIM_BAND_ROWS = _SSIM_BAND_ROWS


cdef void _ssim_add_rows(const uint8_t* added_a, const uint8_t* added_b,
                         const uint8_t* removed_a, const uint8_t* removed_b,
                         Py_ssize_t width, int n_channels, bint premultiply,
                         double* sums) noexcept nogil:
    """Add one row's samples (x, y, x*x, y*y, x*y per value) to the column sums and
    take another's away (``removed_a`` NULL: none). ``sums`` holds five arrays of
    ``width * n_channels`` values, one per quantity."""
    cdef Py_ssize_t n_values = width * n_channels, j, v
    cdef int c
    cdef double* sum_x = sums
    cdef double* sum_y = sums + n_values
    cdef double* sum_xx = sums + 2 * n_values
    cdef double* sum_yy = sums + 3 * n_values
    cdef double* sum_xy = sums + 4 * n_values
    cdef double x, y, x_old, y_old, scale_a, scale_b, scale_a_old = 0.0, scale_b_old = 0.0
    if not premultiply:
        # One loop per quantity, so that each vectorizes (a store through a double
        # pointer may alias the uint8 rows, which the compiler checks for at run time
        # only on short lists of streams).
        if removed_a == NULL:
            for v in range(n_values):
                sum_x[v] += added_a[v]
            for v in range(n_values):
                sum_y[v] += added_b[v]
            for v in range(n_values):
                sum_xx[v] += <double>added_a[v] * added_a[v]
            for v in range(n_values):
                sum_yy[v] += <double>added_b[v] * added_b[v]
            for v in range(n_values):
                sum_xy[v] += <double>added_a[v] * added_b[v]
        else:
            for v in range(n_values):
                sum_x[v] += <double>added_a[v] - removed_a[v]
            for v in range(n_values):
                sum_y[v] += <double>added_b[v] - removed_b[v]
            for v in range(n_values):
                sum_xx[v] += (<double>added_a[v] * added_a[v]
                              - <double>removed_a[v] * removed_a[v])
            for v in range(n_values):
                sum_yy[v] += (<double>added_b[v] * added_b[v]
                              - <double>removed_b[v] * removed_b[v])
            for v in range(n_values):
                sum_xy[v] += (<double>added_a[v] * added_b[v]
                              - <double>removed_a[v] * removed_b[v])
    else:  # RGBA: colour channels premultiplied by alpha / 255, then alpha itself
        for j in range(width):
            scale_a = added_a[j * 4 + 3] / 255.0
            scale_b = added_b[j * 4 + 3] / 255.0
            if removed_a != NULL:
                scale_a_old = removed_a[j * 4 + 3] / 255.0
                scale_b_old = removed_b[j * 4 + 3] / 255.0
            for c in range(4):
                v = j * 4 + c
                x = added_a[v] * scale_a if c < 3 else added_a[v]
                y = added_b[v] * scale_b if c < 3 else added_b[v]
                x_old = 0.0
                y_old = 0.0
                if removed_a != NULL:
                    x_old = removed_a[v] * scale_a_old if c < 3 else removed_a[v]
                    y_old = removed_b[v] * scale_b_old if c < 3 else removed_b[v]
                sum_x[v] += x - x_old
                sum_y[v] += y - y_old
                sum_xx[v] += x * x - x_old * x_old
                sum_yy[v] += y * y - y_old * y_old
                sum_xy[v] += x * y - x_old * y_old


cdef void _ssim_row(const double* sums, Py_ssize_t width, int n_channels, double c1,
                    double c2, double* scratch, double* totals) noexcept nogil:
    """Add one row of the SSIM map, over its centre columns, to ``totals`` (per channel).

    Each window's sums are differences of running sums along the row of the column
    sums (one pass, the channels' chains interleaved), then the map is computed in a
    loop the compiler vectorizes. ``scratch`` holds 6 * (width + 1) * n_channels values.
    """
    cdef Py_ssize_t n_values = width * n_channels
    cdef Py_ssize_t n_out = (width - _SSIM_WINDOW + 1) * n_channels, v
    cdef Py_ssize_t span = _SSIM_WINDOW * n_channels, stride = n_values + n_channels
    cdef double n = _SSIM_WINDOW * _SSIM_WINDOW
    cdef double cov_norm = n / (n - 1.0)  # sample covariance, as scikit-image
    cdef double sx, sy, sxy, vx, vy, vxy, even, odd
    cdef double c1_n2 = c1 * n * n, c2_n2 = c2 * n * n
    # Running sums: run_q[v + C] = run_q[v] + sums_q[v], run_q[0..C-1] = 0.
    cdef double* run_x = scratch
    cdef double* run_y = scratch + stride
    cdef double* run_xx = scratch + 2 * stride
    cdef double* run_yy = scratch + 3 * stride
    cdef double* run_xy = scratch + 4 * stride
    cdef double* map_values = scratch + 5 * stride
    cdef int c
    for v in range(n_channels):
        run_x[v] = 0.0
        run_y[v] = 0.0
        run_xx[v] = 0.0
        run_yy[v] = 0.0
        run_xy[v] = 0.0
    for v in range(n_values):
        run_x[v + n_channels] = run_x[v] + sums[v]
        run_y[v + n_channels] = run_y[v] + sums[n_values + v]
        run_xx[v + n_channels] = run_xx[v] + sums[2 * n_values + v]
        run_yy[v + n_channels] = run_yy[v] + sums[3 * n_values + v]
        run_xy[v + n_channels] = run_xy[v] + sums[4 * n_values + v]
    # With window sums Sx, Sy, Sxx, Syy, Sxy of n samples, the means are S / n and
    # the (sample) variances cov_norm * (n Sxx - Sx^2) / n^2: every term of the map
    # carries 1 / n^2, which cancels, leaving one division per value.
    for v in range(n_out):
        sx = run_x[v + span] - run_x[v]
        sy = run_y[v + span] - run_y[v]
        sxy = sx * sy
        vx = n * (run_xx[v + span] - run_xx[v]) - sx * sx
        vy = n * (run_yy[v + span] - run_yy[v]) - sy * sy
        vxy = n * (run_xy[v + span] - run_xy[v]) - sxy
        map_values[v] = ((2.0 * sxy + c1_n2) * (2.0 * cov_norm * vxy + c2_n2)) / (
            (sx * sx + sy * sy + c1_n2) * (cov_norm * (vx + vy) + c2_n2)
        )
    for c in range(n_channels):
        even = 0.0
        odd = 0.0
        v = c
        while v + n_channels < n_out:
            even += map_values[v]
            odd += map_values[v + n_channels]
            v += 2 * n_channels
        if v < n_out:
            even += map_values[v]
        totals[c] += even + odd


def ssim_sums(const uint8_t[:, :, ::1] image_a, const uint8_t[:, :, ::1] image_b,
              bint premultiply, double data_range=255.0):
    """Sums of the SSIM map (Wang et al. 2004) of two images, per band of rows and channel.

    The map is scikit-image's ``structural_similarity`` with its defaults: a 7 x 7
    uniform window, sample covariance, K1 = 0.01, K2 = 0.03, at the pixels whose
    window lies inside the image (the ones its mean is taken over). The windows'
    sums come from column sums over 7 rows, updated a row at a time: O(1) work per
    pixel and channel, and O(W) memory per thread.

    Parameters
    ----------
    image_a, image_b : (H, W, C) uint8 arrays, H and W at least 7
    premultiply : bool
        With C = 4: compare the colour channels multiplied by alpha / 255, and alpha.
    data_range : float

    Returns
    -------
    sums : (bands, C) float64 array
        Sum of the map over each band of ``SSIM_BAND_ROWS`` centre rows; divide the
        column sums by ``(H - 6) * (W - 6)`` for the mean of each channel.
    """
    cdef Py_ssize_t height = image_a.shape[0], width = image_a.shape[1]
    cdef int n_channels = image_a.shape[2]
    cdef int half = _SSIM_WINDOW // 2
    if image_b.shape[0] != height or image_b.shape[1] != width or image_b.shape[2] != n_channels:
        raise ValueError("the two images must have the same shape")
    if height < _SSIM_WINDOW or width < _SSIM_WINDOW:
        raise ValueError(f"SSIM needs at least {SSIM_WINDOW} x {SSIM_WINDOW} pixels")
    if premultiply and n_channels != 4:
        raise ValueError("premultiply needs 4 channels")
    cdef Py_ssize_t band_rows = _SSIM_BAND_ROWS
    cdef Py_ssize_t n_bands = (height - 2 * half + band_rows - 1) // band_rows
    out_array = np.zeros((n_bands, n_channels))
    cdef double[:, ::1] out = out_array
    cdef double c1 = (0.01 * data_range) ** 2, c2 = (0.03 * data_range) ** 2
    cdef Py_ssize_t row_bytes = width * n_channels, band, first_row, stop_row, r
    cdef const uint8_t* base_a = &image_a[0, 0, 0]
    cdef const uint8_t* base_b = &image_b[0, 0, 0]
    cdef double* sums
    cdef int failed = 0
    with nogil:
        for band in prange(n_bands, schedule="dynamic", chunksize=1):
            sums = <double*>calloc(5 * row_bytes + 6 * (row_bytes + n_channels), sizeof(double))
            if sums == NULL:
                failed += 1  # a reduction: a plain assignment would be lastprivate
                continue
            first_row = half + band * band_rows
            stop_row = min(first_row + band_rows, height - half)
            for r in range(first_row - half, first_row + half + 1):
                _ssim_add_rows(base_a + r * row_bytes, base_b + r * row_bytes, NULL, NULL,
                               width, n_channels, premultiply, sums)
            for r in range(first_row, stop_row):
                if r > first_row:
                    _ssim_add_rows(
                        base_a + (r + half) * row_bytes, base_b + (r + half) * row_bytes,
                        base_a + (r - half - 1) * row_bytes, base_b + (r - half - 1) * row_bytes,
                        width, n_channels, premultiply, sums,
                    )
                _ssim_row(sums, width, n_channels, c1, c2, sums + 5 * row_bytes, &out[band, 0])
            free(sums)
    if failed:
        raise MemoryError("out of memory for the SSIM column sums")
    return out_array
