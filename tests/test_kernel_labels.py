"""kpalette._kernels.labels (colour counts and each pixel's label) against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from kpalette._kernels import labels as label_maps


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


@pytest.mark.parametrize("dtype", [np.uint8, np.int32])
@pytest.mark.parametrize("n", [0, 1, 1000, 700_001])
def test_count_labels_is_bincount(dtype, n):
    from kpalette._kernels.labels import count_labels

    rng = np.random.default_rng(n)
    labels = rng.integers(0, 200, n).astype(dtype)
    expected = np.bincount(labels, minlength=256)
    got = count_labels(labels, 256)
    assert got.dtype == np.int64 and np.array_equal(got, expected)


def test_count_labels_checks_its_values():
    from kpalette._kernels.labels import count_labels

    with pytest.raises(ValueError, match=r"labels must be in 0..3; 1 are not"):
        count_labels(np.array([0, 1, 4], dtype=np.uint8), 4)
    with pytest.raises(ValueError, match=r"labels must be in 0..9; 2 are not"):
        count_labels(np.array([-1, 3, 10], dtype=np.int32), 10)
    with pytest.raises(ValueError, match="n_entries must be in 1..2"):
        count_labels(np.zeros(3, dtype=np.uint8), 0)
