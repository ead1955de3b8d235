# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Floyd-Steinberg error diffusion onto a palette, with the grid of palette candidates
that makes each nearest-entry search exact. Tested against a NumPy twin in
``tests/reference.py``.
"""

import numpy as np

from libc.math cimport INFINITY, ceil, floor
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.stdlib cimport free, malloc

from kpalette._kernels._shared cimport _box_candidates, check_columns, check_indices, check_length

ctypedef fused label_t:
    uint8_t
    int32_t


# --------------------------------------------------------------------------- dithering
def palette_grid(const double[:, ::1] palette, int per_axis):
    """A grid of ``per_axis`` cells along each axis, fitted to the palette's extent.

    Along each axis the cells split the palette's range evenly (at least one value
    wide); the first and last cells stretch to 0 and 255, so the grid covers every
    value a query can take.

    Returns
    -------
    cell_of : (d, 256) int64 array
        Cell along axis ``t`` of the whole value ``v``: ``cell_of[t, v]``.
    lows, highs : (d, per_axis) float64 arrays
        Smallest and largest whole value of each cell along each axis.
    """
    cdef Py_ssize_t k = palette.shape[0], j
    cdef int d = palette.shape[1], t, v, c
    if not 1 <= per_axis <= 256:
        raise ValueError(f"per_axis must be in 1..256, got {per_axis}")
    cell_array = np.empty((d, 256), dtype=np.int64)
    lows_array = np.full((d, per_axis), 256.0)
    highs_array = np.full((d, per_axis), -1.0)
    cdef int64_t[:, ::1] cell_of = cell_array
    cdef double[:, ::1] lows = lows_array, highs = highs_array
    cdef double low, high, start, size
    for t in range(d):
        low = 255.0
        high = 0.0
        for j in range(k):
            low = min(low, palette[j, t])
            high = max(high, palette[j, t])
        start = floor(low)
        size = max(1.0, ceil((ceil(high) - start + 1.0) / per_axis))
        for v in range(256):
            cell_of[t, v] = min(per_axis - 1, max(0, <int64_t>floor((v - start) / size)))
        for v in range(256):
            c = cell_of[t, v]
            lows[t, c] = min(lows[t, c], v)
            highs[t, c] = max(highs[t, c], v)
    return cell_array, lows_array, highs_array


def cell_candidates(const double[:, ::1] palette, const int32_t[::1] among,
                    const double[::1] low, const double[::1] high, int32_t[::1] out):
    """The palette entries that can be nearest to some point of a box.

    The same filter as Lloyd's walk (:func:`_box_candidates`), so a query compares
    only the candidates of its own box; the candidates of a box are among those of
    any box holding it.

    Parameters
    ----------
    palette : (k, d) float64 array
    among : (m,) int32 array
        Entries to consider, ascending (all of them, or the candidates of a larger box).
    low, high : (d,) float64 arrays
        The box: whole values ``low[t] .. high[t]`` along each axis.
    out : (>= m,) int32 array
        Receives the candidates, ascending, in ``out[:n]``.

    Returns
    -------
    n : int
    """
    cdef Py_ssize_t d = palette.shape[1]
    if among.shape[0] < 1:
        raise ValueError("among must hold at least one palette entry, got none")
    check_indices("among", among, palette.shape[0])
    check_length("low", low.shape[0], d)
    check_length("high", high.shape[0], d)
    if out.shape[0] < among.shape[0]:
        raise ValueError(f"out must have room for {among.shape[0]} entries, got {out.shape[0]}")
    return _box_candidates(&palette[0, 0], palette.shape[1], &among[0], among.shape[0],
                           &low[0], &high[0], &out[0])


def floyd_steinberg(const uint8_t[:, :, ::1] image, const double[:, ::1] palette,
                    const int64_t[::1] entry_ids, double level,
                    double min_error2, double max_error2, double damping,
                    const uint8_t[:, ::1] skip, int64_t skip_index, label_t[:, ::1] out):
    """Floyd-Steinberg error diffusion onto a fixed palette, serpentine scan.

    Each pixel takes ``level`` times the error it has received, or none of it when
    that is under ``min_error2`` (squared length, summed over the channels); the sum
    (clipped to 0..255) is rounded to whole numbers and mapped to its nearest
    palette entry (exact, squared Euclidean, ties to the lowest index, among the
    candidates of its cell of a grid fitted to the palette, :func:`cell_candidates`,
    found the first time a cell is visited among those of the coarse cell holding
    it). Its error (the sum minus the entry), times ``damping`` when its squared
    length is over ``max_error2``, goes 7/16 ahead, 3/16 below behind, 5/16 below
    and 1/16 below ahead, in the direction of the scan, which alternates by row.

    Parameters
    ----------
    image : (H, W, d) uint8 array
        The channels to diffuse (3, or 4 with alpha).
    palette : (k, d) float64 array
    entry_ids : (k,) int64 array
        What is written to ``out`` for each entry of ``palette``.
    level : float
        Fraction of the received error a pixel takes (0: no dithering).
    min_error2, max_error2 : float
        Squared lengths: received errors under the first are dropped, passed-on
        errors over the second are damped.
    damping : float
        Factor applied to passed-on errors over ``max_error2``.
    skip : (H, W) uint8 array
        Non-zero for pixels that take ``skip_index`` and neither receive nor pass on
        error.
    skip_index : int
    out : (H, W) uint8 or int32 array
        Written with ``entry_ids`` of the chosen entry of every pixel.
    """
    cdef Py_ssize_t height = image.shape[0], width = image.shape[1], k = palette.shape[0]
    cdef int d = image.shape[2]
    if d not in (3, 4):
        raise ValueError(f"image must have 3 or 4 channels, got {d}")
    if k < 1:
        raise ValueError("the palette must have at least one entry, got 0")
    check_columns("palette", palette.shape[1], d)
    check_length("entry_ids", entry_ids.shape[0], k)
    if skip.shape[0] != height or skip.shape[1] != width:
        raise ValueError(f"skip must have shape ({height}, {width}), got ({skip.shape[0]}, {skip.shape[1]})")
    if out.shape[0] != height or out.shape[1] != width:
        raise ValueError(f"out must have shape ({height}, {width}), got ({out.shape[0]}, {out.shape[1]})")
    # Fine cells (64 per axis) keep the candidate lists short even for palettes
    # packed into a thin region; they are found among the candidates of coarse
    # cells (8 per axis), so each costs the length of a coarse list, not k.
    cdef int fine = 64 if d == 3 else 16
    cdef int factor = 8 if d == 3 else 4
    cdef int coarse = fine // factor
    cell_array, lows_array, highs_array = palette_grid(palette, fine)
    cdef int64_t[:, ::1] cell_of = cell_array
    cdef double[:, ::1] lows = lows_array, highs = highs_array
    cdef Py_ssize_t n_coarse = coarse ** d, n_fine = fine ** d
    coarse_lows_array = np.full((d, coarse), 256.0)
    coarse_highs_array = np.full((d, coarse), -1.0)
    cdef double[:, ::1] coarse_lows = coarse_lows_array, coarse_highs = coarse_highs_array
    cdef int t, c
    for t in range(d):
        for c in range(fine):
            coarse_lows[t, c // factor] = min(coarse_lows[t, c // factor], lows[t, c])
            coarse_highs[t, c // factor] = max(coarse_highs[t, c // factor], highs[t, c])
    everything_array = np.arange(k, dtype=np.int32)
    coarse_lists_array = np.empty((n_coarse, k), dtype=np.int32)
    coarse_sizes_array = np.full(n_coarse, -1, dtype=np.int64)
    cell_start_array = np.full(n_fine, -1, dtype=np.int64)
    cell_size_array = np.zeros(n_fine, dtype=np.int64)
    candidates_array = np.empty(max(1024, 8 * k), dtype=np.int32)
    current_array = np.zeros((width + 2, d))
    below_array = np.zeros((width + 2, d))
    cdef int32_t[::1] everything = everything_array
    cdef int32_t[:, ::1] coarse_lists = coarse_lists_array
    cdef int64_t[::1] coarse_sizes = coarse_sizes_array
    cdef int64_t[::1] cell_start = cell_start_array, cell_size = cell_size_array
    cdef int32_t[::1] candidates = candidates_array
    cdef double[:, ::1] current = current_array, below = below_array, swap
    cdef int32_t* scratch = <int32_t*>malloc(max(k, 1) * sizeof(int32_t))
    cdef int64_t axis_cells[4]
    cdef double low[4]
    cdef double high[4]
    cdef double value[4]
    cdef double error[4]
    cdef double received[4]
    cdef double scale
    cdef Py_ssize_t y, i, x, cell, grid_cell, coarse_cell, position, first, n_stored = 0, m
    cdef int step, forward
    cdef int64_t rounded, index
    cdef double v, best2, acc, diff, e
    try:
        for y in range(height):
            forward = y % 2 == 0
            step = 1 if forward else -1
            for i in range(width):
                x = i if forward else width - 1 - i
                cell = x + 1  # error rows have a margin of one on each side
                if skip[y, x]:
                    out[y, x] = <label_t>skip_index
                    continue
                grid_cell = 0
                acc = 0.0
                for t in range(d):
                    received[t] = current[cell, t] * level
                    acc += received[t] * received[t]
                if acc < min_error2:
                    for t in range(d):
                        received[t] = 0.0
                for t in range(d):
                    v = min(255.0, max(0.0, image[y, x, t] + received[t]))
                    error[t] = v
                    rounded = <int64_t>(v + 0.5)  # v >= 0: truncation is floor
                    value[t] = rounded
                    axis_cells[t] = cell_of[t, rounded]
                    grid_cell = grid_cell * fine + axis_cells[t]
                if cell_start[grid_cell] < 0:
                    coarse_cell = 0
                    for t in range(d):
                        coarse_cell = coarse_cell * coarse + axis_cells[t] // factor
                    if coarse_sizes[coarse_cell] < 0:
                        for t in range(d):
                            low[t] = coarse_lows[t, axis_cells[t] // factor]
                            high[t] = coarse_highs[t, axis_cells[t] // factor]
                        coarse_sizes[coarse_cell] = _box_candidates(
                            &palette[0, 0], d, &everything[0], k, low, high,
                            &coarse_lists[coarse_cell, 0]
                        )
                    for t in range(d):
                        low[t] = lows[t, axis_cells[t]]
                        high[t] = highs[t, axis_cells[t]]
                    m = _box_candidates(
                        &palette[0, 0], d, &coarse_lists[coarse_cell, 0],
                        coarse_sizes[coarse_cell], low, high, scratch
                    )
                    if n_stored + m > candidates.shape[0]:
                        grown = np.empty(2 * (n_stored + m), dtype=np.int32)
                        grown[:n_stored] = candidates_array[:n_stored]
                        candidates_array = grown
                        candidates = candidates_array
                    for position in range(m):
                        candidates[n_stored + position] = scratch[position]
                    cell_start[grid_cell] = n_stored
                    cell_size[grid_cell] = m
                    n_stored += m
                index = -1
                best2 = INFINITY
                first = cell_start[grid_cell]
                for position in range(first, first + cell_size[grid_cell]):
                    c = candidates[position]
                    acc = 0.0
                    for t in range(d):
                        diff = value[t] - palette[c, t]
                        acc += diff * diff
                    if acc < best2:
                        best2 = acc
                        index = c
                out[y, x] = <label_t>entry_ids[index]
                acc = 0.0
                for t in range(d):
                    error[t] = error[t] - palette[index, t]
                    acc += error[t] * error[t]
                scale = damping if acc > max_error2 else 1.0
                for t in range(d):
                    e = error[t] * scale
                    current[cell + step, t] += e * (7.0 / 16.0)
                    below[cell - step, t] += e * (3.0 / 16.0)
                    below[cell, t] += e * (5.0 / 16.0)
                    below[cell + step, t] += e * (1.0 / 16.0)
            swap = current
            current = below
            below = swap
            below[:, :] = 0.0
    finally:
        free(scratch)
