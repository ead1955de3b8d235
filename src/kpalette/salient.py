"""Small, distinct colours kept: the swap after Lloyd (``tune="eye"``).

K-means minimises squared error, so a small group of colours far from the rest (a
ladybird's shell, a blue mark) is merged into a big neighbour when k is small. The swap
gives such a group an entry of its own when SALIENCE times what it would save outweighs
the cheapest merge of two centres."""

from __future__ import annotations

import numpy as np

from ._kernels.nearest import assign

__all__ = ["DISTANT_RMS", "SALIENCE", "swap_in_distant"]


#: :func:`swap_in_distant`: colours farther from their centre than this many times
#: the root-mean-square distance are distant, and a new centre gathers those within
#: the same radius of the heaviest one.
DISTANT_RMS = 3.0


#: :func:`swap_in_distant`: how many times its own squared error a distant group's
#: saving counts against a merge's cost. Above 1, a small distinct colour is kept
#: although the mean squared error rises a little: a colour lost whole is seen at
#: once, the same error spread over large areas hardly (the goal: a 0.2-0.3% patch
#: kept at k = 8 for at most a tenth more mean CIEDE2000 over the image).
SALIENCE = 8.0


def swap_in_distant(
    points: np.ndarray,
    weights: np.ndarray,
    centers: np.ndarray,
    labels: np.ndarray,
    *,
    max_swaps: int,
    salience: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Give small groups of distant colours a centre of their own, where that lowers
    the objective: Lloyd's iterations keep a local optimum in which a small, distinct
    colour (a ladybird's shell, a blue mark on a warm photo) shares a centre far from
    it, although moving one centre to it would cost less elsewhere than it saves.

    Each swap: the colours farther than ``DISTANT_RMS`` times the root-mean-square
    distance from their centre are distant; the heaviest of them (weight times squared
    distance) and the distant colours within that radius of it make a group whose
    weighted mean is the new centre. What it saves (the group's squared distances to
    their centres less those to the new one), times ``salience``, is weighed against the
    least costly merge of two centres (Ward's cost: ``w_a w_b / (w_a + w_b) |c_a -
    c_b|^2``); only when it weighs more are the two merged (their weighted mean) and
    the freed centre moved to the group. Every point then takes its nearest centre. Deterministic.

    Parameters
    ----------
    points : (n, d) float64 array
    weights : (n,) float64 array
    centers : (k, d) float64 array
    labels : (n,) int32 array
        Each point's nearest centre.
    max_swaps : int
    salience : float, optional
        Default :data:`SALIENCE`.
        1: swap only where the objective falls (the merge costs less than the group
        saves); more: small distinct groups count that many times their error.

    Returns
    -------
    centers : (k, d) float64 array
    labels : (n,) int32 array
        A new array when a swap was made, else the arguments.
    """

    salience = SALIENCE if salience is None else salience
    k = len(centers)
    if k < 2 or max_swaps < 1 or len(points) <= k:
        return centers, labels
    dist2 = ((points - centers[labels]) ** 2).sum(axis=1)
    # Products by einsum, in this thread: BLAS would leave its threads spinning on the
    # cores the compiled loops use next (as colorspace._transform says).
    for _ in range(max_swaps):
        total = float(weights.sum())
        radius2 = DISTANT_RMS**2 * float(np.einsum("i,i->", weights, dist2)) / total
        distant = np.flatnonzero(dist2 > radius2)
        if radius2 <= 0 or len(distant) == 0:
            break
        seed = distant[np.argmax(weights[distant] * dist2[distant])]
        group = distant[((points[distant] - points[seed]) ** 2).sum(axis=1) <= radius2]
        group_weights = weights[group]
        new_center = np.einsum("i,ij->j", group_weights, points[group]) / group_weights.sum()
        to_new = ((points[group] - new_center) ** 2).sum(axis=1)
        saving = float(np.einsum("i,i->", group_weights, np.maximum(dist2[group] - to_new, 0.0)))
        sizes = np.bincount(labels, weights=weights, minlength=k)
        between = ((centers[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            ward = np.outer(sizes, sizes) / (sizes[:, None] + sizes[None, :]) * between
        ward[np.isnan(ward)] = 0.0  # two empty centres merge for nothing
        np.fill_diagonal(ward, np.inf)
        a, b = np.unravel_index(int(np.argmin(ward)), ward.shape)
        if salience * saving <= ward[a, b]:
            break
        centers = centers.copy()
        both = sizes[a] + sizes[b]
        centers[a] = (
            (sizes[a] * centers[a] + sizes[b] * centers[b]) / both if both > 0 else centers[a]
        )
        centers[b] = new_center
        labels = labels.astype(np.int32, copy=True)
        dist2 = np.empty(len(points))
        assign(np.ascontiguousarray(points), np.ascontiguousarray(centers), labels, dist2)
    return centers, labels
