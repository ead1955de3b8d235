# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""K-means on weighted points: the grid histogram, the points' tree, the nearest-centre
search, Lloyd's iterations and k-means++ seeding. Tested against the NumPy twins in
``tests/reference.py``.
"""

import numpy as np

from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY, sqrt
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport calloc, free, malloc

from kpalette._kernels._shared cimport (
    _box_candidates,
    check_columns,
    check_indices,
    check_length,
    kpalette_max_threads,
)


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


# --------------------------------------------------------------------------- K-means
cdef inline double _point_dist2(const double* x, const double* y, int d) noexcept nogil:
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
        for p in prange(n, schedule="static"):
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
        for p in prange(n, schedule="static"):
            best = INFINITY
            label = 0
            for j in range(k):
                acc = _dist2(points, p, centers, j, d)
                if acc < best:
                    best = acc
                    label = <int32_t>j
            labels[p] = label
            dist2[p] = best


cdef struct _TreeArrays:
    # A PointTree's arrays, for the compiled walks (owned by the tree, read only).
    int d
    const double* points
    const double* weights
    const int64_t* start
    const int64_t* stop
    const double* low
    const double* high
    const double* sum
    const double* total
    const int64_t* child_first
    const int64_t* child_count


cdef struct _TreeView:
    # The tree and the centres: read only during an assignment.
    _TreeArrays nodes
    Py_ssize_t k
    const double* centers
    int32_t* labels  # each node writes only its own points' labels


cdef struct _Work:
    # What one part of the walk accumulates: the clusters' weighted sums and
    # weights, the labels it changed, and candidate lists, one row per depth.
    double* sums
    double* totals
    int32_t* candidates
    Py_ssize_t changed


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

    # Read only: ``arrays`` points into them.
    cdef readonly object order, points, weights
    cdef readonly object start, stop, low, high, sum, total, child_first, child_count
    cdef readonly int depth
    cdef readonly bint in_place
    cdef _TreeArrays arrays  # pointers into the arrays above, for the walks

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





#: Leaves with at most this many points compare them with the parent's candidates
#: directly: filtering costs about two distances per candidate.
cdef Py_ssize_t SMALL_LEAF = 3


cdef void _assign_whole(const _TreeView* tree, _Work* work, Py_ssize_t node,
                        int32_t owner) noexcept nogil:
    cdef int d = tree.nodes.d, t
    cdef Py_ssize_t i
    work.totals[owner] += tree.nodes.total[node]
    for t in range(d):
        work.sums[owner * d + t] += tree.nodes.sum[node * d + t]
    for i in range(tree.nodes.start[node], tree.nodes.stop[node]):
        if tree.labels[i] != owner:
            tree.labels[i] = owner
            work.changed += 1


cdef void _descend(const _TreeView* tree, _Work* work, Py_ssize_t node, int depth,
                   const int32_t* mine, Py_ssize_t mm) noexcept nogil:
    """Assign the points of ``node`` given its filtered candidates ``mine``."""
    cdef int d = tree.nodes.d, t
    cdef Py_ssize_t i, position, child
    cdef int32_t j, best
    cdef double best2, acc, diff, w
    cdef const double* x
    if mm == 1:
        _assign_whole(tree, work, node, mine[0])
        return
    if tree.nodes.child_count[node] > 0:
        for child in range(tree.nodes.child_first[node],
                           tree.nodes.child_first[node] + tree.nodes.child_count[node]):
            _visit(tree, work, child, depth + 1, mine, mm)
        return
    for i in range(tree.nodes.start[node], tree.nodes.stop[node]):
        x = tree.nodes.points + i * d
        best = mine[0]
        best2 = INFINITY
        for position in range(mm):  # ascending: ties go to the lower index
            j = mine[position]
            acc = 0.0
            for t in range(d):
                diff = x[t] - tree.centers[j * d + t]
                acc += diff * diff
            if acc < best2:
                best2 = acc
                best = j
        if tree.labels[i] != best:
            tree.labels[i] = best
            work.changed += 1
        w = tree.nodes.weights[i]
        work.totals[best] += w
        for t in range(d):
            work.sums[best * d + t] += w * x[t]


cdef inline Py_ssize_t _filter(const _TreeView* tree, _Work* work, Py_ssize_t* node,
                               int depth, const int32_t* among, Py_ssize_t m) noexcept nogil:
    """Candidates of ``node`` (moved down its chain of single children, whose boxes are
    tighter) into row ``depth + 1`` of the work's lists; returns how many."""
    while tree.nodes.child_count[node[0]] == 1:
        node[0] = tree.nodes.child_first[node[0]]
    return _box_candidates(tree.centers, tree.nodes.d, among, m, tree.nodes.low + node[0] * tree.nodes.d,
                           tree.nodes.high + node[0] * tree.nodes.d, work.candidates + (depth + 1) * tree.k)


