"""Compiled hot loops (Numba, cached on disk after the first run).

Everything that touches every pixel or every distinct colour on every K-means
iteration lives here; the rest of kpalette orchestrates in NumPy. Each kernel has a
plain NumPy twin in ``tests/reference.py`` and is tested against it.

Why hand-written loops: NumPy's ``bincount``/``unique`` need a 24-bit code array per
pixel and a sort or a 128 MB int64 table (measured 0.35 s for 8.7 MP against 0.05 s
here), and SciPy/scikit-learn offer no weighted assignment that starts from the
previous labels and prunes with the triangle inequality.

Determinism: parallel loops write per-point results or per-chunk partial sums over a
fixed chunk size, merged in chunk order, so results do not depend on thread count.
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: Points per chunk in the parallel reductions (fixed, so sums are reproducible).
CHUNK = 16384
_N_CODES = 1 << 24


@nb.njit(cache=True, nogil=True)
def count_rgb(pixels):
    """Count every 24-bit colour.

    Parameters
    ----------
    pixels : (N, 3) uint8 array

    Returns
    -------
    table : (2**24,) uint32 array
        ``table[(r << 16) | (g << 8) | b]`` is the number of pixels of that colour.
    """
    table = np.zeros(_N_CODES, dtype=np.uint32)
    for i in range(pixels.shape[0]):
        code = (np.int64(pixels[i, 0]) << 16) | (np.int64(pixels[i, 1]) << 8) | pixels[i, 2]
        table[code] += 1
    return table


@nb.njit(cache=True, parallel=True, nogil=True)
def lookup_rgb(pixels, table, out):
    """``out[i] = table[code(pixels[i])]`` for every pixel (the label map).

    Parameters
    ----------
    pixels : (N, 3) uint8 array
    table : (2**24,) integer array
    out : (N,) integer array, written in place
    """
    n = pixels.shape[0]
    for i in nb.prange(n):
        code = (np.int64(pixels[i, 0]) << 16) | (np.int64(pixels[i, 1]) << 8) | pixels[i, 2]
        out[i] = table[code]


@nb.njit(cache=True, nogil=True)
def _sorted_neighbours(centers):
    """Centre-to-centre distances and, per centre, the others sorted by distance."""
    k, d = centers.shape
    between = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            acc = 0.0
            for t in range(d):
                diff = centers[i, t] - centers[j, t]
                acc += diff * diff
            between[i, j] = np.sqrt(acc)
    order = np.empty((k, k), dtype=np.int64)
    for i in range(k):
        order[i] = np.argsort(between[i], kind="mergesort")
    return between, order


@nb.njit(cache=True, parallel=True, nogil=True)
def assign(points, centers, labels, dist2):
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
    n, d = points.shape
    between, order = _sorted_neighbours(centers)
    k = centers.shape[0]
    for p in nb.prange(n):
        a = labels[p]
        acc = 0.0
        for t in range(d):
            diff = points[p, t] - centers[a, t]
            acc += diff * diff
        best = a
        best2 = acc
        dist_a = np.sqrt(acc)
        bound = 2.0 * dist_a
        for r in range(k):
            j = order[a, r]
            if between[a, j] > bound * (1.0 + 1e-12) + 1e-9:
                break
            if j == a:
                continue
            acc = 0.0
            for t in range(d):
                diff = points[p, t] - centers[j, t]
                acc += diff * diff
            if acc < best2 or (acc == best2 and j < best):
                best = j
                best2 = acc
                bound = dist_a + np.sqrt(acc)
        labels[p] = best
        dist2[p] = best2


@nb.njit(cache=True, parallel=True, nogil=True)
def weighted_sums(points, weights, labels, k):
    """Per-cluster weighted coordinate sums and total weights.

    Parameters
    ----------
    points : (n, d) float64 array
    weights : (n,) float64 array
    labels : (n,) int32 array
    k : int

    Returns
    -------
    sums : (k, d) float64 array
    totals : (k,) float64 array
    """
    n, d = points.shape
    n_chunks = (n + CHUNK - 1) // CHUNK
    partial = np.zeros((n_chunks, k, d))
    partial_w = np.zeros((n_chunks, k))
    for c in nb.prange(n_chunks):
        stop = min(n, (c + 1) * CHUNK)
        for p in range(c * CHUNK, stop):
            label = labels[p]
            w = weights[p]
            partial_w[c, label] += w
            for t in range(d):
                partial[c, label, t] += w * points[p, t]
    sums = np.zeros((k, d))
    totals = np.zeros(k)
    for c in range(n_chunks):
        for j in range(k):
            totals[j] += partial_w[c, j]
            for t in range(d):
                sums[j, t] += partial[c, j, t]
    return sums, totals


@nb.njit(cache=True, parallel=True, nogil=True)
def _min_dist2_update(points, weights, center, closest, out):
    """``out = min(closest, |x - center|^2)``; returns ``sum(weights * out)``."""
    n, d = points.shape
    n_chunks = (n + CHUNK - 1) // CHUNK
    partial = np.zeros(n_chunks)
    for c in nb.prange(n_chunks):
        stop = min(n, (c + 1) * CHUNK)
        acc_c = 0.0
        for p in range(c * CHUNK, stop):
            acc = 0.0
            for t in range(d):
                diff = points[p, t] - center[t]
                acc += diff * diff
            value = min(acc, closest[p])
            out[p] = value
            acc_c += weights[p] * value
        partial[c] = acc_c
    total = 0.0
    for c in range(n_chunks):
        total += partial[c]
    return total


@nb.njit(cache=True, nogil=True)
def _pick(cumulative, target):
    """First index whose cumulative weight exceeds ``target`` (clipped to the range)."""
    index = np.searchsorted(cumulative, target, side="right")
    return min(index, cumulative.shape[0] - 1)


@nb.njit(cache=True, nogil=True)
def kmeans_plusplus(points, weights, k, n_trials, uniforms):
    """Greedy weighted k-means++ seeding.

    The first centre is drawn with probability proportional to weight; each next one
    is the best (lowest potential) of ``n_trials`` candidates drawn with probability
    proportional to ``weight * D(x)^2``.

    Parameters
    ----------
    points : (n, d) float64 array
    weights : (n,) float64 array
    k : int
    n_trials : int
    uniforms : (1 + (k - 1) * n_trials,) float64 array
        Uniform random numbers in [0, 1) that drive every draw (from the caller's
        seeded generator, so the result is reproducible).

    Returns
    -------
    chosen : (k,) int64 array
        Indices into ``points`` of the chosen centres.
    """
    n, d = points.shape
    chosen = np.empty(k, dtype=np.int64)
    cumulative = np.cumsum(weights)
    first = _pick(cumulative, uniforms[0] * cumulative[-1])
    chosen[0] = first
    closest = np.full(n, np.inf)
    candidate_dist = np.empty(n)
    best_dist = np.empty(n)
    _min_dist2_update(points, weights, points[first], closest, closest)
    for c in range(1, k):
        cumulative = np.cumsum(weights * closest)
        total = cumulative[-1]
        if total <= 0.0:
            # Every point already sits on a centre: repeat the first (caller warns).
            chosen[c:] = first
            break
        best_potential = np.inf
        best_index = -1
        for t in range(n_trials):
            u = uniforms[1 + (c - 1) * n_trials + t]
            index = _pick(cumulative, u * total)
            trial = _min_dist2_update(points, weights, points[index], closest, candidate_dist)
            if trial < best_potential:
                best_potential = trial
                best_index = index
                best_dist[:] = candidate_dist
        chosen[c] = best_index
        closest[:] = best_dist
    return chosen


@nb.njit(cache=True, nogil=True)
def palette_grid(palette, per_axis):
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
    k, d = palette.shape
    cell_of = np.empty((d, 256), dtype=np.int64)
    lows = np.empty((d, per_axis))
    highs = np.empty((d, per_axis))
    for t in range(d):
        low = 255.0
        high = 0.0
        for j in range(k):
            low = min(low, palette[j, t])
            high = max(high, palette[j, t])
        start = np.floor(low)
        size = max(1.0, np.ceil((np.ceil(high) - start + 1.0) / per_axis))
        for v in range(256):
            cell_of[t, v] = min(per_axis - 1, max(0, np.int64((v - start) // size)))
        for c in range(per_axis):
            lows[t, c] = 256.0
            highs[t, c] = -1.0
        for v in range(256):
            c = cell_of[t, v]
            lows[t, c] = min(lows[t, c], v)
            highs[t, c] = max(highs[t, c], v)
    return cell_of, lows, highs


@nb.njit(cache=True, nogil=True)
def cell_candidates(palette, among, low, high, out):
    """The palette entries that can be nearest to some point of a box.

    An entry can be the nearest of some point of the box only if its smallest
    distance to the box is at most ``min_j`` of the largest distance of entry ``j``
    to the box; the others are left out, so a query compares only the candidates
    of its own box. The candidates of a box are among those of any box holding it.

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
    d = palette.shape[1]
    m = among.shape[0]
    threshold = np.inf
    near = np.empty(m)
    for i in range(m):
        j = among[i]
        dmin = 0.0
        dmax = 0.0
        for t in range(d):
            v = palette[j, t]
            gap = low[t] - v if v < low[t] else (v - high[t] if v > high[t] else 0.0)
            dmin += gap * gap
            far = max(v - low[t], high[t] - v)
            dmax += far * far
        near[i] = dmin
        threshold = min(threshold, dmax)
    n = 0
    for i in range(m):
        if near[i] <= threshold:
            out[n] = among[i]
            n += 1
    return n


