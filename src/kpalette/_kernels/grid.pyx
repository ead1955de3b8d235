# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The grid histogram: weighted means of the points in the cells of a regular grid,
the coarse points the quick starts of K-means fit. Tested against NumPy.
"""

import numpy as np

from libc.stdint cimport int32_t, int64_t, uint64_t

from kpalette._kernels._shared cimport check_length
from kpalette._kernels.tree cimport _bounding_box


#: Grids of at most this many cells index a table of all cells; finer ones (a 4-d
#: grid of 64 cells per axis has 16.8M) go through a hash table of the occupied cells.
cdef int64_t GRID_TABLE_CELLS = 1 << 22


def grid_means(const double[:, ::1] points, const double[::1] weights, int cells_per_axis):
    """Merge the points that share a cell of a regular grid into their weighted mean.

    The grid splits the points' bounding box into ``cells_per_axis`` cells along each
    axis (a point on the upper edge goes to the last cell).

    Parameters
    ----------
    points : (n, d) float64 array, 1 <= d <= 8
    weights : (n,) float64 array
    cells_per_axis : int
        At least 1, with ``cells_per_axis ** d`` below 2 ** 62.

    Returns
    -------
    means : (m, d) float64 array
        Weighted mean of each non-empty cell, in the order of the cells' row-major index.
    totals : (m,) float64 array
        Summed weight of each non-empty cell.
    cell_of_point : (n,) int32 array
        Row of ``means`` holding each point.
    """
    cdef Py_ssize_t n = points.shape[0], i, m = 0
    cdef int d = points.shape[1], t, c, cpa = cells_per_axis
    cdef double low[8]
    cdef double span[8]
    cdef int64_t key, n_cells = 1, row, capacity, mask, position
    cdef uint64_t mixed
    cdef int shift
    if not 1 <= d <= 8:
        raise ValueError(f"grid_means takes 1 to 8 dimensions, got {d}")
    check_length("weights", weights.shape[0], n)
    if cpa < 1:
        raise ValueError(f"cells_per_axis must be at least 1, got {cpa}")
    for t in range(d):
        if n_cells > ((<int64_t>1) << 62) // cpa:
            raise ValueError(f"{cpa} cells per axis in {d} dimensions are too many")
        n_cells *= cpa
    if n == 0:
        return np.zeros((0, d)), np.zeros(0), np.zeros(0, dtype=np.int32)
    _bounding_box(points, low, span)
    keys_array = np.empty(n, dtype=np.int64)
    cell_array = np.empty(n, dtype=np.int32)
    cdef int64_t[::1] keys = keys_array
    cdef int32_t[::1] cell_of_point = cell_array
    cdef int64_t[::1] slot, table_keys
    with nogil:
        for i in range(n):
            key = 0
            for t in range(d):
                c = <int>min((points[i, t] - low[t]) / span[t] * cpa, cpa - 1.0)
                key = key * cpa + c
            keys[i] = key
    if n_cells <= GRID_TABLE_CELLS:
        slot_array = np.full(n_cells, -1, dtype=np.int64)
        slot = slot_array
        with nogil:
            for i in range(n):
                slot[keys[i]] = 0
            for key in range(n_cells):
                if slot[key] == 0:
                    slot[key] = m
                    m += 1
            for i in range(n):
                cell_of_point[i] = <int32_t>slot[keys[i]]
    else:
        # Open addressing (Fibonacci hashing, linear probing) over at least twice as
        # many slots as points; the cells are numbered in the order first met, then
        # renumbered in key order below.
        capacity = 1
        shift = 64
        while capacity < 2 * n:
            capacity <<= 1
            shift -= 1
        mask = capacity - 1
        table_keys_array = np.full(capacity, -1, dtype=np.int64)
        slot_array = np.empty(capacity, dtype=np.int64)
        table_keys = table_keys_array
        slot = slot_array
        with nogil:
            for i in range(n):
                mixed = <uint64_t>keys[i] * <uint64_t>0x9E3779B97F4A7C15
                position = <int64_t>(mixed >> shift) if shift < 64 else 0
                while table_keys[position] != -1 and table_keys[position] != keys[i]:
                    position = (position + 1) & mask
                if table_keys[position] == -1:
                    table_keys[position] = keys[i]
                    slot[position] = m
                    m += 1
                cell_of_point[i] = <int32_t>slot[position]
        occupied = np.flatnonzero(table_keys_array != -1)
        first_met = slot_array[occupied]
        cell_keys = np.empty(m, dtype=np.int64)
        cell_keys[first_met] = table_keys_array[occupied]
        rank = np.empty(m, dtype=np.int32)
        rank[np.argsort(cell_keys, kind="stable")] = np.arange(m, dtype=np.int32)
        cell_array = rank[cell_array]
        cell_of_point = cell_array
    sums_array = np.zeros((m, d))
    totals_array = np.zeros(m)
    cdef double[:, ::1] sums = sums_array
    cdef double[::1] totals = totals_array
    with nogil:
        for i in range(n):
            row = cell_of_point[i]
            totals[row] += weights[i]
            for t in range(d):
                sums[row, t] += weights[i] * points[i, t]
        for row in range(m):
            for t in range(d):
                sums[row, t] /= totals[row]
    return sums_array, totals_array, cell_array


