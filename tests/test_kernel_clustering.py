"""kpalette._kernels.clustering (assign, k-means++, the tree, Lloyd, grid means) against
their NumPy twins in reference.py."""

from __future__ import annotations

import numpy as np
import pytest

import reference
from kpalette._kernels import clustering, grid, nearest, seeding
from kpalette._kernels import tree as grid_tree


@pytest.mark.parametrize("k", [1, 2, 7, 64])
@pytest.mark.parametrize("d", [3, 4])
def test_assign_matches_brute_force(rng, k, d):
    points = rng.uniform(0, 255, size=(3000, d))
    centers = rng.uniform(0, 255, size=(k, d))
    labels = rng.integers(0, k, size=len(points)).astype(np.int32)  # any start guess
    dist2 = np.empty(len(points))
    nearest.assign(points, centers, labels, dist2)
    expected_labels, expected_d2 = reference.assign(points, centers)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(dist2, expected_d2, rtol=1e-12)


def test_assign_on_integer_colours_with_ties(rng):
    # Integer colours and integer centres produce exact ties; argmin takes the lowest index.
    points = rng.integers(0, 8, size=(2000, 3)).astype(np.float64)
    centers = np.array([[2, 2, 2], [4, 4, 4], [2, 2, 2], [0, 7, 0], [3, 3, 3]], dtype=np.float64)
    labels = np.full(len(points), 4, dtype=np.int32)
    dist2 = np.empty(len(points))
    nearest.assign(points, centers, labels, dist2)
    expected_labels, expected_d2 = reference.assign(points, centers)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_array_equal(dist2, expected_d2)


@pytest.mark.parametrize("k", [1, 5, 40])
@pytest.mark.parametrize("d", [3, 4])
def test_kmeans_plusplus_matches_reference(rng, k, d):
    points = rng.uniform(0, 255, size=(2000, d))
    weights = rng.integers(1, 30, size=len(points)).astype(np.float64)
    n_trials = 2 + int(np.log(k))
    uniforms = rng.random((1, 1 + (k - 1) * n_trials))
    tree = grid_tree.PointTree(points, weights)
    chosen = seeding.kmeans_plusplus(tree, k, n_trials, uniforms)[0]
    # The kernel draws along the tree's (Z-order) order of the points.
    order = tree.order
    expected = reference.kmeans_plusplus(points[order], weights[order], k, n_trials, uniforms[0])
    np.testing.assert_array_equal(chosen, order[expected])
    assert len(set(chosen.tolist())) == k  # distinct points give distinct centres


def test_kmeans_plusplus_runs_several_seedings_each_as_alone(rng):
    # Several rows of uniforms are seeded side by side (one thread each, scratch
    # reused across rows): each must equal the reference driven by its row alone.
    points = rng.uniform(0, 255, size=(3000, 3))
    weights = rng.integers(1, 30, size=len(points)).astype(np.float64)
    tree = grid_tree.PointTree(points, weights)
    uniforms = rng.random((5, 1 + 29 * 4))
    chosen = seeding.kmeans_plusplus(tree, 30, 4, uniforms)
    order = tree.order
    for row, seeds in zip(uniforms, chosen, strict=True):
        expected = reference.kmeans_plusplus(points[order], weights[order], 30, 4, row)
        np.testing.assert_array_equal(seeds, order[expected])
    with pytest.raises(ValueError, match="uniforms per seeding"):
        seeding.kmeans_plusplus(tree, 30, 4, np.ascontiguousarray(uniforms[:, :10]))


@pytest.mark.parametrize("d", [3, 4])
@pytest.mark.parametrize("n_fixed", [1, 2])
def test_kmeans_plusplus_around_fixed_centres_matches_reference(rng, d, n_fixed):
    points = rng.uniform(0, 255, size=(2000, d))
    weights = rng.integers(1, 30, size=len(points)).astype(np.float64)
    fixed = rng.uniform(0, 255, size=(n_fixed, d))
    fixed[0] = 0.0  # a transparent entry: not one of the points
    uniforms = rng.random((3, 12 * 3))
    tree = grid_tree.PointTree(points, weights)
    chosen = seeding.kmeans_plusplus(tree, 12, 3, uniforms, fixed)
    order = tree.order
    for row, seeds in zip(uniforms, chosen, strict=True):
        expected = reference.kmeans_plusplus(points[order], weights[order], 12, 3, row, fixed)
        np.testing.assert_array_equal(seeds, order[expected])
    with pytest.raises(ValueError, match="36 uniforms per seeding"):
        seeding.kmeans_plusplus(tree, 12, 3, np.ascontiguousarray(uniforms[:, :34]), fixed)
    with pytest.raises(ValueError, match="fixed centres need"):
        seeding.kmeans_plusplus(tree, 12, 3, uniforms, np.zeros((1, d + 1)))


