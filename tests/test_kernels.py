"""The compiled kernels against their plain NumPy twins in reference.py."""

from __future__ import annotations

import numpy as np
import pytest

import reference
from kpalette._kernels import clustering, dithering, measures, png_filters
from kpalette._kernels import labels as label_maps


@pytest.mark.parametrize("k", [1, 2, 7, 64])
@pytest.mark.parametrize("d", [3, 4])
def test_assign_matches_brute_force(rng, k, d):
    points = rng.uniform(0, 255, size=(3000, d))
    centers = rng.uniform(0, 255, size=(k, d))
    labels = rng.integers(0, k, size=len(points)).astype(np.int32)  # any start guess
    dist2 = np.empty(len(points))
    clustering.assign(points, centers, labels, dist2)
    expected_labels, expected_d2 = reference.assign(points, centers)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(dist2, expected_d2, rtol=1e-12)


def test_assign_on_integer_colours_with_ties(rng):
    # Integer colours and integer centres produce exact ties; argmin takes the lowest index.
    points = rng.integers(0, 8, size=(2000, 3)).astype(np.float64)
    centers = np.array([[2, 2, 2], [4, 4, 4], [2, 2, 2], [0, 7, 0], [3, 3, 3]], dtype=np.float64)
    labels = np.full(len(points), 4, dtype=np.int32)
    dist2 = np.empty(len(points))
    clustering.assign(points, centers, labels, dist2)
    expected_labels, expected_d2 = reference.assign(points, centers)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_array_equal(dist2, expected_d2)


def _count_rgb(pixels, skip_transparent=False):
    """``label_maps.count_rgb`` (the count the lookups below are built on)."""
    return label_maps.count_rgb(pixels, skip_transparent)


def test_count_and_lookup_rgb(rng):
    pixels = rng.integers(0, 6, size=(5000, 3)).astype(np.uint8) * 40
    found, found_counts = _count_rgb(pixels)
    codes = (
        (pixels[:, 0].astype(np.int64) << 16) | (pixels[:, 1].astype(np.int64) << 8) | pixels[:, 2]
    )
    unique, counts = np.unique(codes, return_counts=True)
    np.testing.assert_array_equal(found, unique)
    np.testing.assert_array_equal(found_counts, counts)
    labels = (np.arange(len(unique)) * 3 + 1).astype(np.int32)
    out = np.empty(len(pixels), dtype=np.int32)
    label_maps.lookup_rgb(pixels, unique, labels, out)
    np.testing.assert_array_equal(out, labels[np.searchsorted(unique, codes)])
    small = np.empty(len(pixels), dtype=np.uint8)
    label_maps.lookup_rgb(pixels, unique, (labels % 256).astype(np.uint8), small)
    np.testing.assert_array_equal(small, labels[np.searchsorted(unique, codes)] % 256)


def test_lookup_rgb_over_many_colour_pairs_in_any_order(rng):
    # Colours over thousands of (red, green) pairs, the codes given unsorted: each
    # pixel gets its colour's label through the two-level table.
    pixels = rng.integers(0, 256, size=(60_000, 3)).astype(np.uint8)
    codes = (
        (pixels[:, 0].astype(np.int64) << 16) | (pixels[:, 1].astype(np.int64) << 8) | pixels[:, 2]
    )
    unique = rng.permutation(np.unique(codes))
    labels = rng.integers(0, 70_000, size=len(unique)).astype(np.int32)
    out = np.empty(len(pixels), dtype=np.int32)
    label_maps.lookup_rgb(pixels, unique, labels, out)
    expected = dict(zip(unique.tolist(), labels.tolist(), strict=True))
    np.testing.assert_array_equal(out, [expected[code] for code in codes.tolist()])
    with pytest.raises(ValueError, match="expected 5 labels, one per code, got 4"):
        label_maps.lookup_rgb(pixels, unique[:5], labels[:4], out)


def test_lookup_rgba_equals_a_search_of_the_sorted_codes(rng):
    # Few red/green pairs (crowded buckets) plus the extremes of the code range.
    pixels = rng.integers(0, 256, size=(20000, 4)).astype(np.uint8)
    pixels[:15000, :2] = rng.integers(0, 3, size=(15000, 2)) * 127
    pixels[0], pixels[1] = 0, 255
    codes = np.zeros(len(pixels), dtype=np.int64)
    for channel in range(4):
        codes = (codes << 8) | pixels[:, channel]
    unique = np.unique(codes)
    labels = (np.arange(len(unique)) * 7 + 3).astype(np.int32)
    expected = labels[np.searchsorted(unique, codes)]
    for bucket_bits in (0, 16, 24):  # 0: 16 for this few colours
        out = np.empty(len(pixels), dtype=np.int32)
        label_maps.lookup_rgba(pixels, unique, labels, out, -1, bucket_bits)
        np.testing.assert_array_equal(out, expected)
        small = np.empty(len(pixels), dtype=np.uint8)
        label_maps.lookup_rgba(
            pixels, unique, (labels % 256).astype(np.uint8), small, -1, bucket_bits
        )
        np.testing.assert_array_equal(small, expected % 256)
    with pytest.raises(ValueError, match="bucket_bits must be 0, 16 or 24, got 8"):
        label_maps.lookup_rgba(pixels, unique, labels, out, -1, 8)


