"""kpalette._kernels.runs (pixels mapped along runs) against reference.py."""

from __future__ import annotations

import numpy as np
import pytest

import reference
from kpalette._kernels import runs


@pytest.mark.parametrize("band_rows", [512, 5, 1])
@pytest.mark.parametrize("tolerance", [0.0, 3.0, 12.0, 40.0])
def test_map_with_runs_equals_reference(rng, tolerance, band_rows):

    points = rng.uniform(0, 100, size=(60, 3))
    centers = rng.uniform(0, 100, size=(7, 3))
    nearest = ((points[:, None] - centers[None]) ** 2).sum(-1).argmin(1).astype(np.int32)
    # Smooth regions of a few colours, some transparent (-1) pixels among them.
    ids = (np.add.outer(np.arange(23) // 4, np.arange(31) // 5) * 3 % 60).astype(np.int32)
    ids[rng.random(ids.shape) < 0.3] = rng.integers(0, 60, size=1)[0]
    ids[rng.random(ids.shape) < 0.05] = -1
    out = np.full(ids.shape, -1, np.int32)
    runs.map_with_runs(ids, points, nearest, centers, tolerance, out, band_rows)
    np.testing.assert_array_equal(
        out, reference.map_with_runs(ids, points, nearest, centers, tolerance, band_rows)
    )
    visible = ids >= 0
    if tolerance == 0:
        np.testing.assert_array_equal(out[visible], nearest[ids[visible]])
    else:  # never more than tolerance farther than the nearest
        chosen = np.sqrt(((points[ids[visible]] - centers[out[visible]]) ** 2).sum(-1))
        best = np.sqrt(((points[ids[visible]] - centers[nearest[ids[visible]]]) ** 2).sum(-1))
        assert (chosen <= best + tolerance + 1e-9).all()


def test_bands_give_the_same_entries_on_any_number_of_threads(rng):
    """Many bands, mapped in parallel or on one thread: the same entries (each band
    is on its own; only its fixed size decides)."""
    from kpalette.threads import limited

    points = rng.uniform(0, 100, size=(200, 3))
    centers = rng.uniform(0, 100, size=(9, 3))
    nearest = ((points[:, None] - centers[None]) ** 2).sum(-1).argmin(1).astype(np.int32)
    ids = rng.integers(0, 200, size=(700, 300)).astype(np.int32)
    outs = []
    for threads in (1, None):
        out = np.full(ids.shape, -1, np.int32)
        with limited(threads):
            runs.map_with_runs(ids, points, nearest, centers, 8.0, out, 16)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
