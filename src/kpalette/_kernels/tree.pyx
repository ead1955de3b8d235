# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The points' grid tree: :class:`PointTree` (the points sorted along a Z-order curve
and the cells over them), built once and walked by Lloyd's assignment and k-means++
seeding; and the in-place sort it can build on. Tested against ``tests/reference.py``.
"""

import numpy as np

from libc.math cimport INFINITY
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport calloc, free

from kpalette._kernels._shared cimport check_length


cdef void _bounding_box(const double[:, ::1] points, double* low, double* span) noexcept nogil:
    """Per axis, the points' smallest value and their range (at least 1e-12)."""
    cdef Py_ssize_t n = points.shape[0], i
    cdef int d = points.shape[1], t
    cdef double high
    for t in range(d):
        low[t] = INFINITY
        high = -INFINITY
        for i in range(n):
            low[t] = min(low[t], points[i, t])
            high = max(high, points[i, t])
        span[t] = max(high - low[t], 1e-12)



cdef class PointTree:
    """The points sorted along a Z-order curve, and the cells of the grid tree over them.

    The points' bounding box is split in two along each axis, level after level, down
    to 64 cells per axis in up to 3 dimensions, 32 in 4 (translucent colours) and 16
    in more (the cell table has ``2 ** (d * bits)`` entries); every non-empty cell of
    every level is a node holding its points' range in the sorted order, their tight
    bounding box, weighted sum and weight. Lloyd's assignment walks this tree and
    assigns a node whole when its box has a single possible nearest centre (the
    filtering algorithm of Kanungo et al., 2002, on a regular grid).

    Premultiplied translucent colours fill a thin cone of their 4-d box, so four
    coordinates get 32 cells per axis: with 16, their leaves held hundreds of points
    each, compared one by one.

    Parameters
    ----------
    points : (n, d) float64 array, d <= 7
    weights : (n,) float64 array
    in_place : bool
        Sort ``points`` and ``weights`` themselves (writable, C-contiguous; rows
        stay paired) instead of copies: the tree holds no copy, and the arrays must
        not change while it is used. ``order`` maps the sorted rows to the old ones.
    """

    # Its attributes are declared in tree.pxd (read only: ``arrays`` points into them).

    def __init__(self, const double[:, ::1] points, const double[::1] weights,
                 bint in_place=False):
        cdef Py_ssize_t n = points.shape[0], i, key, node, first, parent, child
        cdef int d = points.shape[1], t, b, level
        cdef int bits = 6 if d <= 3 else (5 if d == 4 else 4)
        cdef int per_axis = 1 << bits
        cdef int64_t n_keys, code, cell
        cdef double lower[8]
        cdef double span[8]
        if not 1 <= d or d * bits > 30:  # the codes index a table of 2 ** (d * bits) cells
            raise ValueError(f"1 to 7 dimensions, got {d}")
        check_length("weights", weights.shape[0], n)
        n_keys = (<int64_t>1) << (d * bits)
        _bounding_box(points, lower, span)
        codes_array = np.empty(n, dtype=np.int64)
        ends_array = np.zeros(n_keys + 1, dtype=np.int64)
        order_array = np.empty(n, dtype=np.int64)
        cdef int64_t[::1] codes = codes_array, ends = ends_array, order = order_array
        cdef int64_t cells[8]
        with nogil:
            for i in range(n):
                for t in range(d):
                    cells[t] = <int64_t>min((points[i, t] - lower[t]) / span[t] * per_axis,
                                            per_axis - 1.0)
                code = 0
                for b in range(bits - 1, -1, -1):
                    for t in range(d):
                        code = (code << 1) | ((cells[t] >> b) & 1)
                codes[i] = code
                ends[code + 1] += 1
            for key in range(n_keys):
                ends[key + 1] += ends[key]
            for i in range(n):
                order[ends[codes[i]]] = i
                ends[codes[i]] += 1
        # ends[key] is now where cell ``key`` ends in the sorted order.
        if in_place:
            # The caller's arrays are sorted where they are: a copy of tens of
            # millions of translucent colours and their weights is most of a run's memory.
            sorted_points = np.asarray(points.base)
            sorted_weights = np.asarray(weights.base)
            _sort_in_place(sorted_points, sorted_weights, order_array)
        else:
            sorted_points = np.ascontiguousarray(np.asarray(points)[order_array])
            sorted_weights = np.ascontiguousarray(np.asarray(weights)[order_array])
        cdef const double[:, ::1] sp = sorted_points
        cdef const double[::1] sw = sorted_weights
        # Leaves: the non-empty finest cells, in code order.
        level_codes = [np.flatnonzero(np.diff(ends_array[:n_keys], prepend=0) > 0)]
        for level in range(bits):
            parent_codes = level_codes[level] >> d  # sorted: keep the first of each run
            level_codes.append(parent_codes[np.flatnonzero(np.diff(parent_codes, prepend=-1))])
        level_codes.reverse()  # root first
        offsets_array = np.zeros(bits + 2, dtype=np.int64)
        offsets_array[1:] = np.cumsum([len(c) for c in level_codes])
        cdef int64_t[::1] offsets = offsets_array
        cdef Py_ssize_t n_nodes = offsets[bits + 1]
        start_array = np.empty(n_nodes, dtype=np.int64)
        stop_array = np.empty(n_nodes, dtype=np.int64)
        low_array = np.full((n_nodes, d), INFINITY)
        high_array = np.full((n_nodes, d), -INFINITY)
        sum_array = np.zeros((n_nodes, d))
        total_array = np.zeros(n_nodes)
        child_first_array = np.zeros(n_nodes, dtype=np.int64)
        child_count_array = np.zeros(n_nodes, dtype=np.int64)
        cdef int64_t[::1] start = start_array, stop = stop_array
        cdef int64_t[::1] child_first = child_first_array, child_count = child_count_array
        cdef double[:, ::1] low = low_array, high_ = high_array, sum_ = sum_array
        cdef double[::1] total = total_array
        cdef int64_t[::1] leaf = level_codes[bits]
        cdef Py_ssize_t leaf_offset = offsets[bits]
        with nogil:
            for node in range(leaf.shape[0]):
                first = leaf_offset + node
                start[first] = ends[leaf[node] - 1] if leaf[node] > 0 else 0
                stop[first] = ends[leaf[node]]
                for i in range(start[first], stop[first]):
                    total[first] += sw[i]
                    for t in range(d):
                        low[first, t] = min(low[first, t], sp[i, t])
                        high_[first, t] = max(high_[first, t], sp[i, t])
                        sum_[first, t] += sw[i] * sp[i, t]
        cdef int64_t[::1] parents, children
        for level in range(bits - 1, -1, -1):
            parents = level_codes[level]
            children = level_codes[level + 1]
            child = 0
            for node in range(parents.shape[0]):
                parent = offsets[level] + node
                child_first[parent] = offsets[level + 1] + child
                start[parent] = start[offsets[level + 1] + child]
                while child < children.shape[0] and (children[child] >> d) == parents[node]:
                    first = offsets[level + 1] + child
                    child_count[parent] += 1
                    stop[parent] = stop[first]
                    total[parent] += total[first]
                    for t in range(d):
                        low[parent, t] = min(low[parent, t], low[first, t])
                        high_[parent, t] = max(high_[parent, t], high_[first, t])
                        sum_[parent, t] += sum_[first, t]
                    child += 1
        self.order = order_array
        self.points = sorted_points
        self.weights = sorted_weights
        self.start = start_array
        self.stop = stop_array
        self.low = low_array
        self.high = high_array
        self.sum = sum_array
        self.total = total_array
        self.child_first = child_first_array
        self.child_count = child_count_array
        self.depth = bits
        self.arrays.d = d
        self.arrays.points = &sp[0, 0]
        self.arrays.weights = &sw[0]
        self.arrays.start = &start[0]
        self.arrays.stop = &stop[0]
        self.arrays.low = &low[0, 0]
        self.arrays.high = &high_[0, 0]
        self.arrays.sum = &sum_[0, 0]
        self.arrays.total = &total[0]
        self.arrays.child_first = &child_first[0]
        self.arrays.child_count = &child_count[0]
        self.in_place = in_place