@pytest.mark.parametrize("bucket_bits", [16, 24])
def test_lookup_rgba_reuses_a_label_only_for_the_same_colour(rng, bucket_bits):
    # Runs of one colour (a left neighbour's label is reused) across the blocks the
    # pixels are split into, broken by transparent pixels of any colour and by
    # colours that differ from the run's in alpha alone.
    palette = rng.integers(0, 256, size=(300, 4)).astype(np.uint8)
    palette[:, 3] |= 1
    palette[1::2] = palette[::2]
    palette[1::2, 3] ^= 2  # pairs that differ in the lowest bits of the code
    runs = rng.integers(0, 300, size=30_000)
    pixels = palette[np.repeat(runs, rng.integers(1, 12, size=len(runs)))]
    transparent = rng.random(len(pixels)) < 0.05
    pixels[transparent, 3] = 0
    pixels = np.ascontiguousarray(pixels)
    assert len(pixels) > 2 * 65536
    codes = np.zeros(len(pixels), dtype=np.int64)
    for channel in range(4):
        codes = (codes << 8) | pixels[:, channel]
    unique = np.unique(codes[~transparent])
    labels = rng.permutation(len(unique)).astype(np.int32)
    expected = np.full(len(pixels), 1000, dtype=np.int32)
    expected[~transparent] = labels[np.searchsorted(unique, codes[~transparent])]
    out = np.empty(len(pixels), dtype=np.int32)
    label_maps.lookup_rgba(pixels, unique, labels, out, 1000, bucket_bits)
    np.testing.assert_array_equal(out, expected)


def test_count_and_lookup_read_rgb_from_rgba_and_skip_transparent_pixels(rng):
    # Counted where they are, with no copy: the first three channels of RGBA pixels,
    # with or without those whose alpha is 0; the lookups give those a label of their own.
    rgba = rng.integers(0, 4, size=(30000, 4)).astype(np.uint8) * 85
    rgba[::7, 3] = 0  # transparent, colours of all sorts
    visible = rgba[:, 3] != 0
    rgb_codes = _count_rgb(np.ascontiguousarray(rgba[:, :3]))
    for got, expected in zip(_count_rgb(rgba), rgb_codes, strict=True):
        np.testing.assert_array_equal(got, expected)
    unique, counts = _count_rgb(np.ascontiguousarray(rgba[visible, :3]))
    for got, expected in zip(_count_rgb(rgba, True), (unique, counts), strict=True):
        np.testing.assert_array_equal(got, expected)
    codes = (rgba[:, 0].astype(np.int64) << 16) | (rgba[:, 1].astype(np.int64) << 8) | rgba[:, 2]
    labels = (np.arange(len(unique)) * 5 % 251).astype(np.uint8)
    out = np.empty(len(rgba), dtype=np.uint8)
    label_maps.lookup_rgb(rgba, unique, labels, out, 255)
    np.testing.assert_array_equal(out[visible], labels[np.searchsorted(unique, codes[visible])])
    assert (out[~visible] == 255).all()

    rgba_codes = (codes << 8) | rgba[:, 3]
    unique_rgba = np.unique(rgba_codes[visible])
    labels = (np.arange(len(unique_rgba)) * 3 + 1).astype(np.int32)
    out = np.empty(len(rgba), dtype=np.int32)
    expected = labels[np.searchsorted(unique_rgba, rgba_codes[visible])]
    for bucket_bits in (16, 24):
        out = np.empty(len(rgba), dtype=np.int32)
        label_maps.lookup_rgba(rgba, unique_rgba, labels, out, 100_000, bucket_bits)
        np.testing.assert_array_equal(out[visible], expected)
        assert (out[~visible] == 100_000).all()

    rgb = np.ascontiguousarray(rgba[:, :3])
    with pytest.raises(ValueError, match="needs an alpha channel"):
        _count_rgb(rgb, True)
    with pytest.raises(ValueError, match="needs an alpha channel"):
        label_maps.lookup_rgb(rgb, unique, labels, out, 0)
    with pytest.raises(ValueError, match="expected 4 channels, got 3"):
        label_maps.lookup_rgba(rgb, unique_rgba, labels, out)


