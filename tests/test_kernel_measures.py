"""kpalette._kernels.measures (CIELAB, the table sums, SSIM) against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import reference
from kpalette._kernels import measures, ssim


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
    band_rows = ssim.SSIM_BAND_ROWS
    expected_sums = np.stack(
        [
            expected[start : start + band_rows].sum(axis=(0, 1))
            for start in range(0, len(expected), band_rows)
        ]
    )
    sums = ssim.ssim_sums(image_a, image_b, premultiply)
    np.testing.assert_allclose(sums, expected_sums, rtol=1e-12, atol=1e-12)


def test_ssim_sums_refuse_bad_shapes():
    small = np.zeros((6, 9, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="at least 7 x 7"):
        ssim.ssim_sums(small, small, False)
    with pytest.raises(ValueError, match="same shape"):
        ssim.ssim_sums(np.zeros((9, 9, 3), np.uint8), np.zeros((9, 10, 3), np.uint8), False)
    with pytest.raises(ValueError, match="4 channels"):
        ssim.ssim_sums(np.zeros((9, 9, 3), np.uint8), np.zeros((9, 9, 3), np.uint8), True)


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
