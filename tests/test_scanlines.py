"""The compiled PNG scanline filters against the NumPy twins in tests/reference.py, and
the colour count against NumPy's ``unique``."""

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
    codes, counts_bytes = _scanlines.count_rgb(pixels)
    found, found_counts = np.frombuffer(codes, np.int64), np.frombuffer(counts_bytes, np.int64)
    unique, counts = _counted_by_numpy(pixels)
    assert found.dtype == found_counts.dtype == np.int64
    np.testing.assert_array_equal(found, unique)
    np.testing.assert_array_equal(found_counts, counts)


def test_count_rgb_gives_the_same_on_any_number_of_threads(rng):
    pixels = rng.integers(0, 32, size=(400_000, 3)).astype(np.uint8) * 8
    counted = [_scanlines.count_rgb(pixels, threads=threads) for threads in (0, 1, 3)]
    assert counted[0] == counted[1] == counted[2]
    unique, counts = _counted_by_numpy(pixels)
    np.testing.assert_array_equal(np.frombuffer(counted[1][0], np.int64), unique)
    np.testing.assert_array_equal(np.frombuffer(counted[1][1], np.int64), counts)


def test_count_rgb_gives_up_when_told_to_stop(rng):
    pixels = rng.integers(0, 256, size=(200_000, 3)).astype(np.uint8)
    assert _scanlines.count_rgb(pixels, threads=1, stop=bytearray(1)) is not None
    assert _scanlines.count_rgb(pixels, threads=1, stop=bytearray([1])) is None


def test_count_rgb_refuses_what_it_cannot_count(rng):
    with pytest.raises(ValueError, match="expected 3 or 4 channels, got 2"):
        _scanlines.count_rgb(np.zeros((4, 2), np.uint8))
    with pytest.raises(ValueError, match="needs an alpha channel"):
        _scanlines.count_rgb(np.zeros((4, 3), np.uint8), True)