@pytest.mark.parametrize("k", [1, 5, 40])
@pytest.mark.parametrize("d", [3, 4])
def test_kmeans_plusplus_matches_reference(rng, k, d):
    points = rng.uniform(0, 255, size=(2000, d))
    weights = rng.integers(1, 30, size=len(points)).astype(np.float64)
    n_trials = 2 + int(np.log(k))
    uniforms = rng.random((1, 1 + (k - 1) * n_trials))
    tree = clustering.PointTree(points, weights)
    chosen = clustering.kmeans_plusplus(tree, k, n_trials, uniforms)[0]
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
    tree = clustering.PointTree(points, weights)
    uniforms = rng.random((5, 1 + 29 * 4))
    chosen = clustering.kmeans_plusplus(tree, 30, 4, uniforms)
    order = tree.order
    for row, seeds in zip(uniforms, chosen, strict=True):
        expected = reference.kmeans_plusplus(points[order], weights[order], 30, 4, row)
        np.testing.assert_array_equal(seeds, order[expected])
    with pytest.raises(ValueError, match="uniforms per seeding"):
        clustering.kmeans_plusplus(tree, 30, 4, np.ascontiguousarray(uniforms[:, :10]))


@pytest.mark.parametrize("d", [3, 4])
@pytest.mark.parametrize("n_fixed", [1, 2])
def test_kmeans_plusplus_around_fixed_centres_matches_reference(rng, d, n_fixed):
    points = rng.uniform(0, 255, size=(2000, d))
    weights = rng.integers(1, 30, size=len(points)).astype(np.float64)
    fixed = rng.uniform(0, 255, size=(n_fixed, d))
    fixed[0] = 0.0  # a transparent entry: not one of the points
    uniforms = rng.random((3, 12 * 3))
    tree = clustering.PointTree(points, weights)
    chosen = clustering.kmeans_plusplus(tree, 12, 3, uniforms, fixed)
    order = tree.order
    for row, seeds in zip(uniforms, chosen, strict=True):
        expected = reference.kmeans_plusplus(points[order], weights[order], 12, 3, row, fixed)
        np.testing.assert_array_equal(seeds, order[expected])
    with pytest.raises(ValueError, match="36 uniforms per seeding"):
        clustering.kmeans_plusplus(tree, 12, 3, np.ascontiguousarray(uniforms[:, :34]), fixed)
    with pytest.raises(ValueError, match="fixed centres need"):
        clustering.kmeans_plusplus(tree, 12, 3, uniforms, np.zeros((1, d + 1)))


def test_kmeans_plusplus_on_repeated_colours_matches_reference(rng):
    # Integer colours in a small cube: many points share coordinates, so the
    # potentials of some candidates tie exactly, and by the end most points sit
    # on a centre (zero share of the draws).
    points = rng.integers(0, 6, size=(3000, 3)).astype(np.float64)
    weights = rng.integers(1, 5, size=len(points)).astype(np.float64)
    tree = clustering.PointTree(points, weights)
    uniforms = rng.random((1, 1 + 99 * 6))
    chosen = clustering.kmeans_plusplus(tree, 100, 6, uniforms)[0]
    order = tree.order
    expected = reference.kmeans_plusplus(points[order], weights[order], 100, 6, uniforms[0])
    np.testing.assert_array_equal(chosen, order[expected])


@pytest.mark.parametrize("d", [1, 3, 4])
def test_rows_sorted_in_place_equal_fancy_indexing(rng, d):
    points = rng.normal(size=(1000, d))
    weights = rng.random(len(points))
    order = np.concatenate([np.arange(10), 10 + rng.permutation(len(points) - 10)])  # 10 fixed
    sorted_points, sorted_weights = points.copy(), weights.copy()
    clustering._sort_in_place(sorted_points, sorted_weights, order)
    np.testing.assert_array_equal(sorted_points, points[order])
    np.testing.assert_array_equal(sorted_weights, weights[order])
    with pytest.raises(ValueError, match="expected 1000 weights and indices, got 1000 and 999"):
        clustering._sort_in_place(sorted_points, sorted_weights, order[:-1])
    with pytest.raises(ValueError, match="not a permutation"):
        clustering._sort_in_place(sorted_points, sorted_weights, np.zeros(len(points), np.int64))


@pytest.mark.parametrize("d", [3, 4])
def test_tree_built_in_place_is_the_same_tree_with_no_copy(rng, d):
    points = rng.integers(0, 256, size=(5000, d)).astype(np.float64)
    weights = rng.integers(1, 30, size=len(points)).astype(np.float64)
    copied = clustering.PointTree(points, weights)
    sorted_points, sorted_weights = points.copy(), weights.copy()
    in_place = clustering.PointTree(sorted_points, sorted_weights, in_place=True)
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
        clustering.PointTree(points, weights, in_place=True)


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
    means, totals, cell_of_point = clustering.grid_means(points, weights, cells_per_axis)
    expected_means, expected_totals, inverse = reference.grid_means(points, weights, cells_per_axis)
    np.testing.assert_array_equal(cell_of_point, inverse)
    np.testing.assert_allclose(totals, expected_totals, rtol=1e-12)
    np.testing.assert_allclose(means, expected_means, rtol=1e-12)