cdef void _visit(const _TreeView* tree, _Work* work, Py_ssize_t node, int depth,
                 const int32_t* among, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t mm
    if tree.nodes.child_count[node] == 0 and tree.nodes.stop[node] - tree.nodes.start[node] <= SMALL_LEAF:
        _descend(tree, work, node, depth, among, m)
        return
    mm = _filter(tree, work, &node, depth, among, m)
    _descend(tree, work, node, depth, work.candidates + (depth + 1) * tree.k, mm)


cdef void _split(const _TreeView* tree, _Work* work, Py_ssize_t node, int depth,
                 const int32_t* among, Py_ssize_t m, int split_depth, int64_t* task_node,
                 int32_t* task_depth, int32_t* task_count, int32_t* task_candidates,
                 Py_ssize_t* n_tasks) noexcept nogil:
    """The top of the walk, run by one thread: nodes down to ``split_depth`` are
    filtered here; those still undecided there become tasks (node, depth, candidates)
    for :func:`_descend`."""
    cdef Py_ssize_t mm = _filter(tree, work, &node, depth, among, m), child, i
    cdef int32_t* mine = work.candidates + (depth + 1) * tree.k
    if mm == 1:
        _assign_whole(tree, work, node, mine[0])
        return
    if depth < split_depth and tree.nodes.child_count[node] > 0:
        for child in range(tree.nodes.child_first[node],
                           tree.nodes.child_first[node] + tree.nodes.child_count[node]):
            _split(tree, work, child, depth + 1, mine, mm, split_depth, task_node, task_depth,
                   task_count, task_candidates, n_tasks)
        return
    task_node[n_tasks[0]] = node
    task_depth[n_tasks[0]] = depth
    task_count[n_tasks[0]] = <int32_t>mm
    for i in range(mm):
        task_candidates[n_tasks[0] * tree.k + i] = mine[i]
    n_tasks[0] += 1


cdef Py_ssize_t _run_task(const _TreeView* tree, Py_ssize_t node, int depth,
                          const int32_t* mine, Py_ssize_t mm, double* sums, double* totals,
                          int32_t* candidates) noexcept nogil:
    """One subtree of the walk into its own sums; returns the labels it changed."""
    cdef _Work part
    cdef Py_ssize_t j
    part.sums = sums
    part.totals = totals
    part.candidates = candidates
    part.changed = 0
    for j in range(tree.k):
        totals[j] = 0.0
    for j in range(tree.k * tree.nodes.d):
        sums[j] = 0.0
    _descend(tree, &part, node, depth, mine, mm)
    return part.changed


cdef class _WalkBuffers:
    """Scratch space of :func:`_tree_assign`, allocated once per Lloyd run."""

    cdef int32_t[:, :, ::1] candidates
    cdef double[:, :, ::1] task_sums
    cdef double[:, ::1] task_totals
    cdef int64_t[::1] task_node, changed, by_size
    cdef int32_t[::1] task_depth, task_count
    cdef int32_t[:, ::1] task_candidates
    cdef int split_depth

    def __init__(self, PointTree tree, Py_ssize_t k, int d):
        self.split_depth = 2 if d <= 4 else 1
        cdef Py_ssize_t max_tasks = 1 + (1 << d) + (
            (1 << (2 * d)) if self.split_depth == 2 else 0
        )
        candidates = np.empty((max_tasks + 1, tree.depth + 2, k), dtype=np.int32)
        candidates[0, 0] = np.arange(k, dtype=np.int32)
        self.candidates = candidates
        self.task_sums = np.empty((max_tasks, k, d))
        self.task_totals = np.empty((max_tasks, k))
        self.task_node = np.empty(max_tasks, dtype=np.int64)
        self.changed = np.zeros(max_tasks, dtype=np.int64)
        self.by_size = np.empty(max_tasks, dtype=np.int64)
        self.task_depth = np.empty(max_tasks, dtype=np.int32)
        self.task_count = np.empty(max_tasks, dtype=np.int32)
        self.task_candidates = np.empty((max_tasks, k), dtype=np.int32)


cdef Py_ssize_t _tree_assign(PointTree tree, _WalkBuffers work, const double[:, ::1] centers,
                             int32_t[::1] labels, double[:, ::1] sums, double[::1] totals):
    """Exact nearest centre of every (sorted) point, and the clusters' weighted sums.

    The top levels of the tree are walked by one thread; the subtrees left undecided
    there are walked in parallel, each into sums of its own, which are then added in
    the subtrees' order: the result does not depend on the number of threads.
    Returns the number of labels changed.
    """
    cdef Py_ssize_t k = centers.shape[0], j, task, n_tasks = 0, index, other, size
    cdef int d = centers.shape[1], t
    cdef const int64_t* start = tree.arrays.start
    cdef const int64_t* stop = tree.arrays.stop
    cdef int32_t[:, :, ::1] candidates = work.candidates
    cdef double[:, :, ::1] task_sums = work.task_sums
    cdef double[:, ::1] task_totals = work.task_totals
    cdef int64_t[::1] task_node = work.task_node, changed = work.changed
    cdef int64_t[::1] by_size = work.by_size
    cdef int32_t[::1] task_depth = work.task_depth, task_count = work.task_count
    cdef int32_t[:, ::1] task_candidates = work.task_candidates
    cdef _TreeView view
    cdef _Work top
    view.nodes = tree.arrays
    view.k = k
    view.centers = &centers[0, 0]
    view.labels = &labels[0]
    top.sums = &sums[0, 0]
    top.totals = &totals[0]
    top.candidates = &candidates[0, 0, 0]
    top.changed = 0
    with nogil:
        for j in range(k):
            totals[j] = 0.0
            for t in range(d):
                sums[j, t] = 0.0
        _split(&view, &top, 0, 0, top.candidates, k, work.split_depth, &task_node[0],
               &task_depth[0], &task_count[0], &task_candidates[0, 0], &n_tasks)
        # Largest subtrees first (insertion sort, ties in task order), for an even load;
        # each task still writes only its own row.
        for index in range(n_tasks):
            size = stop[task_node[index]] - start[task_node[index]]
            other = index
            while other > 0 and (stop[task_node[by_size[other - 1]]]
                                 - start[task_node[by_size[other - 1]]]) < size:
                by_size[other] = by_size[other - 1]
                other -= 1
            by_size[other] = index
        for index in prange(n_tasks, schedule="dynamic", chunksize=1):
            task = by_size[index]
            changed[task] = _run_task(&view, task_node[task], task_depth[task],
                                      &task_candidates[task, 0], task_count[task],
                                      &task_sums[task, 0, 0], &task_totals[task, 0],
                                      &candidates[task + 1, 0, 0])
        for task in range(n_tasks):
            top.changed += changed[task]
            for j in range(k):
                totals[j] += task_totals[task, j]
                for t in range(d):
                    sums[j, t] += task_sums[task, j, t]
    return top.changed


def lloyd(const double[:, ::1] points, const double[::1] weights, double[:, ::1] centers,
          int32_t[::1] labels, double[::1] dist2, int max_iter, double tol,
          PointTree tree=None, double overrelaxation=1.0, double energy_tol=0.0,
          Py_ssize_t n_fixed=0):
    """Weighted Lloyd iterations, exact, with whole grid cells assigned at once.

    With ``overrelaxation`` = 1, the same iterations as the plain algorithm (assign
    every point to its nearest centre, ties to the lower index; move each centre to
    the weighted mean of its points; an empty cluster takes the point farthest from
    its centre), but the points are sorted into the cells of a grid tree
    (:class:`PointTree`) and a cell whose bounding box can have only one nearest
    centre (:func:`_box_candidates`) is assigned whole, with its precomputed weighted
    sum; the other cells compare their points with their few candidates only. Once the centres settle, most cells are
    whole, so an iteration costs about one pass over the cells.

    With ``overrelaxation`` = beta > 1, each step after the first goes beta times
    as far: from centres c with cluster means m, the next centres are
    ``c + beta * (m - c)`` instead of m. The step is kept only if it lowers the
    K-means energy below that of c; otherwise the centres go to m, the plain step
    (which never raises it), so the energy of the kept centres only decreases.
    The first and the last step (``max_iter``), a step that relocates an empty
    cluster and a step whose assignment changed no label are plain.
    On photos' colour histograms Lloyd's late iterations creep, centres moving a
    little the same way each time, and beta = 1.9 reaches the plain run's final
    energy in about a third of the iterations.

    Stops when a plain step's assignment changes no label (a fixed point), when the
    summed squared shift to the cluster means is at most ``tol``, or when a kept
    step lowered the energy by less than ``energy_tol`` times the energy; the
    centres are then the means, and the labels returned are those of the final
    centres.

    The first ``n_fixed`` centres never move (nor take the farthest point when
    empty): they are palette entries decided beforehand, such as the transparent
    one, which the other centres are fitted around.

    Parameters
    ----------
    points : (n, d) float64 array
    weights : (n,) float64 array
    centers : (k, d) float64 array
        Starting centres; overwritten with the final ones.
    labels : (n,) int32 array
        Overwritten with the nearest final centre of each point.
    dist2 : (n,) float64 array
        Overwritten with the squared distance to that centre.
    max_iter : int
    tol : float

    tree : PointTree, optional
        ``PointTree(points, weights)``, when several runs share the points.
    overrelaxation : float
        beta, at least 1 (1: plain Lloyd).
    energy_tol : float
        Relative decrease of the energy below which a run stops (0: never).
    n_fixed : int
        Number of leading centres that stay where they are.

    Returns
    -------
    n_iter : int
        Assignments made before the final one (rejected steps included).
    """
    cdef Py_ssize_t n = points.shape[0], k = centers.shape[0], p, j
    cdef int d = points.shape[1], t
    if k < 1:
        raise ValueError("lloyd needs at least one centre, got 0")
    check_columns("centers", centers.shape[1], d)
    check_length("weights", weights.shape[0], n)
    check_length("labels", labels.shape[0], n)
    check_length("dist2", dist2.shape[0], n)
    if not 0 <= n_fixed <= k:
        raise ValueError(f"n_fixed must be in 0..{k}, got {n_fixed}")
    if max_iter < 0:
        raise ValueError(f"max_iter must be 0 or more, got {max_iter}")
    if tree is not None and (tree.points.shape[0] != n or tree.points.shape[1] != d):
        raise ValueError(
            f"the tree holds points of shape {tuple(tree.points.shape)}, not ({n}, {d})"
        )
    cdef PointTree cells = PointTree(points, weights) if tree is None else tree
    cdef _WalkBuffers work = _WalkBuffers(cells, centers.shape[0], points.shape[1])
    cdef const double[:, ::1] sorted_points = cells.points
    cdef const double[::1] sorted_weights = cells.weights
    cdef const int64_t[::1] order = cells.order
    sorted_labels_array = np.full(n, -1, dtype=np.int32)
    sorted_dist2_array = np.empty(n)
    sums_array = np.zeros((k, d))
    totals_array = np.zeros(k)
    cdef int32_t[::1] sorted_labels = sorted_labels_array
    cdef double[::1] sorted_dist2 = sorted_dist2_array, totals = totals_array
    cdef double[:, ::1] sums = sums_array
    cdef double total_shift, value, energy, kept_energy = INFINITY, beta
    cdef double squared_norms = 0.0  # sum of w |x|^2: the energy is this plus `energy`
    cdef int n_iter = 0, converged = 0, relocated, stop
    # the centres are an over-relaxed step, kept only if it lowers the energy:
    cdef int on_trial = 0
    # the centres are the means of the labels in sorted_labels (a plain step):
    cdef int means_of_labels = 0
    cdef Py_ssize_t changed
    if not overrelaxation >= 1.0:
        raise ValueError(f"overrelaxation must be at least 1, got {overrelaxation!r}")
    if not 0 <= n_fixed <= k:
        raise ValueError(f"n_fixed must be in 0..{k}, got {n_fixed}")
    base_means_array = np.empty((k, d))
    cdef double[:, ::1] base_means = base_means_array
    with nogil:
        for p in range(n):
            for t in range(d):
                squared_norms += sorted_weights[p] * sorted_points[p, t] * sorted_points[p, t]
    for n_iter in range(1, max_iter + 1):
        changed = _tree_assign(cells, work, centers, sorted_labels, sums, totals)
        if means_of_labels and changed == 0:
            converged = 1  # a fixed point
            break
        with nogil:
            # The energy less sum of w |x|^2, from the clusters' sums.
            energy = 0.0
            for j in range(k):
                for t in range(d):
                    energy += centers[j, t] * (totals[j] * centers[j, t] - 2.0 * sums[j, t])
        if on_trial and energy >= kept_energy:
            # The longer step did not pay: take the plain one from the kept centres.
            with nogil:
                for j in range(k):
                    for t in range(d):
                        centers[j, t] = base_means[j, t]
            on_trial = means_of_labels = 0
            continue
        # Kept: stop (at the means) if the energy fell by less than energy_tol of it.
        stop = kept_energy - energy < energy_tol * (squared_norms + energy)
        kept_energy = energy
        relocated = _relocate_empty(sorted_points, sorted_weights, centers, sorted_labels,
                                    sorted_dist2, order, sums, totals, n_fixed)
        with nogil:
            total_shift = 0.0
            for j in range(n_fixed):
                for t in range(d):
                    base_means[j, t] = centers[j, t]
            for j in range(n_fixed, k):
                for t in range(d):
                    value = sums[j, t] / totals[j]
                    total_shift += (value - centers[j, t]) ** 2
                    base_means[j, t] = value
        stop = stop or total_shift <= tol
        # Plain steps: the first; the last (its result is not tested); one that
        # relocated a cluster; one whose labels did not change (the means are then the
        # fixed point, which a longer step would overshoot by beta - 1, oscillating
        # there instead of stopping).
        beta = (1.0 if stop or n_iter == 1 or n_iter == max_iter or relocated or changed == 0
                else overrelaxation)
        with nogil:
            for j in range(k):
                for t in range(d):
                    if beta == 1.0:
                        centers[j, t] = base_means[j, t]
                    else:
                        centers[j, t] += beta * (base_means[j, t] - centers[j, t])
        if stop:
            break
        on_trial = beta != 1.0
        means_of_labels = not on_trial
    if not converged:
        _tree_assign(cells, work, centers, sorted_labels, sums, totals)
    with nogil:
        for p in range(n):
            labels[order[p]] = sorted_labels[p]
            dist2[order[p]] = _dist2(sorted_points, p, centers, sorted_labels[p], d)
    return n_iter


cdef int _relocate_empty(
    const double[:, ::1] points, const double[::1] weights, const double[:, ::1] centers,
    int32_t[::1] labels, double[::1] dist2, const int64_t[::1] original_index,
    double[:, ::1] sums, double[::1] totals, Py_ssize_t n_fixed,
) noexcept nogil:
    """Move each empty cluster onto the point farthest from its centre.

    Empty clusters, in ascending order, take the points in descending order of their
    squared distance to their centre (ties: the higher original index first); the
    first ``n_fixed`` clusters stay, even empty. Returns 1 if a cluster moved, else 0.
    """
    cdef Py_ssize_t n = points.shape[0], k = centers.shape[0], p, j, far
    cdef int d = points.shape[1], t
    cdef int any_empty = 0, old
    cdef double w, top
    for j in range(n_fixed, k):
        if totals[j] <= 0.0:
            any_empty = 1
    if not any_empty:
        return 0
    for p in range(n):
        dist2[p] = _dist2(points, p, centers, labels[p], d)
    for j in range(n_fixed, k):
        if totals[j] > 0.0:
            continue
        far = -1
        top = -1.0
        for p in range(n):
            if dist2[p] > top or (
                dist2[p] == top and far >= 0 and original_index[p] > original_index[far]
            ):
                top = dist2[p]
                far = p
        old = labels[far]
        w = weights[far]
        if totals[old] - w > 0.0:
            for t in range(d):
                sums[old, t] -= w * points[far, t]
            totals[old] -= w
        for t in range(d):
            sums[j, t] = w * points[far, t]
        totals[j] = w
        labels[far] = <int32_t>j
        dist2[far] = -1.0  # taken: not chosen again
    return 1


cdef struct _SeedView:
    _TreeArrays nodes
    double* closest      # per (sorted) point: squared distance to its nearest centre
    double* node_sum     # per node: sum of weight * closest over its points
    double* node_max     # per node: largest closest among its points


cdef inline double _box_dist2(const double* x, const double* low, const double* high,
                              int d) noexcept nogil:
    """Squared distance from ``x`` to the nearest point of the box [low, high]."""
    cdef double acc = 0.0, gap, g0, g1, g2
    cdef int t
    if d == 3:  # colours: unrolled
        g0 = max(low[0] - x[0], 0.0) + max(x[0] - high[0], 0.0)
        g1 = max(low[1] - x[1], 0.0) + max(x[1] - high[1], 0.0)
        g2 = max(low[2] - x[2], 0.0) + max(x[2] - high[2], 0.0)
        return g0 * g0 + g1 * g1 + g2 * g2
    for t in range(d):
        if x[t] < low[t]:
            gap = low[t] - x[t]
        elif x[t] > high[t]:
            gap = x[t] - high[t]
        else:
            continue
        acc += gap * gap
    return acc


#: Nodes of at most this many points are walked point by point by the seeding, not
#: split further: on a 64-cell grid of colour means a leaf holds one point, and
#: testing boxes node by node cost more than a straight pass over the points
#: (128 was near the best of 8 to 1024 on photos).
cdef Py_ssize_t SEED_LEAF = 128


cdef inline bint _seed_leaf(const _SeedView* v, Py_ssize_t node) noexcept nogil:
    return v.nodes.child_count[node] == 0 or v.nodes.stop[node] - v.nodes.start[node] <= SEED_LEAF


cdef double _seed_potential(const _SeedView* v, Py_ssize_t node,
                            const double* candidate) noexcept nogil:
    """``sum(weight * min(closest, |x - candidate|^2))`` over the points of ``node``.

    A node that the candidate cannot bring closer (even its box's nearest point is
    no closer than the node's largest ``closest``) keeps its stored sum unvisited.
    """
    cdef int d = v.nodes.d
    cdef Py_ssize_t i, child
    cdef double total = 0.0, dd
    if _box_dist2(candidate, v.nodes.low + node * d, v.nodes.high + node * d, d) >= v.node_max[node]:
        return v.node_sum[node]
    if _seed_leaf(v, node):
        for i in range(v.nodes.start[node], v.nodes.stop[node]):
            dd = _point_dist2(v.nodes.points + i * d, candidate, d)
            total += v.nodes.weights[i] * (dd if dd < v.closest[i] else v.closest[i])
        return total
    for child in range(v.nodes.child_first[node], v.nodes.child_first[node] + v.nodes.child_count[node]):
        total += _seed_potential(v, child, candidate)
    return total


cdef void _seed_update(_SeedView* v, Py_ssize_t node, const double* center) noexcept nogil:
    """Lower ``closest`` to the distance to a new centre, and the nodes' sums and maxima."""
    cdef int d = v.nodes.d
    cdef Py_ssize_t i, child
    cdef double total = 0.0, largest = 0.0, dd
    if _box_dist2(center, v.nodes.low + node * d, v.nodes.high + node * d, d) >= v.node_max[node]:
        return
    if _seed_leaf(v, node):
        for i in range(v.nodes.start[node], v.nodes.stop[node]):
            dd = _point_dist2(v.nodes.points + i * d, center, d)
            if dd < v.closest[i]:
                v.closest[i] = dd
            total += v.nodes.weights[i] * v.closest[i]
            largest = max(largest, v.closest[i])
    else:
        for child in range(v.nodes.child_first[node], v.nodes.child_first[node] + v.nodes.child_count[node]):
            _seed_update(v, child, center)
            total += v.node_sum[child]
            largest = max(largest, v.node_max[child])
    v.node_sum[node] = total
    v.node_max[node] = largest


cdef void _seed_update_split(_SeedView* v, const double* center,
                             Py_ssize_t root_children) noexcept nogil:
    """:func:`_seed_update` from the root, its children's subtrees updated side by side
    (they share no points) and the root's sum added in the children's order, as
    _seed_update adds it: the same values. ``root_children`` is 0 for a root that
    _seed_update scans as a leaf."""
    cdef int d = v.nodes.d
    cdef Py_ssize_t task, child, first_child = v.nodes.child_first[0]
    cdef double total = 0.0, largest = 0.0
    if root_children == 0:
        _seed_update(v, 0, center)
        return
    if _box_dist2(center, v.nodes.low, v.nodes.high, d) >= v.node_max[0]:
        return
    for task in prange(root_children, schedule="dynamic", chunksize=1):
        _seed_update(v, first_child + task, center)
    for child in range(first_child, first_child + root_children):
        total += v.node_sum[child]
        largest = max(largest, v.node_max[child])
    v.node_sum[0] = total
    v.node_max[0] = largest


cdef Py_ssize_t _seed_pick(const _SeedView* v, double target) noexcept nogil:
    """The (sorted) point where the running sum of ``weight * closest`` first exceeds
    ``target``, found by walking down the nodes' sums; clipped to the last point with
    a positive share when rounding leaves ``target`` past the end."""
    cdef Py_ssize_t node = 0, child, chosen, i, last
    cdef double running
    while not _seed_leaf(v, node):
        chosen = -1
        for child in range(v.nodes.child_first[node], v.nodes.child_first[node] + v.nodes.child_count[node]):
            if v.node_sum[child] > 0.0:
                chosen = child
                if target < v.node_sum[child]:
                    break
                target -= v.node_sum[child]
        node = chosen
    running = 0.0
    last = v.nodes.start[node]
    for i in range(v.nodes.start[node], v.nodes.stop[node]):
        if v.nodes.weights[i] * v.closest[i] > 0.0:
            last = i
            running += v.nodes.weights[i] * v.closest[i]
            if running > target:
                return i
    return last


cdef void _seed_run(_SeedView* view, Py_ssize_t n, Py_ssize_t n_nodes, int k, int n_trials,
                    const double* uniforms, const double* fixed, Py_ssize_t n_fixed,
                    int64_t* chosen, int64_t* trial_index, double* potential,
                    double* parts) noexcept nogil:
    """One k-means++ seeding into ``chosen`` (sorted indices), with ``view``'s scratch.

    With ``n_fixed`` centres (rows of ``fixed``), every one of the ``k`` chosen is
    drawn by ``D^2`` from the start; otherwise the first is drawn by weight.
    ``parts`` holds ``n_trials`` times the root's children (scratch).
    """
    cdef int d = view.nodes.d, c, trial, i, first_drawn
    cdef Py_ssize_t p, first = 0, best_index, task
    cdef Py_ssize_t root_children = 0 if _seed_leaf(view, 0) else view.nodes.child_count[0]
    cdef double total, best_potential, running
    for p in range(n):
        view.closest[p] = INFINITY
    for p in range(n_nodes):
        view.node_sum[p] = INFINITY
        view.node_max[p] = INFINITY
    if n_fixed > 0:
        for p in range(n_fixed):
            _seed_update(view, 0, fixed + p * d)
        first_drawn = 0
    else:
        total = 0.0
        for p in range(n):
            total += view.nodes.weights[p]
        running = 0.0
        first = n - 1
        for p in range(n):
            running += view.nodes.weights[p]
            if running > uniforms[0] * total:
                first = p
                break
        chosen[0] = first
        _seed_update(view, 0, view.nodes.points + first * d)
        first_drawn = 1
    # The draws for centre c use uniforms[first_drawn + (c - first_drawn) * n_trials ...].
    for c in range(first_drawn, k):
        total = view.node_sum[0]
        if total <= 0.0:
            # Every point already sits on a centre: repeat the first (caller warns).
            for i in range(c, k):
                chosen[i] = first
            break
        for trial in range(n_trials):
            trial_index[trial] = _seed_pick(
                view, uniforms[first_drawn + (c - first_drawn) * n_trials + trial] * total
            )
        # The trials only read the tree, and run side by side unless this run is
        # itself one of several (OpenMP does not nest by default). Each trial's walk is
        # split at the root, one task per (trial, child of the root), and its parts
        # added in the children's order, as _seed_potential adds them: the same sum,
        # and an odd number of trials spreads evenly over the threads.
        if root_children == 0:
            for trial in prange(n_trials, schedule="static", chunksize=1):
                potential[trial] = _seed_potential(
                    view, 0, view.nodes.points + trial_index[trial] * d
                )
        else:
            for task in prange(n_trials * root_children, schedule="dynamic", chunksize=1):
                parts[task] = _seed_potential(
                    view, view.nodes.child_first[0] + task % root_children,
                    view.nodes.points + trial_index[task // root_children] * d,
                )
            for trial in range(n_trials):
                if _box_dist2(view.nodes.points + trial_index[trial] * d, view.nodes.low,
                              view.nodes.high, d) >= view.node_max[0]:
                    potential[trial] = view.node_sum[0]
                else:
                    running = 0.0
                    for i in range(root_children):
                        running += parts[trial * root_children + i]
                    potential[trial] = running
        best_potential = INFINITY
        best_index = 0
        for trial in range(n_trials):
            if potential[trial] < best_potential:
                best_potential = potential[trial]
                best_index = trial
        chosen[c] = trial_index[best_index]
        _seed_update_split(view, view.nodes.points + chosen[c] * d, root_children)


def kmeans_plusplus(PointTree tree, int k, int n_trials, const double[:, ::1] uniforms,
                    fixed=None):
    """Greedy weighted k-means++ seedings, on the points of a grid tree.

    The first centre is drawn with probability proportional to weight; each next one
    is the best (lowest potential) of ``n_trials`` candidates drawn with probability
    proportional to ``weight * D(x)^2``, ``D`` the distance to the nearest chosen
    centre. The draws walk the points in the tree's (Z-order) order. Given
    ``fixed`` centres, they count as chosen from the start, and all ``k`` are drawn
    the second way.

    The tree makes it exact and cheap: every node keeps the sum and the maximum of
    ``weight * D^2`` / ``D^2`` over its points, so a candidate's potential reuses the
    sum of every node it cannot bring closer (its box's nearest point is no closer
    than the node's largest ``D``), and a new centre updates only the points near it.
    Late in the seeding, when ``D`` is small everywhere, a candidate touches a few
    nodes around it instead of every point (after Raff, "Exact acceleration of
    K-means++ and K-means||", 2021).

    Several seedings (one per row of ``uniforms``) run side by side, one per thread;
    a single one spreads its trials over the threads instead. Each seeding depends
    only on its own row, not on the threads.

    Parameters
    ----------
    tree : PointTree
        Built on the (n, d) points and their weights.
    k : int
    n_trials : int
    uniforms : (starts, 1 + (k - 1) * n_trials) float64 array
        Uniform random numbers in [0, 1) that drive every draw of each seeding (from
        the caller's seeded generator, so the result is reproducible); with
        ``fixed``, (starts, k * n_trials).
    fixed : (m, d) float64 array, optional
        Centres that are given (any coordinates, not necessarily points).

    Returns
    -------
    chosen : (starts, k) int64 array
        Indices into the tree's input points of the chosen centres.
    """
    cdef const int64_t[::1] order = tree.order
    cdef Py_ssize_t n = order.shape[0], n_nodes = len(tree.start), run, slot, i
    cdef Py_ssize_t n_runs = uniforms.shape[0]
    cdef int trials = max(n_trials, 1)
    cdef Py_ssize_t n_fixed = 0 if fixed is None else len(fixed)
    # One row at least, so that its address can be taken; only n_fixed rows are read.
    fixed_array = np.zeros((1, tree.points.shape[1])) if n_fixed == 0 else fixed
    cdef const double[:, ::1] fixed_centers = fixed_array
    cdef Py_ssize_t needed = k * n_trials if n_fixed else 1 + (k - 1) * n_trials
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n} (the points), got {k}")
    if n_trials < 1:
        raise ValueError(f"n_trials must be at least 1, got {n_trials}")
    if n_fixed and fixed_centers.shape[1] != tree.points.shape[1]:
        raise ValueError(
            f"fixed centres need {tree.points.shape[1]} coordinates, got {fixed_centers.shape[1]}"
        )
    if uniforms.shape[1] < needed:
        raise ValueError(f"need {needed} uniforms per seeding, got {uniforms.shape[1]}")
    # Scratch per thread, not per seeding: at most as many as run at once.
    cdef Py_ssize_t n_slots = max(1, min(n_runs, kpalette_max_threads()))
    chosen_array = np.empty((n_runs, k), dtype=np.int64)
    closest_array = np.empty((n_slots, n))
    node_sum_array = np.empty((n_slots, n_nodes))
    node_max_array = np.empty((n_slots, n_nodes))
    trial_index_array = np.empty((n_slots, trials), dtype=np.int64)
    # Per slot: the trials' potentials, then their parts (one per child of the root).
    potential_array = np.empty((n_slots, trials * (1 + max(1, tree.child_count[0]))))
    cdef int64_t[:, ::1] chosen = chosen_array, trial_index = trial_index_array
    cdef double[:, ::1] closest = closest_array, node_sum = node_sum_array
    cdef double[:, ::1] node_max = node_max_array, potential = potential_array
    cdef _SeedView* views = <_SeedView*>malloc(n_slots * sizeof(_SeedView))
    if views == NULL:
        raise MemoryError()
    try:
        for slot in range(n_slots):
            views[slot].nodes = tree.arrays
            views[slot].closest = &closest[slot, 0]
            views[slot].node_sum = &node_sum[slot, 0]
            views[slot].node_max = &node_max[slot, 0]
        with nogil:
            if n_slots == 1:
                for run in range(n_runs):
                    _seed_run(&views[0], n, n_nodes, k, n_trials, &uniforms[run, 0],
                              &fixed_centers[0, 0], n_fixed,
                              &chosen[run, 0], &trial_index[0, 0], &potential[0, 0],
                              &potential[0, trials])
            else:
                for run in prange(n_runs, schedule="dynamic", chunksize=1,
                                  num_threads=n_slots):
                    slot = threadid()
                    _seed_run(&views[slot], n, n_nodes, k, n_trials, &uniforms[run, 0],
                              &fixed_centers[0, 0], n_fixed,
                              &chosen[run, 0], &trial_index[slot, 0], &potential[slot, 0],
                              &potential[slot, trials])
            for run in range(n_runs):
                for i in range(k):
                    chosen[run, i] = order[chosen[run, i]]
    finally:
        free(views)
    return chosen_array
