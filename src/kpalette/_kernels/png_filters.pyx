# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""PNG scanline filters for the palette PNG writer (:mod:`kpalette.png`): each row
filtered by the filter that suits it. Tested against a NumPy twin in
``tests/reference.py``.
"""

from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport abs

from kpalette._kernels._shared cimport GRAIN_BYTES, kpalette_team


cdef inline int _paeth_predictor(int left, int above, int upper_left) noexcept nogil:
    """PNG's Paeth predictor: of ``left``, ``above`` and ``upper_left``, the nearest to
    ``left + above - upper_left``, ties to left, then above. Branch-free: on photos the
    choice is too irregular for branch prediction."""
    cdef int to_left = abs(above - upper_left), to_above = abs(left - upper_left)
    cdef int to_upper_left = abs(left + above - 2 * upper_left)
    cdef int not_left = -((to_left > to_above) | (to_left > to_upper_left))
    cdef int upper = -(to_above > to_upper_left)
    cdef int other = above ^ ((above ^ upper_left) & upper)
    return left ^ ((left ^ other) & not_left)


# --------------------------------------------------------------------------- writing
cdef inline int _signed_magnitude(uint8_t value) noexcept nogil:
    return value if value < 128 else 256 - value


cdef inline uint8_t _filtered(int kind, uint8_t value, uint8_t left, uint8_t above,
                              uint8_t upper_left) noexcept nogil:
    if kind == 0:
        return value
    if kind == 1:
        return <uint8_t>(value - left)
    if kind == 2:
        return <uint8_t>(value - above)
    if kind == 3:
        return <uint8_t>(value - ((<int>left + above) >> 1))
    return <uint8_t>(value - _paeth_predictor(left, above, upper_left))


cdef void _filter_row(const uint8_t* row, const uint8_t* previous, Py_ssize_t width,
                      int fixed, uint8_t* out) noexcept nogil:
    """One scanline: ``previous`` is NULL for the first row (PNG reads it as zeros);
    ``fixed`` is the filter to use, or -1 for the one of smallest cost."""
    cdef Py_ssize_t x
    cdef int best_kind
    cdef uint8_t left, above, upper_left
    if fixed >= 0:
        best_kind = fixed
    else:
        best_kind = _cheapest_filter(row, previous, width)
    out[0] = best_kind
    for x in range(width):
        left = row[x - 1] if x > 0 else 0
        above = previous[x] if previous != NULL else 0
        upper_left = previous[x - 1] if previous != NULL and x > 0 else 0
        out[x + 1] = _filtered(best_kind, row[x], left, above, upper_left)


cdef int _cheapest_filter(const uint8_t* row, const uint8_t* previous,
                          Py_ssize_t width) noexcept nogil:
    """The filter whose bytes, read as signed, have the smallest sum of absolute values."""
    cdef int64_t cost[5]
    cdef int64_t best
    cdef Py_ssize_t x
    cdef int kind, best_kind = 0
    cdef uint8_t left, above, upper_left
    for kind in range(5):
        cost[kind] = 0
    for x in range(width):
        left = row[x - 1] if x > 0 else 0
        above = previous[x] if previous != NULL else 0
        upper_left = previous[x - 1] if previous != NULL and x > 0 else 0
        for kind in range(5):
            cost[kind] += _signed_magnitude(_filtered(kind, row[x], left, above, upper_left))
    best = cost[0]
    for kind in range(1, 5):
        if cost[kind] < best:
            best = cost[kind]
            best_kind = kind
    return best_kind


def filter_rows(const uint8_t[:, ::1] samples, uint8_t[:, ::1] out, int kind=-1):
    """PNG scanlines of one byte per pixel, rows in parallel: every row filtered by
    the PNG filter ``kind`` (0 none, 1 sub, 2 up, 3 average, 4 Paeth), or with
    ``kind=-1`` each row by the filter whose bytes, read as signed, have the smallest
    sum of absolute values (ties to the lower number).

    Parameters
    ----------
    samples : (H, W) uint8 array
    out : (H, W + 1) uint8 array
        Written: the filter number, then the filtered bytes, of every row.
    kind : int in -1..4
    """
    cdef Py_ssize_t height = samples.shape[0], width = samples.shape[1], y
    if not -1 <= kind <= 4:
        raise ValueError(f"kind must be -1 (each row's cheapest) or a filter 0..4, got {kind}")
    if out.shape[0] != height or out.shape[1] != width + 1:
        raise ValueError(
            f"out must have shape ({height}, {width + 1}), got ({out.shape[0]}, {out.shape[1]})"
        )
    if height == 0 or width == 0:
        return
    with nogil:
        for y in prange(height, schedule="static",
                       num_threads=kpalette_team(height * width, GRAIN_BYTES)):
            _filter_row(&samples[y, 0], &samples[y - 1, 0] if y > 0 else NULL, width,
                        kind, &out[y, 0])