def test_grid_means_edge_cases():
    means, totals, cells = clustering.grid_means(np.zeros((0, 4)), np.zeros(0), 32)
    assert means.shape == (0, 4) and totals.shape == (0,) and cells.shape == (0,)
    # One repeated point: one cell holding it all.
    means, totals, cells = clustering.grid_means(np.full((3, 4), 9.0), np.ones(3), 64)
    np.testing.assert_array_equal(means, [[9.0] * 4])
    np.testing.assert_array_equal(totals, [3.0])
    np.testing.assert_array_equal(cells, [0, 0, 0])
    with pytest.raises(ValueError, match="1 to 8 dimensions, got 9"):
        clustering.grid_means(np.zeros((2, 9)), np.ones(2), 4)
    with pytest.raises(ValueError, match="too many"):
        clustering.grid_means(np.zeros((2, 8)), np.ones(2), 1 << 10)


@pytest.mark.parametrize(
    ("shape", "premultiply"),
    # the smallest image, heights around a band of rows, one channel, RGBA both ways
    [
        ((7, 7, 3), False),
        ((8, 13, 3), False),
        ((6 + 32, 9, 3), False),
        ((6 + 32 + 1, 40, 3), False),
        ((101, 23, 1), False),
        ((75, 30, 4), False),
        ((75, 30, 4), True),
    ],
)
def test_ssim_sums_match_the_reference_map(rng, shape, premultiply):
    image_a = rng.integers(0, 256, size=shape, dtype=np.uint8)
    noise = rng.integers(-40, 41, size=shape)
    image_b = np.clip(image_a.astype(int) + noise, 0, 255).astype(np.uint8)
    image_b[: shape[0] // 2, : shape[1] // 2] = 17  # flat patches: zero variance
    expected = reference.ssim_map(image_a, image_b, premultiply)
    band_rows = measures.SSIM_BAND_ROWS
    expected_sums = np.stack(
        [
            expected[start : start + band_rows].sum(axis=(0, 1))
            for start in range(0, len(expected), band_rows)
        ]
    )
    sums = measures.ssim_sums(image_a, image_b, premultiply)
    np.testing.assert_allclose(sums, expected_sums, rtol=1e-12, atol=1e-12)


def test_ssim_sums_refuse_bad_shapes():
    small = np.zeros((6, 9, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="at least 7 x 7"):
        measures.ssim_sums(small, small, False)
    with pytest.raises(ValueError, match="same shape"):
        measures.ssim_sums(np.zeros((9, 9, 3), np.uint8), np.zeros((9, 10, 3), np.uint8), False)
    with pytest.raises(ValueError, match="4 channels"):
        measures.ssim_sums(np.zeros((9, 9, 3), np.uint8), np.zeros((9, 9, 3), np.uint8), True)


def test_kernels_are_compiled_ahead_of_time_and_nothing_compiles_at_run_time(tmp_path):
    """Compiled once (at install); later processes only load it.

    A fresh process that runs every kernel imports no JIT or compiler and writes
    nothing next to the package.
    """
    import importlib.machinery
    import os
    import subprocess
    import sys
    from pathlib import Path

    assert clustering.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    package = Path(clustering.__file__).parent.parent
    before = sorted(str(p) for p in package.rglob("*"))
    workload = (
        "import sys, numpy as np, kpalette\n"
        "rng = np.random.default_rng(0)\n"
        "rgb = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)\n"
        "rgba = np.dstack([rgb, np.where(rng.random((40, 50)) < 0.2, 0, 255)]).astype(np.uint8)\n"
        "for image in (rgb, rgba):\n"
        "    for dither in (False, True):\n"
        "        kpalette.quantize(image, 6, dither=dither).mse\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numba', 'llvmlite', 'Cython', 'pyximport')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", workload],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
        cwd=tmp_path,
    )
    assert done.stdout.strip() == "[]", done.stdout
    assert sorted(str(p) for p in package.rglob("*")) == before


@pytest.mark.slow
def test_results_do_not_depend_on_the_number_of_threads(tmp_path):
    """The parallel kernels split work into fixed parts and add them in a fixed order."""
    import os
    import subprocess
    import sys

    workload = (
        "import hashlib, numpy as np, kpalette\n"
        "rng = np.random.default_rng(1)\n"
        "blobs = rng.uniform(0, 255, (12, 3))\n"
        # over 3 * 65536 pixels: the histogram's count splits them between threads
        "pixels = blobs[rng.integers(0, 12, 240000)] + rng.normal(0, 14, (240000, 3))\n"
        "image = np.clip(np.rint(pixels), 0, 255).astype(np.uint8).reshape(400, 600, 3)\n"
        "digest = hashlib.sha256()\n"
        "for k in (5, 40, 200):\n"
        "    result = kpalette.quantize(image, k, seed=2, dither=k == 40)\n"
        "    digest.update(result.palette.tobytes() + result.to_array().tobytes())\n"
        "    digest.update(np.float64([result.ssim, result.mse, result.delta_e]).tobytes())\n"
        "print(digest.hexdigest())\n"
    )
    digests = {
        threads: subprocess.run(
            [sys.executable, "-c", workload],
            capture_output=True,
            text=True,
            check=True,
            env=dict(os.environ, OMP_NUM_THREADS=str(threads)),
            cwd=tmp_path,
        ).stdout.strip()
        for threads in (1, 2, 3)
    }
    assert len(digests[1]) == 64
    assert digests[1] == digests[2] == digests[3]


def test_lab_of_linear_matches_numpy(rng):
    from kpalette import colorspace

    # Random values, both sides of the curve's threshold, black and white.
    linear = np.vstack([rng.uniform(0, 1, (4000, 3)), rng.uniform(0, 0.01, (1000, 3))])
    linear = np.vstack([linear, [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]])
    lab = np.empty_like(linear)
    measures.lab_of_linear(linear, colorspace.RGB_TO_XYZ_OVER_WHITE, lab)
    expected = reference.lab_of_linear(linear, colorspace._RGB_TO_XYZ, colorspace._WHITE_D65)
    np.testing.assert_allclose(lab, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lab[-2:], [[0, 0, 0], [100, 0, 0]], atol=0.01)


def _colour_table(rng, n, channels, n_entries):
    colors = rng.integers(0, 256, (n, channels), dtype=np.uint8)
    colors[:50] = [0] * channels  # black, and (in RGBA) fully transparent
    colors[50:100, -1] = 255
    counts = rng.integers(1, 1000, n).astype(np.int64)
    palette = rng.integers(0, 256, (n_entries, channels), dtype=np.uint8)
    entries = rng.integers(0, n_entries, n)
    return colors, counts, palette, entries


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("entry_type", [np.int32, np.int64])
@pytest.mark.parametrize("n", [0, 1, 40_000])  # 40,000: three blocks, the last short
def test_table_sums_match_numpy(rng, channels, entry_type, n):
    from kpalette import colorspace

    colors, counts, palette, entries = _colour_table(rng, n, channels, 16)
    entries = entries.astype(entry_type)
    squared = measures.table_squared_error(colors, counts, entries, reference.visible_rows(palette))
    expected = reference.table_squared_error(colors, counts, entries, palette)
    assert squared == pytest.approx(expected, rel=1e-12, abs=1e-9)
    delta_e = measures.table_delta_e(
        colors,
        counts,
        entries,
        colorspace.visible_lab(palette),
        colorspace.visible_linear_table(channels),
        colorspace.RGB_TO_XYZ_OVER_WHITE,
    )
    expected = reference.table_delta_e(
        colors, counts, entries, palette, colorspace._RGB_TO_XYZ, colorspace._WHITE_D65
    )
    assert delta_e == pytest.approx(expected, rel=1e-9, abs=1e-9)
    if n:
        assert squared > 0 and delta_e > 0


@pytest.mark.parametrize("d", [3, 4])
@pytest.mark.parametrize("n", [0, 40_000])
def test_weighted_squared_distance_matches_numpy(rng, d, n):
    points = rng.uniform(-50, 300, (n, d))
    counts = rng.integers(1, 1000, n).astype(np.int64)
    centers = rng.uniform(0, 255, (7, d))
    labels = rng.integers(0, 7, n).astype(np.int32)
    expected = float((counts * ((points - centers[labels]) ** 2).sum(axis=1)).sum())
    got = measures.weighted_squared_distance(points, counts, labels, centers)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-9)
    labels[-1:] = 7
    if n:
        with pytest.raises(ValueError, match=r"entries must be in 0\.\.6"):
            measures.weighted_squared_distance(points, counts, labels, centers)
    with pytest.raises(ValueError, match="centres of shape"):
        measures.weighted_squared_distance(points, counts, labels, centers[:, :2].copy())


