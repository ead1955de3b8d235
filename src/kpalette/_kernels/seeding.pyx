# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""k-means++ seeding on the points of a grid tree: greedy weighted seedings, several at
once, around fixed centres if given. Tested against ``tests/reference.py``.
"""

import numpy as np

from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc

from kpalette._kernels._shared cimport GRAIN_WALK, _point_dist2, kpalette_max_threads, kpalette_team
from kpalette._kernels.tree cimport PointTree, _TreeArrays


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
    for task in prange(root_children, schedule="dynamic", chunksize=1,
                      num_threads=kpalette_team(v.nodes.stop[0] - v.nodes.start[0], GRAIN_WALK)):
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
            for trial in prange(n_trials, schedule="static", chunksize=1,
                                   num_threads=kpalette_team(n, GRAIN_WALK)):
                potential[trial] = _seed_potential(
                    view, 0, view.nodes.points + trial_index[trial] * d
                )
        else:
            for task in prange(n_trials * root_children, schedule="dynamic", chunksize=1,
                                  num_threads=kpalette_team(n, GRAIN_WALK)):
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
