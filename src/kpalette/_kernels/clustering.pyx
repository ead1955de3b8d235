# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Lloyd's iterations on weighted points over the grid tree (:mod:`.tree`), each
assignment a filtering walk of the tree. The other steps of K-means have modules of
their own: the nearest-centre search of any points (:mod:`.nearest`), the grid
histogram (:mod:`.grid`) and k-means++ seeding (:mod:`.seeding`). Tested against the
NumPy twins in ``tests/reference.py``.
"""

import numpy as np

from cython.parallel cimport prange
from libc.math cimport INFINITY, sqrt
from libc.stdint cimport int32_t, int64_t

from kpalette._kernels._shared cimport (
    GRAIN_WALK,
    _box_candidates,
    _dist2,
    _point_dist2,
    check_columns,
    check_indices,
    check_length,
    kpalette_team,
)
from kpalette._kernels.tree cimport PointTree, _TreeArrays




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
        for index in prange(n_tasks, schedule="dynamic", chunksize=1,
                            num_threads=kpalette_team(stop[0] - start[0], GRAIN_WALK)):
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


