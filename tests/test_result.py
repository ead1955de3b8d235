from __future__ import annotations

import io as _io

import numpy as np
import pytest
from PIL import Image

from conftest import shared_image
from kpalette import QuantizedImage, load_image, quantize


@pytest.mark.parametrize("name", ["coffee.png", "astronaut.png", "china.jpg"])
def test_palette_png_is_smaller_than_the_same_image_as_rgb_png(tmp_path, name):
    result = quantize(shared_image(name), 16)
    out = tmp_path / "q.png"
    result.save(out)
    rgb_png = _io.BytesIO()
    Image.fromarray(result.to_array()).save(rgb_png, format="PNG", optimize=True)
    img = Image.open(out)
    assert img.mode == "P" and len(img.getcolors()) <= 16
    assert out.stat().st_size < len(rgb_png.getvalue())
    np.testing.assert_array_equal(load_image(out), result.to_array())  # lossless round trip


def test_result_attributes(small_photo):
    result = quantize(small_photo, 7)
    assert result.palette.shape == (7, 3) and result.palette.dtype == np.uint8
    assert result.indices.shape == small_photo.shape[:2]
    assert result.to_array().shape == small_photo.shape
    assert list(result.counts) == sorted(result.counts, reverse=True)  # sorted by share
    assert result.shares.sum() == pytest.approx(1)
    expected_mse = ((result.to_array().astype(float) - small_photo) ** 2).mean()
    assert result.mse == pytest.approx(expected_mse)
    assert result.psnr == pytest.approx(10 * np.log10(255**2 / expected_mse))
    assert 0.3 < result.ssim < 1
    assert "7 colours" in repr(result)
    png = result._repr_png_()
    assert Image.open(_io.BytesIO(png)).size[0] == small_photo.shape[1]


def test_enough_colours_reproduce_the_image_exactly(tmp_path):
    image = np.zeros((8, 9, 3), dtype=np.uint8)
    image[::2] = [12, 34, 56]
    image[:, ::3] = [250, 1, 2]
    with pytest.warns(UserWarning):
        result = quantize(image, 5)
    assert result.mse == 0 and np.isinf(result.psnr)
    assert result.summary()["psnr"] is None
    result.save(tmp_path / "x.gif")
    np.testing.assert_array_equal(load_image(tmp_path / "x.gif"), image)


def test_quantize_refuses_pixel_lists():
    with pytest.raises(ValueError, match=r"got shape \(10, 3\)"):
        quantize(np.zeros((10, 3), dtype=np.uint8), 2)


def test_summary_before_saving_reports_the_png_size(small_photo):
    result = quantize(small_photo, 4)
    report = result.summary()
    assert report["output"] is None and report["output_bytes"] == len(result.encode("PNG"))


def test_quantized_image_without_original_cannot_be_scored():
    q = QuantizedImage(np.array([[0, 0, 0]], np.uint8), np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="no original"):
        _ = q.mse


@pytest.mark.parametrize("color_space", ["rgb", "lab", "oklab"])
@pytest.mark.parametrize("dither", [False, 0.5])
def test_quality_measures_match_the_pixels(small_photo, color_space, dither):
    from skimage import color

    result = quantize(small_photo, 9, color_space=color_space, dither=dither)
    written = result.to_array()
    assert result.mse == pytest.approx(((written.astype(float) - small_photo) ** 2).mean())
    expected = color.deltaE_ciede2000(
        color.rgb2lab(small_photo / 255.0), color.rgb2lab(written / 255.0)
    ).mean()
    assert result.delta_e == pytest.approx(expected, rel=1e-9)
    report = result.summary()
    assert report["color_space"] == color_space and report["dither"] == float(dither)
    assert report["delta_e"] == pytest.approx(expected, abs=1e-4)


def test_perceptual_space_lowers_the_colour_difference():
    # coffee.png at k=16: CIEDE2000 3.26 in RGB, 3.16 in OKLab (measured); the bench
    # shows the same on the large photos.
    from kpalette.data import sample_image_path

    rgb = quantize(sample_image_path(), 16)
    oklab = quantize(sample_image_path(), 16, color_space="oklab")
    assert oklab.delta_e < rgb.delta_e
    assert rgb.mse < oklab.mse  # and RGB is the one that minimises the MSE


def test_alpha_quality_from_the_table_equals_the_pixels(small_photo):
    from kpalette.metrics import mean_squared_error

    rgba = np.dstack([small_photo, np.full(small_photo.shape[:2], 255, np.uint8)])
    rgba[:20, :20] = [200, 30, 30, 0]
    rgba[40:, 40:, 3] = 90
    result = quantize(rgba, 6)
    assert result._color_table is not None
    assert result.mse == pytest.approx(mean_squared_error(rgba, result.to_array()), rel=1e-12)
