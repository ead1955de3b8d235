"""The compiled PNG scanline filters against the NumPy twins in tests/reference.py."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import reference
from kpalette import _scanlines


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (7, 1), (33, 47), (300, 64)])
def test_filter_kernel_equals_reference(rng, shape):
    height, width = shape
    smooth = np.add.outer(np.arange(height) * 3, np.arange(width) * 2) % 256
    for samples in (
        rng.integers(0, 256, shape, dtype=np.uint8),
        (smooth + rng.integers(0, 4, shape)).astype(np.uint8),
        np.full(shape, 200, np.uint8),
    ):
        out = np.empty((height, width + 1), np.uint8)
        _scanlines.filter_rows(samples, out)
        np.testing.assert_array_equal(out, reference.png_filter_rows(samples))


def _scanlines_of(rng, height, width, kinds, smooth):
    """Filtered scanlines: each row's filter number from ``kinds``, then its bytes
    (noise, or small steps as filters leave of smooth images, ties to Paeth)."""
    rows = np.empty((height, width + 1), dtype=np.uint8)
    rows[:, 0] = kinds
    if smooth:
        rows[:, 1:] = rng.choice(np.array([0, 0, 0, 1, 255, 2], dtype=np.uint8), (height, width))
    else:
        rows[:, 1:] = rng.integers(0, 256, (height, width), dtype=np.uint8)
    return rows.reshape(-1)


@pytest.mark.parametrize("step", [1, 2, 3, 4, 6, 8])
@pytest.mark.parametrize("pixels", [1, 2, 3, 5, 64])
@pytest.mark.parametrize("smooth", [False, True])
def test_unfilter_equals_reference(rng, step, pixels, smooth):
    """Every filter on every row, the first row included (it reads zeros above), for
    1 to 8 bytes a pixel (3 and 4 take the SSE2 loop on x86-64, short rows its ends)."""
    height, width = 15, pixels * step
    kinds = np.concatenate([np.arange(5), np.arange(5), rng.integers(0, 5, height - 10)])
    for first in range(5):
        kinds[0] = first
        scanlines = _scanlines_of(rng, height, width, kinds, smooth)
        out = np.empty((height, width), dtype=np.uint8)
        assert _scanlines.unfilter_rows(scanlines, out, step) == -1
        expected = reference.png_unfilter_rows(scanlines, height, width, step)
        np.testing.assert_array_equal(out, expected)


def test_unfilter_undoes_filter_rows(rng):
    samples = (np.add.outer(np.arange(40), np.arange(70)) + rng.integers(0, 3, (40, 70))) % 256
    samples = samples.astype(np.uint8)
    scanlines = np.empty((40, 71), dtype=np.uint8)
    _scanlines.filter_rows(samples, scanlines)
    assert len(set(scanlines[:, 0])) > 1  # more than one filter chosen
    out = np.empty_like(samples)
    assert _scanlines.unfilter_rows(scanlines.reshape(-1), out, 1) == -1
    np.testing.assert_array_equal(out, samples)


def test_unfilter_names_the_first_row_with_an_unknown_filter(rng):
    scanlines = _scanlines_of(rng, 6, 12, [0, 1, 2, 5, 0, 9], smooth=False)
    out = np.zeros((6, 12), dtype=np.uint8)
    assert _scanlines.unfilter_rows(scanlines, out, 3) == 3
    expected = reference.png_unfilter_rows(scanlines.reshape(6, 13)[:3].reshape(-1), 3, 12, 3)
    np.testing.assert_array_equal(out[:3], expected)


def test_unfilter_refuses_mismatched_sizes():
    out = np.empty((2, 6), dtype=np.uint8)
    with pytest.raises(
        ValueError, match="13 bytes from row 0 are not whole rows of 1 \\+ 6 bytes within 2"
    ):
        _scanlines.unfilter_rows(np.zeros(13, dtype=np.uint8), out, 3)
    with pytest.raises(ValueError, match="step must divide the row width 6, got 4"):
        _scanlines.unfilter_rows(np.zeros(14, dtype=np.uint8), out, 4)
    with pytest.raises(ValueError, match="got 0"):
        _scanlines.unfilter_rows(np.zeros(14, dtype=np.uint8), out, 0)


def test_the_module_does_not_import_numpy():
    """kpalette.decode undoes the filters in a thread before NumPy is imported."""
    code = (
        "import sys; from kpalette import _scanlines; "
        "raw = bytes([1, 10, 20, 30, 5, 5, 5]); out = bytearray(6); "
        "assert _scanlines.unfilter_rows(raw, memoryview(out).cast('B', (1, 6)), 3) == -1; "
        "assert list(out) == [10, 20, 30, 15, 25, 35], list(out); "
        "assert 'numpy' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
