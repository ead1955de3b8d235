from __future__ import annotations

import numpy as np
import pytest

from conftest import data_image
from kpalette.metrics import (
    bits_per_pixel,
    color_index_pairs,
    color_pairs,
    mean_delta_e,
    mean_squared_error,
    mean_squared_error_from_entries,
    mean_squared_error_from_table,
    peak_signal_noise_ratio,
    structural_similarity,
)


def test_mse_and_psnr_by_hand():
    a = np.zeros((300, 2, 3), dtype=np.uint8)  # more rows than one chunk
    b = a.copy()
    b[0, 0, 0] = 10
    assert mean_squared_error(a, b) == pytest.approx(100 / a.size)
    assert peak_signal_noise_ratio(a, b) == pytest.approx(10 * np.log10(255**2 * a.size / 100))
    assert np.isinf(peak_signal_noise_ratio(a, a))


def test_rgba_compares_what_is_visible():
    a = np.zeros((4, 4, 4), dtype=np.uint8)
    b = a.copy()
    b[..., :3] = 255  # different hidden colour, still fully transparent
    assert mean_squared_error(a, b) == 0
    b[0, 0, 3] = 255
    assert mean_squared_error(a, b) == pytest.approx(4 * 255**2 / a.size)


@pytest.mark.parametrize("shape", [(7, 7, 3), (32, 32, 3), (70, 45, 3), (40, 100, 4)])
def test_ssim_against_scikit_image(rng, shape):
    from skimage.metrics import structural_similarity as ssim

    from kpalette.metrics import _visible

    a = rng.integers(0, 256, size=shape, dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 20, size=a.shape), 0, 255).astype(np.uint8)
    if shape[2] == 4:
        a[:5, :, 3] = 0  # transparent rows: their hidden colours must not count
        expected = ssim(_visible(a), _visible(b), channel_axis=2, data_range=255)
    else:
        expected = ssim(a.astype(float), b.astype(float), channel_axis=2, data_range=255)
    assert structural_similarity(a, b) == pytest.approx(expected, rel=1e-12)
    assert structural_similarity(a, a) == pytest.approx(1.0, rel=1e-12)


def test_ssim_of_a_quantized_photo_against_scikit_image():
    from skimage.metrics import structural_similarity as ssim

    from kpalette import io, quantize

    photo = io.load_image(data_image("hubble-crop.png"))
    quantized = quantize(photo, 12).to_array()
    expected = ssim(photo.astype(float), quantized.astype(float), channel_axis=2, data_range=255)
    assert structural_similarity(photo, quantized) == pytest.approx(expected, rel=1e-12)


def test_ssim_of_images_smaller_than_the_window():
    a = np.zeros((5, 9, 3), dtype=np.uint8)
    assert structural_similarity(a, a) == 1.0
    b = a.copy()
    b[0, 0, 0] = 1
    assert np.isnan(structural_similarity(a, b))


def test_ssim_refuses_images_that_are_not_8_bit():
    with pytest.raises(ValueError, match="uint8 images, got float64"):
        structural_similarity(np.zeros((9, 9, 3)), np.zeros((9, 9, 3)))


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"\(2, 2, 3\) and \(2, 3, 3\)"):
        mean_squared_error(np.zeros((2, 2, 3)), np.zeros((2, 3, 3)))


def test_bits_per_pixel():
    assert bits_per_pixel(100, 800) == 1.0


@pytest.mark.parametrize("channels", [3, 4])
def test_table_measures_equal_pixel_measures(rng, channels):
    original = rng.integers(0, 6, (40, 50, channels), dtype=np.uint8) * 50
    other = original.copy()
    other[::3] = original[::3] // 2
    colors, mapped, counts = color_pairs(original, other)
    assert counts.sum() == 40 * 50 and len(colors) <= 2 * 6**channels
    assert mean_squared_error_from_table(colors, counts, mapped) == pytest.approx(
        mean_squared_error(original, other), rel=1e-12
    )


