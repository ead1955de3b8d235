from __future__ import annotations

import numpy as np
import pytest

from kpalette.histogram import color_histogram, labels_for_pixels, pack_colors, unpack_colors


@pytest.mark.parametrize("channels", [3, 4])
def test_histogram_counts_every_colour(rng, channels):
    pixels = (rng.integers(0, 5, size=(10_000, channels)) * 60).astype(np.uint8)
    hist = color_histogram(pixels)
    unique, counts = np.unique(pixels, axis=0, return_counts=True)
    order = np.argsort(pack_colors(unique))
    np.testing.assert_array_equal(hist.colors, unique[order])
    np.testing.assert_array_equal(hist.counts, counts[order])
    assert hist.n_pixels == len(pixels)
    assert np.all(np.diff(hist.codes) > 0)


@pytest.mark.parametrize("channels", [3, 4])
def test_labels_go_back_to_the_right_pixels(rng, channels):
    pixels = (rng.integers(0, 4, size=(3000, channels)) * 80).astype(np.uint8)
    hist = color_histogram(pixels)
    color_labels = rng.integers(0, 300, size=hist.n_colors)  # > 255: int32 path
    labels = labels_for_pixels(pixels, hist, color_labels)
    positions = [np.flatnonzero((hist.colors == p).all(axis=1))[0] for p in pixels[:200]]
    np.testing.assert_array_equal(labels[:200], color_labels[positions])


def test_histogram_of_the_visible_rgb_of_rgba_pixels_needs_no_copy_and_labels_them_back(rng):
    rgba = (rng.integers(0, 4, size=(8000, 4)) * 85).astype(np.uint8)
    rgba[:, 3] = np.where(rng.random(len(rgba)) < 0.3, 0, 255)
    visible = rgba[:, 3] != 0
    for n_channels in (3, 4):
        hist = color_histogram(rgba, n_channels, skip_transparent=True)
        copied = color_histogram(np.ascontiguousarray(rgba[visible, :n_channels]))
        np.testing.assert_array_equal(hist.colors, copied.colors)
        np.testing.assert_array_equal(hist.counts, copied.counts)
        np.testing.assert_array_equal(hist.codes, copied.codes)
        color_labels = np.arange(hist.n_colors) % 200
        for transparent_label, dtype in ((250, np.uint8), (300, np.int32)):
            labels = labels_for_pixels(
                rgba, hist, color_labels, transparent_label=transparent_label
            )
            assert labels.dtype == dtype
            assert (labels[~visible] == transparent_label).all()
            expected = labels_for_pixels(rgba[visible, :n_channels], copied, color_labels)
            np.testing.assert_array_equal(labels[visible], expected)
    all_rgb = color_histogram(rgba, 3)
    np.testing.assert_array_equal(all_rgb.codes, color_histogram(rgba[:, :3]).codes)


def test_histogram_rejects_wrong_input():
    with pytest.raises(ValueError, match=r"got shape \(10, 2\)"):
        color_histogram(np.zeros((10, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="dtype float64"):
        color_histogram(np.zeros((10, 3)))
    rgb = np.zeros((10, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="n_channels must be 3 or 4 of the pixels' 3, got 4"):
        color_histogram(rgb, 4)
    with pytest.raises(ValueError, match="skip_transparent needs RGBA pixels, got 3"):
        color_histogram(rgb, skip_transparent=True)
    with pytest.raises(ValueError, match="transparent_label needs RGBA pixels"):
        labels_for_pixels(rgb, color_histogram(rgb), np.zeros(1, int), transparent_label=1)
    with pytest.raises(ValueError, match="the histogram has 4-channel colours, the pixels 3"):
        labels_for_pixels(rgb, color_histogram(np.zeros((2, 4), np.uint8)), np.zeros(1, int))


def test_rgba_codes_read_as_words_equal_the_shifted_ones(rng):
    rgba = rng.integers(0, 256, size=(5000, 4), dtype=np.uint8)
    rgba[0] = [255, 255, 255, 255]  # the top bit set: unsigned all the way
    expected = pack_colors(rgba)  # int64, by shifts
    strided = np.hstack([rgba, rgba])[:, :4]  # not contiguous
    for pixels in (rgba, strided):
        codes = pack_colors(pixels, np.uint32)
        assert codes.dtype == np.uint32
        np.testing.assert_array_equal(codes.astype(np.int64), expected)


@pytest.mark.parametrize(
    ("dtype", "n_channels"),
    [(np.uint32, n) for n in (1, 3, 4)] + [(np.int64, n) for n in (3, 4, 7)] + [(np.uint64, 8)],
)
def test_unpack_gives_the_low_bytes_of_each_code(rng, dtype, n_channels):
    top = min(8 * n_channels, np.iinfo(dtype).bits)  # bits a code may use
    codes = rng.integers(0, 1 << min(top, 62), size=300, dtype=np.int64).astype(dtype)
    codes[0] = (1 << top) - 1 if top < 64 else np.iinfo(dtype).max  # every bit set
    colors = unpack_colors(codes, n_channels)
    assert colors.shape == (300, n_channels) and colors.dtype == np.uint8
    for column in range(n_channels):
        shift = 8 * (n_channels - 1 - column)
        np.testing.assert_array_equal(colors[:, column], [(int(c) >> shift) & 255 for c in codes])
    np.testing.assert_array_equal(pack_colors(colors, np.uint64), codes.astype(np.uint64))
    with pytest.raises(ValueError, match="n_channels=9"):
        unpack_colors(codes, 9)


def test_histogram_of_no_pixels():
    for channels in (3, 4):
        hist = color_histogram(np.zeros((0, channels), dtype=np.uint8))
        assert hist.n_colors == 0 and hist.n_pixels == 0
        assert hist.colors.shape == (0, channels)