def test_kmeans_plusplus_on_repeated_colours_matches_reference(rng):
    # Integer colours in a small cube: many points share coordinates, so the
    # potentials of some candidates tie exactly, and by the end most points sit
    # on a centre (zero share of the draws).
    points = rng.integers(0, 6, size=(3000, 3)).astype(np.float64)
    weights = rng.integers(1, 5, size=len(points)).astype(np.float64)
    tree = grid_tree.PointTree(points, weights)
    uniforms = rng.random((1, 1 + 99 * 6))
    chosen = seeding.kmeans_plusplus(tree, 100, 6, uniforms)[0]
    order = tree.order
    expected = reference.kmeans_plusplus(points[order], weights[order], 100, 6, uniforms[0])
    np.testing.assert_array_equal(chosen, order[expected])


@pytest.mark.parametrize("d", [1, 3, 4])
def test_rows_sorted_in_place_equal_fancy_indexing(rng, d):
    points = rng.normal(size=(1000, d))
    weights = rng.random(len(points))
    order = np.concatenate([np.arange(10), 10 + rng.permutation(len(points) - 10)])  # 10 fixed
    sorted_points, sorted_weights = points.copy(), weights.copy()
    grid_tree._sort_in_place(sorted_points, sorted_weights, order)
    np.testing.assert_array_equal(sorted_points, points[order])
    np.testing.assert_array_equal(sorted_weights, weights[order])
    with pytest.raises(ValueError, match="expected 1000 weights and indices, got 1000 and 999"):
        grid_tree._sort_in_place(sorted_points, sorted_weights, order[:-1])
    with pytest.raises(ValueError, match="not a permutation"):
        grid_tree._sort_in_place(sorted_points, sorted_weights, np.zeros(len(points), np.int64))


@pytest.mark.parametrize("d", [3, 4])
def test_tree_built_in_place_is_the_same_tree_with_no_copy(rng, d):
    points = rng.integers(0, 256, size=(5000, d)).astype(np.float64)
    weights = rng.integers(1, 30, size=len(points)).astype(np.float64)
    copied = grid_tree.PointTree(points, weights)
    sorted_points, sorted_weights = points.copy(), weights.copy()
    in_place = grid_tree.PointTree(sorted_points, sorted_weights, in_place=True)
    assert in_place.in_place and not copied.in_place
    assert in_place.points is sorted_points and in_place.weights is sorted_weights
    for name in ("order", "points", "weights", "start", "stop", "low", "high", "sum", "total"):
        np.testing.assert_array_equal(getattr(in_place, name), getattr(copied, name))
    # Lloyd on either gives the labels of the rows as first given.
    runs = []
    for tree, rows, row_weights in (
        (copied, points, weights),
        (in_place, sorted_points, sorted_weights),
    ):
        centers = points[:12].copy()
        labels, dist2 = np.empty(len(points), np.int32), np.empty(len(points))
        n_iter = clustering.lloyd(rows, row_weights, centers, labels, dist2, 50, 0.0, tree)
        runs.append((n_iter, centers, labels, dist2))
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)
    points.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        grid_tree.PointTree(points, weights, in_place=True)


