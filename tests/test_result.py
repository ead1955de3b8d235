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
