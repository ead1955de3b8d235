"""Colour conversions against scikit-image and published OKLab values."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import color

from kpalette.colorspace import (
    check_color_space,
    delta_e_ciede2000,
    from_space,
    premultiply,
    rgb_to_lab,
    rgb_to_oklab,
    to_space,
    unpremultiply,
    visible_lab,
)


@pytest.fixture
def colors(rng):
    every_grey = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    return np.vstack([every_grey, rng.integers(0, 256, (5000, 3), dtype=np.uint8)])


def test_lab_equals_scikit_image(colors):
    expected = color.rgb2lab(colors[:, None, :] / 255.0)[:, 0]
    np.testing.assert_allclose(rgb_to_lab(colors), expected, atol=1e-9)
    # Float input (any sRGB value) goes through the same formula.
    np.testing.assert_allclose(rgb_to_lab(colors.astype(np.float64)), expected, atol=1e-9)


def test_oklab_published_values():
    # Ottosson's reference: white is (1, 0, 0); sRGB red is (0.62796, 0.22486, 0.12585).
    oklab = rgb_to_oklab(np.array([[255, 255, 255], [255, 0, 0], [0, 0, 0]], np.uint8))
    np.testing.assert_allclose(oklab[0], [1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(oklab[1], [0.62796, 0.22486, 0.12585], atol=1e-5)
    np.testing.assert_allclose(oklab[2], [0.0, 0.0, 0.0], atol=1e-9)


@pytest.mark.parametrize("space", ["rgb", "lab", "oklab"])
def test_round_trip(colors, space):
    rgba = np.column_stack([colors, colors[:, 0]])
    # With alpha 0 the colour is hidden: it comes back as 0.
    visible_rgba = np.where(rgba[:, 3:] == 0, 0, rgba)
    for values, expected in ((colors, colors), (rgba, visible_rgba)):
        back = from_space(to_space(values, space), space)
        np.testing.assert_allclose(back, expected, atol=1e-3)


def test_translucent_colours_are_premultiplied():
    rgba = np.array([[200, 100, 50, 51], [10, 250, 90, 0], [255, 0, 0, 0]], np.uint8)
    np.testing.assert_allclose(to_space(rgba, "rgb"), [[40, 20, 10, 51], [0] * 4, [0] * 4])
    # Over black, (200, 100, 50) at alpha 51 looks like opaque (40, 20, 10).
    np.testing.assert_allclose(
        to_space(rgba, "lab")[0, :3], rgb_to_lab(np.array([[40.0, 20.0, 10.0]]))[0]
    )
    assert (to_space(rgba[1:], "oklab") == 0).all()  # hidden colours do not count


def test_visible_lab_of_8_bit_rgba_equals_the_premultiplied_floats(rng):
    # 8-bit RGBA is looked up in a table of every (alpha, channel) pair: the same
    # values, to the last bit, as premultiplying and converting the floats.
    rgba = rng.integers(0, 256, (20000, 4), dtype=np.uint8)
    rgba[:256, 3] = np.arange(256)
    expected = rgb_to_lab(premultiply(rgba)[:, :3])
    np.testing.assert_array_equal(visible_lab(rgba), expected)
    np.testing.assert_array_equal(visible_lab(rgba.astype(np.float64)), expected)
    np.testing.assert_array_equal(visible_lab(rgba[:, :3]), rgb_to_lab(rgba[:, :3]))
    for space in ("lab", "oklab"):
        float_coordinates = to_space(rgba.astype(np.float64), space)
        np.testing.assert_array_equal(to_space(rgba, space), float_coordinates)


def test_unpremultiply_divides_by_the_rounded_alpha():
    values = np.array([[2.0, 1.0, 0.0, 2.4], [5.0, 5.0, 5.0, 0.3], [300.0, 0.0, 0.0, 300.0]])
    np.testing.assert_allclose(
        unpremultiply(values), [[255.0, 127.5, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0], [255, 0, 0, 255]]
    )
    rgba = np.array([[17, 34, 51, 3], [250, 128, 1, 200]], np.uint8)
    np.testing.assert_allclose(unpremultiply(premultiply(rgba)), rgba)


def test_out_of_gamut_is_clipped():
    rgb = from_space(np.array([[50.0, 120.0, 0.0], [150.0, 0.0, 0.0]]), "lab")
    assert rgb.min() >= 0 and rgb.max() <= 255


def test_delta_e_equals_scikit_image(colors):
    a, b = colors, colors[::-1]
    expected = color.deltaE_ciede2000(
        color.rgb2lab(a[:, None, :] / 255.0)[:, 0], color.rgb2lab(b[:, None, :] / 255.0)[:, 0]
    )
    np.testing.assert_allclose(delta_e_ciede2000(a, b), expected, atol=1e-9)
    assert (delta_e_ciede2000(a, a) == 0).all()


def test_unknown_space_is_refused():
    with pytest.raises(ValueError, match="color_space must be one of rgb, lab, oklab, got 'xyz'"):
        check_color_space("xyz")
