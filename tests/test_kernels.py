"""What holds for every compiled kernel: built ahead of time, the same on any number of
threads, and each refuses bad arguments before its unchecked loops."""

from __future__ import annotations

import numpy as np
import pytest

from kpalette._kernels import (
    clustering,
    dithering,
    grid,
    measures,
    nearest,
    png_filters,
    runs,
    seeding,
    ssim,
)
from kpalette._kernels import labels as label_maps
from kpalette._kernels import tree as grid_tree


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
    tree = grid_tree.PointTree(points, weights)
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
    yield "grid_means weights", lambda: grid.grid_means(points, weights[:3], 8)
    yield "grid_means no cells", lambda: grid.grid_means(points, weights, 0)
    yield "PointTree weights", lambda: grid_tree.PointTree(points, weights[:3])
    yield "PointTree dimensions", lambda: grid_tree.PointTree(np.zeros((5, 8)), np.ones(5))
    yield (
        "assign labels too short",
        lambda: nearest.assign(points, centers, labels[:3], np.empty(50)),
    )
    yield (
        "assign start out of range",
        lambda: nearest.assign(points, centers, np.full(50, 4, np.int32), np.empty(50)),
    )
    yield (
        "assign columns",
        lambda: nearest.assign(points, np.zeros((4, 4)), labels, np.empty(50)),
    )
    yield (
        "assign no centres",
        lambda: nearest.assign(points, np.zeros((0, 3)), labels, np.empty(50)),
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
    yield "kmeans_plusplus k", lambda: seeding.kmeans_plusplus(tree, 51, 2, np.zeros((1, 200)))
    yield (
        "kmeans_plusplus uniforms",
        lambda: seeding.kmeans_plusplus(tree, 4, 2, np.zeros((1, 3))),
    )
    yield (
        "sort_in_place order",
        lambda: grid_tree._sort_in_place(points.copy(), weights.copy(), np.zeros(50, np.int64)),
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
        lambda: ssim.ssim_sums(image, np.zeros((8, 9, 3), np.uint8), False),
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
