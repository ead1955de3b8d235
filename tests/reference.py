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