@pytest.mark.parametrize("channels", [3, 4])
def test_measures_from_palette_entries_equal_the_pixel_measures(rng, channels):
    from kpalette.metrics import mean_delta_e, mean_delta_e_from_entries

    palette = rng.integers(0, 256, (9, channels), dtype=np.uint8)
    indices = rng.integers(0, 9, (60, 70))
    original = np.clip(palette[indices] + rng.integers(-30, 31, (60, 70, channels)), 0, 255)
    original = original.astype(np.uint8)
    colors, entries, counts = color_index_pairs(original, indices, 9)
    expected_mse = mean_squared_error(original, palette[indices])
    expected_delta_e = mean_delta_e(original, palette[indices])
    # Entries of any integer type, colours in a strided view: the same figures.
    for table_colors in (colors, np.asfortranarray(colors)):
        for table_entries in (entries, entries.astype(np.uint8), entries.astype(np.int32)):
            got = mean_squared_error_from_entries(table_colors, counts, palette, table_entries)
            assert got == pytest.approx(expected_mse, rel=1e-12)
            got = mean_delta_e_from_entries(table_colors, counts, palette, table_entries)
            assert got == pytest.approx(expected_delta_e, rel=1e-12)
    with pytest.raises(ValueError, match="uint8 colour table"):
        mean_squared_error_from_entries(colors.astype(np.float64), counts, palette, entries)


@pytest.mark.parametrize(("channels", "n_entries"), [(3, 7), (3, 256), (3, 300), (4, 16)])
def test_color_index_pairs_count_every_pixel_once(rng, channels, n_entries):
    # 32-bit codes for RGB up to 256 entries, 64-bit beyond: both give the same pairs
    # as counting them one pixel at a time.
    original = rng.integers(0, 256, (30, 40, channels), dtype=np.uint8)
    original[::2] = original[1::2]  # repeated colours, mapped to differing indices
    indices = rng.integers(0, n_entries, (30, 40))
    colors, entries, counts = color_index_pairs(original, indices, n_entries)
    expected = {}
    for colour, index in zip(original.reshape(-1, channels), indices.ravel(), strict=True):
        key = (*colour.tolist(), int(index))
        expected[key] = expected.get(key, 0) + 1
    found = {(*c.tolist(), int(e)): int(n) for c, e, n in zip(colors, entries, counts, strict=True)}
    assert found == expected
    with pytest.raises(ValueError, match="index map"):
        color_index_pairs(original, indices[:, :-1], n_entries)


def test_mean_delta_e_from_table_converts_each_output_once_with_the_same_result(rng):
    # Outputs repeat a few palette colours: converted once each, the mean must equal
    # the pair-by-pair computation, for uint8 and float outputs, RGB and RGBA.
    from kpalette.colorspace import delta_e_ciede2000
    from kpalette.metrics import _visible, mean_delta_e_from_entries, mean_delta_e_from_table

    for channels in (3, 4):
        colors = rng.integers(0, 256, size=(500, channels), dtype=np.uint8)
        palette = rng.integers(0, 256, size=(7, channels), dtype=np.uint8)
        entries = rng.integers(0, 7, size=500)
        mapped = palette[entries]
        counts = rng.integers(1, 50, size=500)
        pairwise = delta_e_ciede2000(_visible(colors)[:, :3], _visible(mapped)[:, :3])
        expected = float((counts * pairwise).sum() / counts.sum())
        for outputs in (mapped, mapped.astype(np.float64)):
            got = mean_delta_e_from_table(colors, counts, outputs)
            assert got == pytest.approx(expected, rel=1e-12)
        got = mean_delta_e_from_entries(colors, counts, palette, entries)
        assert got == pytest.approx(expected, rel=1e-12)


def test_mean_delta_e_equals_scikit_image_per_pixel(small_photo):
    from skimage import color

    other = (small_photo // 16 * 16).astype(np.uint8)
    expected = color.deltaE_ciede2000(
        color.rgb2lab(small_photo / 255.0), color.rgb2lab(other / 255.0)
    ).mean()
    assert mean_delta_e(small_photo, other) == pytest.approx(expected, rel=1e-9)
    assert mean_delta_e(small_photo, small_photo) == 0