def test_table_sums_refuse_bad_entries_and_shapes(rng):
    from kpalette import colorspace

    colors, counts, palette, entries = _colour_table(rng, 20_000, 3, 4)
    visible = reference.visible_rows(palette)
    lab = colorspace.visible_lab(palette)
    table, matrix = colorspace.visible_linear_table(3), colorspace.RGB_TO_XYZ_OVER_WHITE
    for bad in (-1, 4):
        wrong = entries.copy()
        wrong[-1] = bad  # in the second block
        with pytest.raises(ValueError, match=r"entries must be in 0\.\.3"):
            measures.table_squared_error(colors, counts, wrong, visible)
        with pytest.raises(ValueError, match=r"entries must be in 0\.\.3"):
            measures.table_delta_e(colors, counts, wrong, lab, table, matrix)
    with pytest.raises(ValueError, match="one count and one entry per colour"):
        measures.table_squared_error(colors, counts[:-1], entries, visible)
    with pytest.raises(ValueError, match="palette of as many channels"):
        measures.table_squared_error(colors, counts, entries, np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"\(256, 256\) table"):
        rgba = np.ascontiguousarray(np.column_stack([colors, colors[:, 0]]))
        measures.table_delta_e(rgba, counts, entries, lab, table, matrix)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (7, 1), (33, 47), (300, 64)])
