"""The compiled kernels against their plain NumPy twins in reference.py."""

from __future__ import annotations

import numpy as np
import pytest

import reference
from kpalette import _kernels


@pytest.mark.parametrize("k", [1, 2, 7, 64])
@pytest.mark.parametrize("d", [3, 4])
def test_assign_matches_brute_force(rng, k, d):
    points = rng.uniform(0, 255, size=(3000, d))
    centers = rng.uniform(0, 255, size=(k, d))
    labels = rng.integers(0, k, size=len(points)).astype(np.int32)  # any start guess
    dist2 = np.empty(len(points))
    _kernels.assign(points, centers, labels, dist2)
    expected_labels, expected_d2 = reference.assign(points, centers)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(dist2, expected_d2, rtol=1e-12)


def test_assign_on_integer_colours_with_ties(rng):
    # Integer colours and integer centres produce exact ties; argmin takes the lowest index.
    points = rng.integers(0, 8, size=(2000, 3)).astype(np.float64)
    centers = np.array([[2, 2, 2], [4, 4, 4], [2, 2, 2], [0, 7, 0], [3, 3, 3]], dtype=np.float64)
    labels = np.full(len(points), 4, dtype=np.int32)
    dist2 = np.empty(len(points))
    _kernels.assign(points, centers, labels, dist2)
    expected_labels, expected_d2 = reference.assign(points, centers)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_array_equal(dist2, expected_d2)


def test_weighted_sums_match_bincount(rng):
    n, k = 40_000, 13  # several chunks
    points = rng.uniform(0, 255, size=(n, 3))
    weights = rng.integers(1, 50, size=n).astype(np.float64)
    labels = rng.integers(0, k, size=n).astype(np.int32)
    sums, totals = _kernels.weighted_sums(points, weights, labels, k)
    expected_sums, expected_totals = reference.weighted_sums(points, weights, labels, k)
    np.testing.assert_allclose(sums, expected_sums, rtol=1e-12)
    np.testing.assert_allclose(totals, expected_totals, rtol=1e-12)


def test_count_and_lookup_rgb(rng):
    pixels = rng.integers(0, 6, size=(5000, 3)).astype(np.uint8) * 40
    table = _kernels.count_rgb(pixels)
    codes = (
        (pixels[:, 0].astype(np.int64) << 16) | (pixels[:, 1].astype(np.int64) << 8) | pixels[:, 2]
    )
    unique, counts = np.unique(codes, return_counts=True)
    np.testing.assert_array_equal(np.flatnonzero(table), unique)
    np.testing.assert_array_equal(table[unique], counts)
    lut = np.zeros(1 << 24, dtype=np.int32)
    lut[unique] = np.arange(len(unique)) * 3 + 1
    out = np.empty(len(pixels), dtype=np.int32)
    _kernels.lookup_rgb(pixels, lut, out)
    np.testing.assert_array_equal(out, lut[codes])


@pytest.mark.parametrize("k", [1, 5, 40])
def test_kmeans_plusplus_matches_reference(rng, k):
    points = rng.uniform(0, 255, size=(2000, 3))
    weights = rng.integers(1, 30, size=len(points)).astype(np.float64)
    n_trials = 2 + int(np.log(k))
    uniforms = rng.random(1 + (k - 1) * n_trials)
    chosen = _kernels.kmeans_plusplus(points, weights, k, n_trials, uniforms)
    expected = reference.kmeans_plusplus(points, weights, k, n_trials, uniforms)
    np.testing.assert_array_equal(chosen, expected)
    assert len(set(chosen.tolist())) == k  # distinct points give distinct centres


def test_kernels_compile_once_and_later_processes_load_the_cache():
    """Issue 3, bar 5: the first run compiles and caches; the next one only loads."""
    import os
    import subprocess
    import sys

    workload = (
        "import numpy as np, kpalette\n"
        "rng = np.random.default_rng(0)\n"
        "rgb = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)\n"
        "rgba = np.dstack([rgb, np.where(rng.random((40, 50)) < 0.2, 0, 255)]).astype(np.uint8)\n"
        "for image in (rgb, rgba):\n"
        "    for dither in (False, True):\n"
        "        kpalette.quantize(image, 6, dither=dither).mse\n"
    )
    env = dict(os.environ, NUMBA_DEBUG_CACHE="1")

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-c", workload], env=env, capture_output=True, text=True, check=True
        )
        return done.stdout + done.stderr

    run()  # compiles whatever is not cached yet
    log = run()
    assert "data loaded" in log and "floyd_steinberg" in log and "assign" in log
    assert "data saved" not in log and "index saved" not in log, log
