# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Quality measures over colour tables and images: CIELAB and CIEDE2000, the table sums
of the squared error, mean CIEDE2000 and inertia (SSIM's sums: :mod:`.ssim`). Tested
against the NumPy twins in ``tests/reference.py`` and scikit-image.
"""

import numpy as np

from cython.parallel cimport prange
from libc.math cimport M_PI, atan2, cbrt, cos, exp, fabs, sin, sqrt
from libc.stdint cimport int32_t, int64_t, uint8_t

from kpalette._kernels._shared cimport GRAIN_PIXELS, check_columns, check_length, kpalette_team


# --------------------------------------------------------------------------- colour difference
cdef inline double _hue_angle(double b, double a) noexcept nogil:
    """atan2(b, a) in [0, 2 pi)."""
    cdef double angle = atan2(b, a)
    return angle + 2.0 * M_PI if angle < 0.0 else angle


cdef double COS_30 = cos(M_PI / 6.0), SIN_30 = sin(M_PI / 6.0)
cdef double COS_6 = cos(M_PI / 30.0), SIN_6 = sin(M_PI / 30.0)
cdef double COS_63 = cos(63.0 * M_PI / 180.0), SIN_63 = sin(63.0 * M_PI / 180.0)


cdef inline double _pow7(double x) noexcept nogil:
    cdef double x2 = x * x
    return x2 * x2 * x2 * x


cdef double _ciede2000_pair(double lightness_a, double a_a, double b_a, double lightness_b,
                            double a_b, double b_b) noexcept nogil:
    cdef double chroma_mean, c7, g, chroma_a, chroma_b, hue_a, hue_b, chroma_product
    cdef double hue_diff, delta_hue, hue_sum, hue_mean, t, rotation, rotation_term, offset
    cdef double term_lightness, term_chroma, term_hue, squared, degree = M_PI / 180.0
    cdef double cos1, sin1, cos2, sin2, cos3, sin3, cos4, sin4
    cdef double pow25_7 = 6103515625.0  # 25 ** 7
    chroma_mean = 0.5 * (sqrt(a_a * a_a + b_a * b_a) + sqrt(a_b * a_b + b_b * b_b))
    c7 = _pow7(chroma_mean)
    g = 0.5 * (1.0 - sqrt(c7 / (c7 + pow25_7)))
    a_a = a_a * (1.0 + g)
    a_b = a_b * (1.0 + g)
    chroma_a = sqrt(a_a * a_a + b_a * b_a)
    chroma_b = sqrt(a_b * a_b + b_b * b_b)
    hue_a = _hue_angle(b_a, a_a)
    hue_b = _hue_angle(b_b, a_b)
    chroma_product = chroma_a * chroma_b
    hue_diff = hue_b - hue_a
    if hue_diff > M_PI:
        hue_diff -= 2.0 * M_PI
    elif hue_diff < -M_PI:
        hue_diff += 2.0 * M_PI
    hue_sum = hue_a + hue_b
    if chroma_product == 0.0:
        hue_diff = 0.0
        hue_mean = hue_sum
    elif fabs(hue_a - hue_b) > M_PI:
        hue_mean = 0.5 * (hue_sum + 2.0 * M_PI if hue_sum < 2.0 * M_PI else hue_sum - 2.0 * M_PI)
    else:
        hue_mean = 0.5 * hue_sum
    delta_hue = 2.0 * sqrt(chroma_product) * sin(hue_diff / 2.0)
    chroma_mean = 0.5 * (chroma_a + chroma_b)
    # The four cosines of T from one sine and cosine (multiple-angle identities).
    cos1 = cos(hue_mean)
    sin1 = sin(hue_mean)
    cos2 = 2.0 * cos1 * cos1 - 1.0
    sin2 = 2.0 * sin1 * cos1
    cos3 = cos1 * (4.0 * cos1 * cos1 - 3.0)
    sin3 = sin1 * (3.0 - 4.0 * sin1 * sin1)
    cos4 = 2.0 * cos2 * cos2 - 1.0
    sin4 = 2.0 * sin2 * cos2
    t = (1.0 - 0.17 * (cos1 * COS_30 + sin1 * SIN_30) + 0.24 * cos2
         + 0.32 * (cos3 * COS_6 - sin3 * SIN_6) - 0.20 * (cos4 * COS_63 + sin4 * SIN_63))
    rotation = (hue_mean / degree - 275.0) / 25.0
    rotation = 30.0 * degree * exp(-rotation * rotation)
    c7 = _pow7(chroma_mean)
    rotation_term = -sin(2.0 * rotation) * 2.0 * sqrt(c7 / (c7 + pow25_7))
    offset = 0.5 * (lightness_a + lightness_b) - 50.0
    offset = offset * offset
    term_lightness = (lightness_b - lightness_a) / (1.0 + 0.015 * offset / sqrt(20.0 + offset))
    term_chroma = (chroma_b - chroma_a) / (1.0 + 0.045 * chroma_mean)
    term_hue = delta_hue / (1.0 + 0.015 * chroma_mean * t)
    squared = (term_lightness * term_lightness + term_chroma * term_chroma
               + term_hue * term_hue + rotation_term * term_chroma * term_hue)
    return sqrt(squared) if squared > 0.0 else 0.0


def lab_of_linear(const double[:, ::1] linear, const double[:, ::1] to_xyz_over_white,
                  double[:, ::1] out):
    """CIELAB of linear-light RGB: XYZ relative to the white, then CIE's cube-root curve.

    The formula of ``colorspace.rgb_to_lab`` after its linearisation, compiled: it
    runs on every distinct colour for the mean CIEDE2000 every ``kpalette compress``
    reports, where NumPy would make a temporary copy of the colours per step.

    Parameters
    ----------
    linear : (n, 3) float64 array
        Linear-light RGB in 0..1.
    to_xyz_over_white : (3, 3) float64 array
        RGB to XYZ matrix, each row divided by the white point's coordinate.
    out : (n, 3) float64 array
        Overwritten with L, a, b.
    """
    cdef Py_ssize_t n = linear.shape[0], i
    cdef double fx, fy, fz  # scalars, not an array: each thread gets its own
    check_columns("linear", linear.shape[1], 3)
    if to_xyz_over_white.shape[0] != 3 or to_xyz_over_white.shape[1] != 3:
        raise ValueError(f"the matrix must be 3 x 3, got ({to_xyz_over_white.shape[0]}, {to_xyz_over_white.shape[1]})")
    check_length("out", out.shape[0], n)
    check_columns("out", out.shape[1], 3)
    with nogil:
        for i in prange(n, schedule="static", num_threads=kpalette_team(n, GRAIN_PIXELS)):
            fx = _lab_curve(to_xyz_over_white[0, 0] * linear[i, 0]
                            + to_xyz_over_white[0, 1] * linear[i, 1]
                            + to_xyz_over_white[0, 2] * linear[i, 2])
            fy = _lab_curve(to_xyz_over_white[1, 0] * linear[i, 0]
                            + to_xyz_over_white[1, 1] * linear[i, 1]
                            + to_xyz_over_white[1, 2] * linear[i, 2])
            fz = _lab_curve(to_xyz_over_white[2, 0] * linear[i, 0]
                            + to_xyz_over_white[2, 1] * linear[i, 1]
                            + to_xyz_over_white[2, 2] * linear[i, 2])
            out[i, 0] = 116.0 * fy - 16.0
            out[i, 1] = 500.0 * (fx - fy)
            out[i, 2] = 200.0 * (fy - fz)


cdef inline double _lab_curve(double value) noexcept nogil:
    return cbrt(value) if value > 0.008856 else 7.787 * value + 16.0 / 116.0


def ciede2000(const double[:, ::1] lab_a, const double[:, ::1] lab_b, double[::1] out):
    """CIEDE2000 difference of each pair of CIELAB colours (Sharma, Wu and Dalal, 2005).

    Parameters
    ----------
    lab_a, lab_b : (n, 3) float64 arrays
    out : (n,) float64 array
        Overwritten with the differences.
    """
    cdef Py_ssize_t n = lab_a.shape[0], i
    check_columns("lab_a", lab_a.shape[1], 3)
    check_columns("lab_b", lab_b.shape[1], 3)
    check_length("lab_b", lab_b.shape[0], n)
    check_length("out", out.shape[0], n)
    with nogil:
        for i in prange(n, schedule="static", num_threads=kpalette_team(n, GRAIN_PIXELS)):
            out[i] = _ciede2000_pair(lab_a[i, 0], lab_a[i, 1], lab_a[i, 2],
                                     lab_b[i, 0], lab_b[i, 1], lab_b[i, 2])


# --------------------------------------------------------------------------- table sums
#: Distinct colours per partial sum of the table measures: the sums are added block
#: by block in one order, whatever the number of threads. Small enough that the
#: blocks spread evenly over the threads of a 2 MP photo's colours.
cdef Py_ssize_t SUM_BLOCK = 1 << 12

ctypedef fused entry_t:
    int32_t
    int64_t


cdef int _check_table(const uint8_t[:, ::1] colors, const int64_t[::1] counts,
                      const entry_t[::1] entries, Py_ssize_t n_channels) except -1:
    cdef Py_ssize_t n = colors.shape[0]
    if colors.shape[1] not in (3, 4) or colors.shape[1] != n_channels:
        raise ValueError(
            f"expected (n, 3|4) colours with a palette of as many channels, got colours "
            f"of shape ({n}, {colors.shape[1]}) and {n_channels} palette channels"
        )
    if counts.shape[0] != n or entries.shape[0] != n:
        raise ValueError(
            f"expected one count and one entry per colour ({n}), got "
            f"{counts.shape[0]} counts and {entries.shape[0]} entries"
        )
    return 0


cdef double _sum_blocks(const double[::1] sums, const uint8_t[::1] bad, Py_ssize_t n_entries,
                        str what) except? -1.0:
    """The blocks' partial sums added in order; raises if a block met a bad entry."""
    cdef Py_ssize_t b
    cdef double total = 0.0
    for b in range(sums.shape[0]):
        if bad[b]:
            raise ValueError(f"{what}: entries must be in 0..{n_entries - 1}")
        total += sums[b]
    return total


def table_squared_error(const uint8_t[:, ::1] colors, const int64_t[::1] counts,
                        const entry_t[::1] entries, const double[:, ::1] palette_visible):
    """Pixel-weighted sum of squared differences between colours and their palette entries.

    The sum that ``metrics.mean_squared_error_from_table`` takes with NumPy over
    chunks of the table, in one pass with no temporaries (gathered outputs, float
    copies).

    Parameters
    ----------
    colors : (n, C) uint8 array, C = 3 or 4
        Distinct colours; RGBA is compared premultiplied (each colour channel times
        ``alpha / 255``), with alpha beside it.
    counts : (n,) int64 array
        Pixels of each colour.
    entries : (n,) int32 or int64 array
        The palette entry each colour became.
    palette_visible : (m, C) float64 array
        The palette in the same coordinates (``metrics._visible``).

    Returns
    -------
    float
        The sum over colours of ``count * squared distance`` (not divided).
    """
    cdef Py_ssize_t n = colors.shape[0], n_channels = colors.shape[1]
    cdef Py_ssize_t m = palette_visible.shape[0]
    _check_table(colors, counts, entries, palette_visible.shape[1])
    cdef double[::1] sums = np.zeros((n + SUM_BLOCK - 1) // SUM_BLOCK)
    cdef uint8_t[::1] bad = np.zeros(sums.shape[0], dtype=np.uint8)
    cdef Py_ssize_t b, start, stop
    with nogil:
        for b in prange(sums.shape[0], schedule="static",
                           num_threads=kpalette_team(n, GRAIN_PIXELS)):
            start = b * SUM_BLOCK
            stop = min(start + SUM_BLOCK, n)
            sums[b] = _block_squared_error(&colors[0, 0], &counts[0], &entries[0],
                                           &palette_visible[0, 0], n_channels, m, start,
                                           stop, &bad[b])
    return _sum_blocks(sums, bad, m, "table_squared_error")


cdef double _block_squared_error(const uint8_t* colors, const int64_t* counts,
                                 const entry_t* entries, const double* palette,
                                 Py_ssize_t n_channels, Py_ssize_t m, Py_ssize_t start,
                                 Py_ssize_t stop, uint8_t* bad) noexcept nogil:
    cdef Py_ssize_t i, c
    cdef int64_t entry
    cdef double total = 0.0, squared, diff, scale
    cdef const uint8_t* color
    cdef const double* mapped
    for i in range(start, stop):
        entry = entries[i]
        if entry < 0 or entry >= m:
            bad[0] = 1
            return 0.0
        color = colors + i * n_channels
        mapped = palette + entry * n_channels
        squared = 0.0
        if n_channels == 4:
            scale = <double>color[3] / 255.0  # as colorspace.premultiply computes it
            for c in range(3):
                diff = color[c] * scale - mapped[c]
                squared = squared + diff * diff
            diff = <double>color[3] - mapped[3]
            squared = squared + diff * diff
        else:
            for c in range(3):
                diff = <double>color[c] - mapped[c]
                squared = squared + diff * diff
        total = total + <double>counts[i] * squared
    return total


def weighted_squared_distance(const double[:, ::1] points, const int64_t[::1] counts,
                              const entry_t[::1] labels, const double[:, ::1] centers):
    """Sum over points of count x squared distance to their centre: a labelling's inertia.

    Parameters
    ----------
    points : (n, d) float64 array
    counts : (n,) int64 array
        Pixels of each point (distinct colour).
    labels : (n,) int32 or int64 array
        The centre of each point.
    centers : (m, d) float64 array

    Returns
    -------
    float
        Added in fixed blocks, in one order.
    """
    cdef Py_ssize_t n = points.shape[0], d = points.shape[1], m = centers.shape[0]
    if centers.shape[1] != d or counts.shape[0] != n or labels.shape[0] != n:
        raise ValueError(
            f"expected (n, d) points with one count and one label each and (m, d) centres, "
            f"got points of shape ({n}, {d}), {counts.shape[0]} counts, {labels.shape[0]} "
            f"labels and centres of shape ({m}, {centers.shape[1]})"
        )
    cdef double[::1] sums = np.zeros((n + SUM_BLOCK - 1) // SUM_BLOCK)
    cdef uint8_t[::1] bad = np.zeros(sums.shape[0], dtype=np.uint8)
    cdef Py_ssize_t b, start, stop
    with nogil:
        for b in prange(sums.shape[0], schedule="static",
                           num_threads=kpalette_team(n, GRAIN_PIXELS)):
            start = b * SUM_BLOCK
            stop = min(start + SUM_BLOCK, n)
            sums[b] = _block_squared_distance(&points[0, 0], &counts[0], &labels[0],
                                              &centers[0, 0], d, m, start, stop, &bad[b])
    return _sum_blocks(sums, bad, m, "weighted_squared_distance")


cdef double _block_squared_distance(const double* points, const int64_t* counts,
                                    const entry_t* labels, const double* centers, Py_ssize_t d,
                                    Py_ssize_t m, Py_ssize_t start, Py_ssize_t stop,
                                    uint8_t* bad) noexcept nogil:
    cdef Py_ssize_t i, c
    cdef int64_t label
    cdef double total = 0.0, squared, diff
    for i in range(start, stop):
        label = labels[i]
        if label < 0 or label >= m:
            bad[0] = 1
            return 0.0
        squared = 0.0
        for c in range(d):
            diff = points[i * d + c] - centers[label * d + c]
            squared = squared + diff * diff
        total = total + <double>counts[i] * squared
    return total


def table_delta_e(const uint8_t[:, ::1] colors, const int64_t[::1] counts,
                  const entry_t[::1] entries, const double[:, ::1] palette_lab,
                  const double[:, ::1] linear_table, const double[:, ::1] to_xyz_over_white):
    """Pixel-weighted sum of CIEDE2000 differences between colours and their palette entries.

    Each colour is converted as ``colorspace.visible_lab`` does it (linear light
    from ``linear_table``, then :func:`lab_of_linear`'s arithmetic) and compared with
    its entry's CIELAB by :func:`ciede2000`'s formula, in one pass with no gathers or
    copies between the steps; nearly all its time is the formula's arithmetic
    (atan2, sines and cosines, cube roots).

    Parameters
    ----------
    colors : (n, C) uint8 array, C = 3 or 4
    counts : (n,) int64 array
    entries : (n,) int32 or int64 array
        The palette entry each colour became.
    palette_lab : (m, 3) float64 array
        CIELAB of each palette entry as seen over black (``colorspace.visible_lab``).
    linear_table : (rows, 256) float64 array
        Linear light of each channel value: row 0 for RGB; for RGBA the row of the
        colour's alpha (premultiplied values, ``colorspace._premultiplied_linear_table``).
    to_xyz_over_white : (3, 3) float64 array
        As for :func:`lab_of_linear`.

    Returns
    -------
    float
        The sum over colours of ``count * CIEDE2000`` (not divided).
    """
    cdef Py_ssize_t n = colors.shape[0], n_channels = colors.shape[1]
    cdef Py_ssize_t m = palette_lab.shape[0]
    _check_table(colors, counts, entries, n_channels)
    if palette_lab.shape[1] != 3 or to_xyz_over_white.shape[0] != 3 or to_xyz_over_white.shape[1] != 3:
        raise ValueError(
            f"expected an (m, 3) CIELAB palette and a (3, 3) matrix, got shapes "
            f"({m}, {palette_lab.shape[1]}) and ({to_xyz_over_white.shape[0]}, "
            f"{to_xyz_over_white.shape[1]})"
        )
    if linear_table.shape[1] != 256 or linear_table.shape[0] != (256 if n_channels == 4 else 1):
        raise ValueError(
            f"expected a ({256 if n_channels == 4 else 1}, 256) table of linear light for "
            f"{n_channels} channels, got shape ({linear_table.shape[0]}, {linear_table.shape[1]})"
        )
    cdef double[::1] sums = np.zeros((n + SUM_BLOCK - 1) // SUM_BLOCK)
    cdef uint8_t[::1] bad = np.zeros(sums.shape[0], dtype=np.uint8)
    cdef Py_ssize_t b, start, stop
    with nogil:
        for b in prange(sums.shape[0], schedule="static",
                           num_threads=kpalette_team(n, GRAIN_PIXELS)):
            start = b * SUM_BLOCK
            stop = min(start + SUM_BLOCK, n)
            sums[b] = _block_delta_e(&colors[0, 0], &counts[0], &entries[0], &palette_lab[0, 0],
                                     &linear_table[0, 0], &to_xyz_over_white[0, 0], n_channels,
                                     m, start, stop, &bad[b])
    return _sum_blocks(sums, bad, m, "table_delta_e")


cdef double _block_delta_e(const uint8_t* colors, const int64_t* counts, const entry_t* entries,
                           const double* palette_lab, const double* linear_table,
                           const double* matrix, Py_ssize_t n_channels, Py_ssize_t m,
                           Py_ssize_t start, Py_ssize_t stop, uint8_t* bad) noexcept nogil:
    cdef Py_ssize_t i
    cdef int64_t entry
    cdef double total = 0.0, red, green, blue, fx, fy, fz
    cdef const uint8_t* color
    cdef const double* row
    cdef const double* mapped
    for i in range(start, stop):
        entry = entries[i]
        if entry < 0 or entry >= m:
            bad[0] = 1
            return 0.0
        color = colors + i * n_channels
        row = linear_table + (256 * color[3] if n_channels == 4 else 0)
        red = row[color[0]]
        green = row[color[1]]
        blue = row[color[2]]
        # lab_of_linear's arithmetic, term for term
        fx = _lab_curve(matrix[0] * red + matrix[1] * green + matrix[2] * blue)
        fy = _lab_curve(matrix[3] * red + matrix[4] * green + matrix[5] * blue)
        fz = _lab_curve(matrix[6] * red + matrix[7] * green + matrix[8] * blue)
        mapped = palette_lab + 3 * entry
        total = total + <double>counts[i] * _ciede2000_pair(
            116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz),
            mapped[0], mapped[1], mapped[2])
    return total
