"""Weighted K-means (kpalette.kmeans): the histogram path against per-pixel Lloyd, and
sorting in place against copying."""

from __future__ import annotations

import numpy as np
import pytest

import reference
from kpalette.colorspace import to_space
from kpalette.histogram import color_histogram, labels_for_pixels
from kpalette.kmeans import lloyd


@pytest.mark.parametrize("color_space", ["rgb", "lab", "oklab"])
def test_histogram_path_equals_per_pixel_lloyd(small_photo, rng, color_space):
    pixels = small_photo.reshape(-1, 3)
    points = to_space(pixels, color_space)
    start = points[rng.choice(len(pixels), size=8, replace=False)]
    hist = color_histogram(pixels)
    centers, color_labels, inertia, _ = lloyd(
        to_space(hist.colors, color_space), hist.counts.astype(np.float64), start, tol=0.0
    )
    ref_centers, ref_labels, ref_inertia = reference.lloyd_pixels(points, start)
    np.testing.assert_array_equal(labels_for_pixels(pixels, hist, color_labels), ref_labels)
    np.testing.assert_allclose(centers, ref_centers, rtol=1e-9)
    assert inertia == pytest.approx(ref_inertia, rel=1e-9)


@pytest.mark.parametrize("k", [4, 16])
def test_sorting_in_place_gives_the_same_fit(rng, monkeypatch, k):
    from kpalette import kmeans
    from kpalette.kmeans import kmeans_weighted

    points = np.clip(rng.normal(128, 30, size=(60_000, 3)).round(), 0, 255)
    weights = rng.integers(1, 20, size=len(points)).astype(np.float64)
    kept = points.copy(), weights.copy()
    built, real_tree = [], kmeans.PointTree

    def recording_tree(*args, **kwargs):
        built.append(kwargs.get("in_place", False))
        return real_tree(*args, **kwargs)

    monkeypatch.setattr(kmeans, "PointTree", recording_tree)
    copied = kmeans_weighted(points, weights, k, rng=3)
    in_place = kmeans_weighted(points, weights, k, rng=3, sort_in_place=True)
    assert built == [False, False, False, True]  # coarse grid, full data; twice
    np.testing.assert_array_equal(copied[0], in_place[0])  # centres
    np.testing.assert_array_equal(copied[1], in_place[1])  # labels
    assert copied[2] == pytest.approx(in_place[2], rel=1e-12)  # summed in another order
    assert copied[3] == in_place[3]
    # The rows came back reordered, each point still with its weight.
    assert not np.array_equal(points, kept[0])
    rows, kept_rows = np.column_stack([points, weights]), np.column_stack(kept)
    np.testing.assert_array_equal(rows[np.lexsort(rows.T)], kept_rows[np.lexsort(kept_rows.T)])


def _blobs_and_a_distant_few(rng):
    """Three heavy blobs side by side and a light group far from them."""
    centres = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [20, 0, 0]])
    points = np.vstack([c + rng.normal(0, 0.1, (50, 3)) for c in centres])
    weights = np.concatenate([np.full(150, 20.0), np.full(50, 0.2)])  # 1000 each, 10
    return points, weights


def test_swap_in_distant_gives_a_distant_group_its_centre_and_lowers_the_objective(rng):
    from kpalette._kernels.nearest import assign

    from kpalette.salient import swap_in_distant

    points, weights = _blobs_and_a_distant_few(rng)
    centers = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    labels = np.zeros(len(points), np.int32)
    assign(points, centers, labels, np.empty(len(points)))

    def objective(c, assigned):
        return float(weights @ ((points - c[assigned]) ** 2).sum(axis=1))

    new_centers, new_labels = swap_in_distant(
        points, weights, centers, labels, max_swaps=2, salience=1.0
    )
    assert np.abs(new_centers[:, 0] - 20).min() < 0.1  # the far group has its centre
    assert (new_labels[150:] == np.argmin(np.abs(new_centers[:, 0] - 20))).all()
    assert objective(new_centers, new_labels) < objective(centers, labels)
    d2 = ((points[:, None] - new_centers[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(new_labels, d2.argmin(axis=1))  # each its nearest
    # Without distant colours, or with salience 0, nothing changes.
    same = swap_in_distant(points, weights, centers, labels, max_swaps=2, salience=0.0)
    assert same[0] is centers and same[1] is labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_swap_in_distant_at_salience_one_never_raises_the_objective(seed):
    from kpalette._kernels.nearest import assign

    from kpalette.salient import swap_in_distant

    rng = np.random.default_rng(seed)
    points = rng.standard_t(2, size=(400, 3))  # heavy tails: distant points
    weights = rng.uniform(0.5, 2, 400)
    centers = points[rng.choice(400, 6, replace=False)].copy()
    labels = np.zeros(400, np.int32)
    assign(points, centers, labels, np.empty(400))
    before = float(weights @ ((points - centers[labels]) ** 2).sum(axis=1))
    new_centers, new_labels = swap_in_distant(
        points, weights, centers, labels, max_swaps=3, salience=1.0
    )
    after = float(weights @ ((points - new_centers[new_labels]) ** 2).sum(axis=1))
    assert after <= before + 1e-9