def _sort_in_place(double[:, ::1] points, double[::1] weights, const int64_t[::1] order):
    """``points[:] = points[order]`` and ``weights[:] = weights[order]`` with no copy:
    each cycle of the permutation followed once, both arrays in the same pass.

    A little slower than ``points[order]``, whose copy it saves.
    """
    cdef Py_ssize_t n = points.shape[0], start, here, there
    cdef int d = points.shape[1], t
    cdef bint broken = False
    if order.shape[0] != n or weights.shape[0] != n:
        raise ValueError(
            f"expected {n} weights and indices, got {weights.shape[0]} and {order.shape[0]}"
        )
    if d > 8:
        raise ValueError(f"at most 8 columns, got {d}")
    cdef uint8_t* done = <uint8_t*>calloc(max(n, 1), sizeof(uint8_t))
    cdef double held[8]
    cdef double held_weight
    if done == NULL:
        raise MemoryError()
    try:
        with nogil:
            for start in range(n):
                if done[start]:
                    continue
                for t in range(d):
                    held[t] = points[start, t]
                held_weight = weights[start]
                here = start
                while True:  # row ``here`` takes row ``order[here]``
                    done[here] = 1
                    there = order[here]
                    if there < 0 or there >= n or (done[there] and there != start):
                        broken = True
                        break
                    if there == start:
                        for t in range(d):
                            points[here, t] = held[t]
                        weights[here] = held_weight
                        break
                    for t in range(d):
                        points[here, t] = points[there, t]
                    weights[here] = weights[there]
                    here = there
                if broken:
                    break
    finally:
        free(done)
    if broken:  # the rows are left part way: only a programming error gets here
        raise ValueError("order is not a permutation of range(n)")