def test_filter_kernel_equals_reference(rng, shape):
    height, width = shape
    smooth = np.add.outer(np.arange(height) * 3, np.arange(width) * 2) % 256
    for samples in (
        rng.integers(0, 256, shape, dtype=np.uint8),
        (smooth + rng.integers(0, 4, shape)).astype(np.uint8),
        np.full(shape, 200, np.uint8),
    ):
        for kind in (-1, 0, 1, 2, 3, 4):
            out = np.empty((height, width + 1), np.uint8)
            png_filters.filter_rows(samples, out, kind)
            np.testing.assert_array_equal(out, reference.png_filter_rows(samples, kind))


def _counted_by_numpy(pixels):
    codes = (
        (pixels[:, 0].astype(np.int64) << 16) | (pixels[:, 1].astype(np.int64) << 8) | pixels[:, 2]
    )
    return np.unique(codes, return_counts=True)


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: np.zeros((0, 3), np.uint8),
        lambda rng: np.full((7, 3), 255, np.uint8),
        # one red value and runs of equal pixels, more than one thread's share
        lambda rng: (
            np.repeat(rng.integers(0, 256, (3001, 3)), 97, axis=0).astype(np.uint8)
            * np.array([0, 1, 1], np.uint8)
        ),
        # every red value, all 2^16 green-blue values of some, an odd count
        lambda rng: np.vstack(
            [
                rng.integers(0, 256, (300_001, 3)),
                np.column_stack([np.full(65536, 9), np.arange(65536) >> 8, np.arange(65536) & 255]),
            ]
        ).astype(np.uint8),
    ],
    ids=["empty", "one colour", "one red value in runs", "all red values"],
)
def test_count_rgb_equals_numpy_unique(rng, make):
    pixels = np.ascontiguousarray(make(rng))
    found, found_counts = label_maps.count_rgb(pixels)
    unique, counts = _counted_by_numpy(pixels)
    assert found.dtype == found_counts.dtype == np.int64
    np.testing.assert_array_equal(found, unique)
    np.testing.assert_array_equal(found_counts, counts)


def test_count_rgb_gives_the_same_on_any_number_of_threads(rng):
    pixels = rng.integers(0, 32, size=(400_000, 3)).astype(np.uint8) * 8
    counted = [label_maps.count_rgb(pixels, threads=threads) for threads in (0, 1, 3)]
    for codes, counts in counted[1:]:
        np.testing.assert_array_equal(codes, counted[0][0])
        np.testing.assert_array_equal(counts, counted[0][1])
    unique, counts = _counted_by_numpy(pixels)
    np.testing.assert_array_equal(counted[1][0], unique)
    np.testing.assert_array_equal(counted[1][1], counts)


def test_count_rgb_refuses_what_it_cannot_count(rng):
    with pytest.raises(ValueError, match="expected 3 or 4 channels, got 2"):
        label_maps.count_rgb(np.zeros((4, 2), np.uint8))
    with pytest.raises(ValueError, match="needs an alpha channel"):
        label_maps.count_rgb(np.zeros((4, 3), np.uint8), True)


