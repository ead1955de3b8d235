"""kpalette._kernels.png_filters (the PNG scanline filters) against reference.py."""

from __future__ import annotations

import numpy as np
import pytest

import reference
from kpalette._kernels import png_filters


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
