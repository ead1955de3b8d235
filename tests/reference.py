"""Plain NumPy twins of the compiled kernels: slow, obvious, and the yardstick."""

from __future__ import annotations

import numpy as np


def assign(points, centers):
    """Nearest centre (lowest index on ties) and squared distance, by brute force."""
    d2 = ((points[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    labels = np.argmin(d2, axis=1)
    return labels.astype(np.int32), d2[np.arange(len(points)), labels]


def weighted_sums(points, weights, labels, k):
    totals = np.bincount(labels, weights=weights, minlength=k)
    sums = np.stack(
        [
            np.bincount(labels, weights=weights * points[:, t], minlength=k)
            for t in range(points.shape[1])
        ],
        axis=1,
    )
    return sums, totals


def lloyd_pixels(pixels, centers, *, max_iter=300):
    """Lloyd's algorithm on every pixel (no histogram), to a fixed point of the labels."""
    pixels = pixels.astype(np.float64)
    centers = np.array(centers, dtype=np.float64)
    labels = None
    for _ in range(max_iter):
        new_labels, _ = assign(pixels, centers)
        if labels is not None and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        for j in range(len(centers)):
            members = pixels[labels == j]
            if len(members):
                centers[j] = members.mean(axis=0)
    labels, d2 = assign(pixels, centers)
    return centers, labels, float(d2.sum())


def lloyd_weighted(points, weights, centers, *, max_iter=300, tol=0.0):
    """Weighted Lloyd, step by step: assign, stop if no label changed, move each
    centre to its weighted mean (an empty cluster takes the point farthest from its
    centre, farthest first, ties to the higher index), stop if the summed squared
    shift is at most ``tol``. Returns (centers, labels, dist2, n_iter)."""
    centers = np.array(centers, dtype=np.float64)
    k = len(centers)
    labels = None
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007
        new_labels, dist2 = assign(points, centers)
        if labels is not None and np.array_equal(new_labels, labels):
            converged = True
            break
        labels = new_labels
        sums, totals = weighted_sums(points, weights, labels, k)
        farthest = np.argsort(dist2, kind="stable")[::-1]
        for cluster, point in zip(np.flatnonzero(totals <= 0), farthest, strict=False):
            old, w = labels[point], weights[point]
            if totals[old] - w > 0:
                sums[old] -= w * points[point]
                totals[old] -= w
            sums[cluster], totals[cluster] = w * points[point], w
            labels[point] = cluster
        new_centers = sums / totals[:, None]
        shift = float(((new_centers - centers) ** 2).sum())
        centers = new_centers
        if shift <= tol:
            break
    if not converged:
        labels, dist2 = assign(points, centers)
    return centers, labels, dist2, n_iter


def kmeans_plusplus(points, weights, k, n_trials, uniforms):
    """Greedy weighted k-means++ driven by the given uniform numbers."""

    def pick(cumulative, target):
        return min(int(np.searchsorted(cumulative, target, side="right")), len(cumulative) - 1)

    cumulative = np.cumsum(weights)
    chosen = [pick(cumulative, uniforms[0] * cumulative[-1])]
    closest = ((points - points[chosen[0]]) ** 2).sum(axis=1)
    for c in range(1, k):
        cumulative = np.cumsum(weights * closest)
        best = None
        for t in range(n_trials):
            index = pick(cumulative, uniforms[1 + (c - 1) * n_trials + t] * cumulative[-1])
            candidate = np.minimum(closest, ((points - points[index]) ** 2).sum(axis=1))
            potential = float(weights @ candidate)
            if best is None or potential < best[0]:
                best = (potential, index, candidate)
        chosen.append(best[1])
        closest = best[2]
    return np.array(chosen)


def floyd_steinberg(image, palette, strength=1.0, skip=None):
    """Serpentine Floyd-Steinberg, pixel by pixel, nearest entry by brute force.

    Returns (H, W) int indices; ``skip`` pixels get -1 and take no part.
    """
    height, width, d = image.shape
    palette = palette.astype(np.float64)
    error = np.zeros((height, width, d))
    out = np.empty((height, width), dtype=np.int64)
    for y in range(height):
        forward = y % 2 == 0
        step = 1 if forward else -1
        for x in range(width) if forward else range(width - 1, -1, -1):
            if skip is not None and skip[y, x]:
                out[y, x] = -1
                continue
            value = np.clip(image[y, x].astype(np.float64) + error[y, x], 0.0, 255.0)
            rounded = np.floor(value + 0.5)
            index = int(np.argmin(((palette - rounded) ** 2).sum(axis=1)))
            out[y, x] = index
            e = (value - palette[index]) * strength
            for dy, dx, share in ((0, step, 7), (1, -step, 3), (1, 0, 5), (1, step, 1)):
                yy, xx = y + dy, x + dx
                if 0 <= yy < height and 0 <= xx < width:
                    error[yy, xx] += e * (share / 16.0)
    return out