def _bad_kernel_calls():
    """(name, call) pairs: every ``def`` function of the compiled modules, each given an
    argument whose length, dtype or value range is wrong."""
    from kpalette import colorspace

    u8 = np.zeros((10, 3), np.uint8)
    codes = np.array([0, 5, 9], np.int64)
    rgba_codes = np.array([255, 511], np.int64)
    rgba = np.full((10, 4), 255, np.uint8)
    i32 = np.zeros(3, np.int32)
    points = np.random.default_rng(0).uniform(0, 255, (50, 3))
    weights = np.ones(50)
    centers = points[:4].copy()
    labels = np.zeros(50, np.int32)
    tree = clustering.PointTree(points, weights)
    table = colorspace.visible_linear_table(3)
    matrix = colorspace.RGB_TO_XYZ_OVER_WHITE
    image = np.zeros((8, 8, 3), np.uint8)
    palette = np.array([[0.0, 0, 0], [255, 255, 255]])
    yield (
        "lookup_rgb out too short",
        lambda: label_maps.lookup_rgb(u8, codes, i32, np.empty(9, np.int32)),
    )
    yield (
        "lookup_rgb code of 2**24",
        lambda: label_maps.lookup_rgb(
            u8, np.array([0, 1 << 24], np.int64), i32[:2], np.empty(10, np.int32)
        ),
    )
    yield (
        "lookup_rgb negative code",
        lambda: label_maps.lookup_rgb(
            u8, np.array([-1], np.int64), i32[:1], np.empty(10, np.int32)
        ),
    )
    yield (
        "lookup_rgb labels",
        lambda: label_maps.lookup_rgb(u8, codes, i32[:2], np.empty(10, np.int32)),
    )
    yield (
        "lookup_rgba out too short",
        lambda: label_maps.lookup_rgba(rgba, rgba_codes, i32[:2], np.empty(3, np.int32)),
    )
    yield (
        "lookup_rgba unsorted codes",
        lambda: label_maps.lookup_rgba(
            rgba, rgba_codes[::-1].copy(), i32[:2], np.empty(10, np.int32)
        ),
    )
    yield (
        "lookup_rgba no codes",
        lambda: label_maps.lookup_rgba(rgba, codes[:0], i32[:0], np.empty(10, np.int32)),
    )
    yield (
        "lookup_rgba wrong dtype",
        lambda: label_maps.lookup_rgba(
            rgba, rgba_codes.astype(np.int32), i32[:2], np.empty(10, np.int32)
        ),
    )
    yield "count_rgb two channels", lambda: label_maps.count_rgb(np.zeros((4, 2), np.uint8))
    yield "grid_means weights", lambda: clustering.grid_means(points, weights[:3], 8)
    yield "grid_means no cells", lambda: clustering.grid_means(points, weights, 0)
    yield "PointTree weights", lambda: clustering.PointTree(points, weights[:3])
    yield "PointTree dimensions", lambda: clustering.PointTree(np.zeros((5, 8)), np.ones(5))
    yield (
        "assign labels too short",
        lambda: clustering.assign(points, centers, labels[:3], np.empty(50)),
    )
    yield (
        "assign start out of range",
        lambda: clustering.assign(points, centers, np.full(50, 4, np.int32), np.empty(50)),
    )
    yield (
        "assign columns",
        lambda: clustering.assign(points, np.zeros((4, 4)), labels, np.empty(50)),
    )
    yield (
        "assign no centres",
        lambda: clustering.assign(points, np.zeros((0, 3)), labels, np.empty(50)),
    )
    yield (
        "lloyd weights",
        lambda: clustering.lloyd(
            points, weights[:3], centers.copy(), labels.copy(), np.empty(50), 10, 0.0
        ),
    )
    yield (
        "lloyd n_fixed",
        lambda: clustering.lloyd(
            points, weights, centers.copy(), labels.copy(), np.empty(50), 10, 0.0, None, 1.0, 0.0, 5
        ),
    )
    yield (
        "lloyd tree",
        lambda: clustering.lloyd(
            points[:10],
            weights[:10],
            centers.copy(),
            labels[:10].copy(),
            np.empty(10),
            10,
            0.0,
            tree,
        ),
    )
    yield "kmeans_plusplus k", lambda: clustering.kmeans_plusplus(tree, 51, 2, np.zeros((1, 200)))
    yield (
        "kmeans_plusplus uniforms",
        lambda: clustering.kmeans_plusplus(tree, 4, 2, np.zeros((1, 3))),
    )
    yield (
        "sort_in_place order",
        lambda: clustering._sort_in_place(points.copy(), weights.copy(), np.zeros(50, np.int64)),
    )
    yield "lab_of_linear out", lambda: measures.lab_of_linear(points, matrix, np.empty((3, 3)))
    yield "ciede2000 out", lambda: measures.ciede2000(points, points, np.empty(3))
    yield "ciede2000 columns", lambda: measures.ciede2000(points, np.zeros((50, 4)), np.empty(50))
    yield (
        "table_squared_error counts",
        lambda: measures.table_squared_error(
            u8, np.ones(9, np.int64), np.zeros(10, np.int32), palette
        ),
    )
    yield (
        "table_squared_error entries",
        lambda: measures.table_squared_error(
            u8, np.ones(10, np.int64), np.full(10, 2, np.int32), palette
        ),
    )
    yield (
        "weighted_squared_distance label",
        lambda: measures.weighted_squared_distance(
            points, np.ones(50, np.int64), np.full(50, 4, np.int32), centers
        ),
    )
    yield (
        "table_delta_e table",
        lambda: measures.table_delta_e(
            rgba, np.ones(10, np.int64), np.zeros(10, np.int32), np.zeros((1, 3)), table, matrix
        ),
    )
    yield (
        "ssim_sums shapes",
        lambda: measures.ssim_sums(image, np.zeros((8, 9, 3), np.uint8), False),
    )
    yield "palette_grid cells", lambda: dithering.palette_grid(palette, 0)
    yield (
        "cell_candidates among",
        lambda: dithering.cell_candidates(
            palette, np.array([0, 2], np.int32), np.zeros(3), np.ones(3), np.empty(2, np.int32)
        ),
    )
    yield (
        "cell_candidates out",
        lambda: dithering.cell_candidates(
            palette, np.array([0, 1], np.int32), np.zeros(3), np.ones(3), np.empty(1, np.int32)
        ),
    )
    yield (
        "floyd_steinberg out",
        lambda: dithering.floyd_steinberg(
            image,
            palette,
            np.arange(2),
            1.0,
            0.0,
            np.inf,
            1.0,
            np.zeros((8, 8), np.uint8),
            0,
            np.empty((8, 7), np.uint8),
        ),
    )
    yield (
        "floyd_steinberg entry_ids",
        lambda: dithering.floyd_steinberg(
            image,
            palette,
            np.arange(1),
            1.0,
            0.0,
            np.inf,
            1.0,
            np.zeros((8, 8), np.uint8),
            0,
            np.empty((8, 8), np.uint8),
        ),
    )
    yield (
        "floyd_steinberg palette columns",
        lambda: dithering.floyd_steinberg(
            image,
            np.zeros((2, 4)),
            np.arange(2),
            1.0,
            0.0,
            np.inf,
            1.0,
            np.zeros((8, 8), np.uint8),
            0,
            np.empty((8, 8), np.uint8),
        ),
    )
    yield (
        "filter_rows out",
        lambda: png_filters.filter_rows(np.zeros((4, 5), np.uint8), np.empty((4, 5), np.uint8)),
    )
    from kpalette._kernels import runs

    # (Names of their own: the lambdas above read theirs when called.)
    r_ids, r_points = np.zeros((2, 2), np.int32), np.zeros((3, 3))
    r_nearest, r_centers = np.zeros(3, np.int32), np.zeros((2, 3))
    r_out = np.zeros((2, 2), np.int32)

    def run_map(ids=r_ids, nearest=r_nearest, centers=r_centers, tolerance=1.0, out=r_out):
        return lambda: runs.map_with_runs(ids, r_points, nearest, centers, tolerance, out)

    yield "runs ids", run_map(ids=r_ids + 3)
    yield "runs nearest", run_map(nearest=r_nearest + 2)
    yield "runs out", run_map(out=r_out[:1])
    yield "runs centers", run_map(centers=r_centers[:, :2])
    yield "runs tolerance", run_map(tolerance=-1.0)
    yield (
        "filter_rows kind",
        lambda: png_filters.filter_rows(np.zeros((4, 5), np.uint8), np.empty((4, 6), np.uint8), 5),
    )