@pytest.mark.parametrize("d", [3, 4])
@pytest.mark.parametrize("tol", [0.0, 1e-3])
@pytest.mark.parametrize("overrelaxation, energy_tol", [(1.0, 0.0), (1.9, 0.0), (1.9, 1e-4)])
def test_lloyd_matches_the_step_by_step_reference(rng, d, tol, overrelaxation, energy_tol):
    # Clumps plus one start centre far from every point: its cluster is empty at
    # once and must take the farthest point, as in the reference.
    blobs = rng.uniform(20, 235, size=(6, d))
    points = np.vstack([blob + rng.normal(0, 9, size=(400, d)) for blob in blobs])
    points = np.rint(np.clip(points, 0, 255))
    weights = rng.integers(1, 40, size=len(points)).astype(np.float64)
    start = np.vstack([points[rng.choice(len(points), 9, replace=False)], np.full(d, 1e4)])
    centers = start.copy()
    labels = np.zeros(len(points), dtype=np.int32)
    dist2 = np.empty(len(points))
    n_iter = clustering.lloyd(
        points, weights, centers, labels, dist2, 300, tol, None, overrelaxation, energy_tol
    )
    ref_centers, ref_labels, ref_dist2, ref_iter = reference.lloyd_weighted(
        points, weights, start, tol=tol, overrelaxation=overrelaxation, energy_tol=energy_tol
    )
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(centers, ref_centers, rtol=1e-9)
    np.testing.assert_allclose(dist2, ref_dist2, rtol=1e-9, atol=1e-9)
    assert n_iter == ref_iter
    assert (np.bincount(labels, minlength=10) > 0).all()  # the empty cluster was filled


@pytest.mark.parametrize("d", [3, 4])
@pytest.mark.parametrize("energy_tol", [0.0, 1e-4])
def test_overrelaxed_lloyd_rejects_steps_as_the_reference_does(rng, d, energy_tol):
    # A diffuse cloud and a long step (beta = 3): some steps raise the energy and must
    # be replaced by the plain step, at the same iterations as in the reference.
    points = np.rint(np.clip(rng.normal(128, 50, size=(2000, d)), 0, 255))
    weights = rng.integers(1, 40, size=len(points)).astype(np.float64)
    start = points[rng.choice(len(points), 16, replace=False)]
    centers = start.copy()
    labels = np.zeros(len(points), dtype=np.int32)
    dist2 = np.empty(len(points))
    n_iter = clustering.lloyd(
        points, weights, centers, labels, dist2, 300, 0.0, None, 3.0, energy_tol
    )
    rejected = []
    ref_centers, ref_labels, _, ref_iter = reference.lloyd_weighted(
        points, weights, start, overrelaxation=3.0, energy_tol=energy_tol, rejected=rejected
    )
    assert rejected  # the case this test is about
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(centers, ref_centers, rtol=1e-9)
    assert n_iter == ref_iter
    if energy_tol == 0.0:  # run to a fixed point: the centres are their clusters' means
        sums, totals = reference.weighted_sums(points, weights, labels, 16)
        np.testing.assert_allclose(centers, sums / totals[:, None], rtol=1e-9)


@pytest.mark.parametrize("max_iter", [1, 2, 3, 5, 8, 13])
def test_overrelaxed_lloyd_cut_short_matches_the_reference(rng, max_iter):
    # The step at max_iter is plain: its result is never left untested.
    points = np.rint(np.clip(rng.normal(128, 50, size=(1500, 3)), 0, 255))
    weights = rng.integers(1, 40, size=len(points)).astype(np.float64)
    start = points[rng.choice(len(points), 12, replace=False)]
    centers = start.copy()
    labels = np.zeros(len(points), dtype=np.int32)
    dist2 = np.empty(len(points))
    n_iter = clustering.lloyd(points, weights, centers, labels, dist2, max_iter, 0.0, None, 3.0)
    ref_centers, ref_labels, _, ref_iter = reference.lloyd_weighted(
        points, weights, start, max_iter=max_iter, overrelaxation=3.0
    )
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(centers, ref_centers, rtol=1e-9)
    assert n_iter == ref_iter == max_iter


@pytest.mark.parametrize("overrelaxation", [1.0, 1.9])
def test_lloyd_keeps_fixed_centres_in_place_as_the_reference_does(rng, overrelaxation):
    # Centre 0 is held at the origin, where some points are; centre 1 is held far
    # from every point, so its cluster is empty and must stay so (not refilled).
    points = np.rint(np.clip(rng.normal(60, 40, size=(1500, 4)), 0, 255))
    points[:50] = 0.0
    weights = rng.integers(1, 40, size=len(points)).astype(np.float64)
    start = np.vstack([np.zeros(4), np.full(4, 1e4), points[rng.choice(len(points), 8)]])
    centers = start.copy()
    labels = np.zeros(len(points), dtype=np.int32)
    dist2 = np.empty(len(points))
    n_iter = clustering.lloyd(
        points, weights, centers, labels, dist2, 300, 0.0, None, overrelaxation, 0.0, 2
    )
    ref_centers, ref_labels, _, ref_iter = reference.lloyd_weighted(
        points, weights, start, overrelaxation=overrelaxation, n_fixed=2
    )
    np.testing.assert_array_equal(centers[:2], start[:2])
    assert (labels[:50] == 0).all() and not (labels == 1).any()
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(centers, ref_centers, rtol=1e-9)
    assert n_iter == ref_iter
    with pytest.raises(ValueError, match="n_fixed must be in 0..10"):
        clustering.lloyd(points, weights, centers, labels, dist2, 3, 0.0, None, 1.0, 0.0, 11)