@nb.njit(cache=True, nogil=True)
def floyd_steinberg(image, palette, entry_ids, strength, skip, skip_index, out):
    """Floyd-Steinberg error diffusion onto a fixed palette, serpentine scan.

    Each pixel plus the error it has received (clipped to 0..255) is rounded to
    whole numbers and mapped to its nearest palette entry (exact, squared
    Euclidean, ties to the lowest index, among the candidates of its cell of a grid
    fitted to the palette, :func:`cell_candidates`, found the first time a cell is
    visited among those of the coarse cell holding it); its error, times
    ``strength``, goes 7/16 ahead, 3/16 below behind, 5/16 below and 1/16 below
    ahead, in the direction of the scan, which alternates by row.

    Parameters
    ----------
    image : (H, W, d) uint8 array
        The channels to diffuse (3, or 4 with alpha).
    palette : (k, d) float64 array
    entry_ids : (k,) int64 array
        What is written to ``out`` for each entry of ``palette``.
    strength : float
        Fraction of the error diffused (0: no dithering, 1: full).
    skip : (H, W) bool array
        Pixels that take ``skip_index`` and neither receive nor pass on error.
    skip_index : int
    out : (H, W) integer array
        Written with ``entry_ids`` of the chosen entry of every pixel.
    """
    height, width, d = image.shape
    k = palette.shape[0]
    # Fine cells (64 per axis) keep the candidate lists short even for palettes
    # packed into a thin region; they are found among the candidates of coarse
    # cells (8 per axis), so each costs the length of a coarse list, not k.
    fine = 64 if d == 3 else 16
    factor = 8 if d == 3 else 4
    coarse = fine // factor
    cell_of, lows, highs = palette_grid(palette, fine)
    coarse_lows = np.empty((d, coarse))
    coarse_highs = np.empty((d, coarse))
    for t in range(d):
        for c in range(coarse):
            coarse_lows[t, c] = lows[t, c * factor : (c + 1) * factor].min()
            coarse_highs[t, c] = highs[t, c * factor : (c + 1) * factor].max()
    everything = np.arange(k).astype(np.int32)
    coarse_lists = np.empty((coarse**d, k), dtype=np.int32)
    coarse_sizes = np.full(coarse**d, -1, dtype=np.int64)
    cell_start = np.full(fine**d, -1, dtype=np.int64)
    cell_size = np.zeros(fine**d, dtype=np.int64)
    candidates = np.empty(max(1024, 8 * k), dtype=np.int32)
    n_stored = 0
    scratch = np.empty(k, dtype=np.int32)
    axis_cells = np.empty(d, dtype=np.int64)
    low = np.empty(d)
    high = np.empty(d)
    current = np.zeros((width + 2, d))
    below = np.zeros((width + 2, d))
    value = np.empty(d)
    error = np.empty(d)
    for y in range(height):
        forward = y % 2 == 0
        step = 1 if forward else -1
        for i in range(width):
            x = i if forward else width - 1 - i
            cell = x + 1  # error rows have a margin of one on each side
            if skip[y, x]:
                out[y, x] = skip_index
                continue
            grid_cell = 0
            for t in range(d):
                v = min(255.0, max(0.0, np.float64(image[y, x, t]) + current[cell, t]))
                error[t] = v
                rounded = np.int64(v + 0.5)  # v >= 0: truncation is floor
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
                    coarse_sizes[coarse_cell] = cell_candidates(
                        palette, everything, low, high, coarse_lists[coarse_cell]
                    )
                for t in range(d):
                    low[t] = lows[t, axis_cells[t]]
                    high[t] = highs[t, axis_cells[t]]
                among = coarse_lists[coarse_cell, : coarse_sizes[coarse_cell]]
                n = cell_candidates(palette, among, low, high, scratch)
                if n_stored + n > candidates.shape[0]:
                    grown = np.empty(2 * (n_stored + n), dtype=np.int32)
                    grown[:n_stored] = candidates[:n_stored]
                    candidates = grown
                candidates[n_stored : n_stored + n] = scratch[:n]
                cell_start[grid_cell] = n_stored
                cell_size[grid_cell] = n
                n_stored += n
            index = -1
            best2 = np.inf
            first = cell_start[grid_cell]
            for position in range(first, first + cell_size[grid_cell]):
                j = candidates[position]
                acc = 0.0
                for t in range(d):
                    diff = value[t] - palette[j, t]
                    acc += diff * diff
                if acc < best2:
                    best2 = acc
                    index = j
            out[y, x] = entry_ids[index]
            for t in range(d):
                e = (error[t] - palette[index, t]) * strength
                current[cell + step, t] += e * (7.0 / 16.0)
                below[cell - step, t] += e * (3.0 / 16.0)
                below[cell, t] += e * (5.0 / 16.0)
                below[cell + step, t] += e * (1.0 / 16.0)
        current, below = below, current
        below[:] = 0.0