@pytest.mark.parametrize(
    ("name", "call"), list(_bad_kernel_calls()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_kernel_refuses_bad_arguments_before_its_loops(name, call):
    # Each call, unchecked, would read or write out of bounds (or crash the process).
    with pytest.raises(ValueError):
        call()


def test_assign_past_the_centre_table_compares_every_centre(rng):
    points = rng.uniform(0, 255, size=(2000, 3))
    centers = rng.uniform(0, 255, size=(5000, 3))  # above ASSIGN_TABLE_MAX
    labels = rng.integers(0, 5000, size=len(points)).astype(np.int32)
    dist2 = np.empty(len(points))
    clustering.assign(points, centers, labels, dist2)
    expected_labels, expected_d2 = reference.assign(points, centers)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(dist2, expected_d2, rtol=1e-12)


@pytest.mark.parametrize("tolerance", [0.0, 3.0, 12.0, 40.0])
def test_map_with_runs_equals_reference(rng, tolerance):
    from kpalette._kernels import runs

    points = rng.uniform(0, 100, size=(60, 3))
    centers = rng.uniform(0, 100, size=(7, 3))
    nearest = ((points[:, None] - centers[None]) ** 2).sum(-1).argmin(1).astype(np.int32)
    # Smooth regions of a few colours, some transparent (-1) pixels among them.
    ids = (np.add.outer(np.arange(23) // 4, np.arange(31) // 5) * 3 % 60).astype(np.int32)
    ids[rng.random(ids.shape) < 0.3] = rng.integers(0, 60, size=1)[0]
    ids[rng.random(ids.shape) < 0.05] = -1
    out = np.full(ids.shape, -1, np.int32)
    runs.map_with_runs(ids, points, nearest, centers, tolerance, out)
    np.testing.assert_array_equal(
        out, reference.map_with_runs(ids, points, nearest, centers, tolerance)
    )
    visible = ids >= 0
    if tolerance == 0:
        np.testing.assert_array_equal(out[visible], nearest[ids[visible]])
    else:  # never more than tolerance farther than the nearest
        chosen = np.sqrt(((points[ids[visible]] - centers[out[visible]]) ** 2).sum(-1))
        best = np.sqrt(((points[ids[visible]] - centers[nearest[ids[visible]]]) ** 2).sum(-1))
        assert (chosen <= best + tolerance + 1e-9).all()