def test_lloyd_refuses_an_overrelaxation_below_one():
    points = np.zeros((3, 3))
    with pytest.raises(ValueError, match="overrelaxation must be at least 1, got 0.5"):
        clustering.lloyd(
            points,
            np.ones(3),
            points[:1].copy(),
            np.zeros(3, np.int32),
            np.empty(3),
            5,
            0.0,
            None,
            0.5,
        )


def test_lloyd_handles_one_point_one_centre_and_duplicates():
    points = np.array([[5.0, 5.0, 5.0]])
    centers = np.array([[0.0, 0.0, 0.0]])
    labels = np.zeros(1, dtype=np.int32)
    dist2 = np.empty(1)
    clustering.lloyd(points, np.ones(1), centers, labels, dist2, 10, 0.0)
    np.testing.assert_array_equal(centers, points)
    assert dist2[0] == 0.0
    # Every point on one colour: all centres but one stay empty until relocated.
    same = np.full((50, 3), 7.0)
    centers = np.array([[7.0, 7.0, 7.0], [9.0, 9.0, 9.0]])
    labels = np.zeros(50, dtype=np.int32)
    dist2 = np.empty(50)
    clustering.lloyd(same, np.ones(50), centers, labels, dist2, 10, 0.0)
    assert np.isfinite(centers).all() and (dist2 == 0).all()


@pytest.mark.parametrize(
    ("d", "cells_per_axis"),
    # the table of all cells (3-d, 4-d), and the hash of occupied ones (over 4M cells)
    [(3, 8), (4, 32), (2, 3000), (4, 64), (1, 5)],
)
def test_grid_means_matches_numpy(rng, d, cells_per_axis):
    points = rng.uniform(0, 255, size=(5000, d))
    points[::7] = points[1::7][: len(points[::7])]  # shared cells
    weights = rng.integers(1, 9, size=len(points)).astype(np.float64)
    means, totals, cell_of_point = grid.grid_means(points, weights, cells_per_axis)
    expected_means, expected_totals, inverse = reference.grid_means(points, weights, cells_per_axis)
    np.testing.assert_array_equal(cell_of_point, inverse)
    np.testing.assert_allclose(totals, expected_totals, rtol=1e-12)
    np.testing.assert_allclose(means, expected_means, rtol=1e-12)


def test_grid_means_edge_cases():
    means, totals, cells = grid.grid_means(np.zeros((0, 4)), np.zeros(0), 32)
    assert means.shape == (0, 4) and totals.shape == (0,) and cells.shape == (0,)
    # One repeated point: one cell holding it all.
    means, totals, cells = grid.grid_means(np.full((3, 4), 9.0), np.ones(3), 64)
    np.testing.assert_array_equal(means, [[9.0] * 4])
    np.testing.assert_array_equal(totals, [3.0])
    np.testing.assert_array_equal(cells, [0, 0, 0])
    with pytest.raises(ValueError, match="1 to 8 dimensions, got 9"):
        grid.grid_means(np.zeros((2, 9)), np.ones(2), 4)
    with pytest.raises(ValueError, match="too many"):
        grid.grid_means(np.zeros((2, 8)), np.ones(2), 1 << 10)


def test_assign_past_the_centre_table_compares_every_centre(rng):
    points = rng.uniform(0, 255, size=(2000, 3))
    centers = rng.uniform(0, 255, size=(5000, 3))  # above ASSIGN_TABLE_MAX
    labels = rng.integers(0, 5000, size=len(points)).astype(np.int32)
    dist2 = np.empty(len(points))
    nearest.assign(points, centers, labels, dist2)
    expected_labels, expected_d2 = reference.assign(points, centers)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(dist2, expected_d2, rtol=1e-12)
