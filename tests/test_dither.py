"""Floyd-Steinberg error diffusion: the compiled kernel against the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest

import reference
from kpalette import _kernels, quantize
from kpalette.colorspace import premultiply
from kpalette.dither import dither


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("strength", [1.0, 0.6, 0.0])
def test_kernel_equals_reference(rng, channels, strength):
    image = rng.integers(0, 256, (19, 23, channels), dtype=np.uint8)
    palette = rng.integers(0, 256, (13, channels)).astype(np.float64)
    skip = rng.random(image.shape[:2]) < 0.1
    out = np.empty(image.shape[:2], dtype=np.int32)
    _kernels.floyd_steinberg(image, palette, np.arange(13), strength, skip, 99, out)
    expected = reference.floyd_steinberg(image, palette, strength, skip)
    np.testing.assert_array_equal(out, np.where(expected < 0, 99, expected))


@pytest.mark.parametrize("spread", [255, 20])
def test_candidate_lists_hold_the_nearest_entry(rng, spread):
    palette = (100 + rng.integers(0, spread, (40, 3)) - spread // 2).astype(np.float64)
    cell_of, lows, highs = _kernels.palette_grid(palette, 8)
    everything = np.arange(len(palette), dtype=np.int32)
    points = rng.integers(0, 256, (3000, 3))
    nearest, _ = reference.assign(points.astype(np.float64), palette)
    out = np.empty(len(palette), dtype=np.int32)
    sizes = []
    for point, best in zip(points, nearest, strict=True):
        cells = [cell_of[t, point[t]] for t in range(3)]
        low = np.array([lows[t, c] for t, c in enumerate(cells)])
        high = np.array([highs[t, c] for t, c in enumerate(cells)])
        n = _kernels.cell_candidates(palette, everything, low, high, out)
        assert best in out[:n], point
        # A box inside this one finds its candidates among this one's.
        inner = _kernels.cell_candidates(palette, out[:n].copy(), point * 1.0, point * 1.0, out)
        assert best in out[:inner]
        sizes.append(n)
    if spread == 255:
        assert np.mean(sizes) < len(palette) / 2  # and the lists do prune
    # Each value falls in a cell whose bounds hold it.
    for axis in range(3):
        values = np.arange(256)
        cells = cell_of[axis]
        assert (lows[axis, cells] <= values).all() and (values <= highs[axis, cells]).all()


def test_photo_dither_equals_reference(small_photo):
    q = quantize(small_photo, 6)
    np.testing.assert_array_equal(
        dither(small_photo, q.palette), reference.floyd_steinberg(small_photo, q.palette, 1.0)
    )


def test_dithered_gradient_looks_like_the_gradient_from_afar():
    from scipy.ndimage import gaussian_filter

    ramp = np.linspace(0, 255, 256)
    image = np.repeat(np.repeat(ramp[None, :, None], 64, axis=0), 3, axis=2).astype(np.uint8)
    q = quantize(image, 4)
    plain = q.to_array().astype(np.float64)
    dithered = q.palette[dither(image, q.palette)].astype(np.float64)

    def seen_from_afar(picture):
        return gaussian_filter(picture, sigma=(3, 3, 0))[8:-8, 8:-8]

    target = seen_from_afar(image.astype(np.float64))
    banding = np.abs(seen_from_afar(plain) - target).mean()
    noise = np.abs(seen_from_afar(dithered) - target).mean()
    assert noise < banding / 4, (noise, banding)


def test_strength_zero_is_the_nearest_colour(small_photo):
    q = quantize(small_photo, 8)
    np.testing.assert_array_equal(
        q.palette[dither(small_photo, q.palette, strength=0)], q.to_array()
    )


def test_transparent_pixels_keep_the_transparent_entry(small_photo):
    rgba = np.dstack([small_photo, np.full(small_photo.shape[:2], 255, np.uint8)])
    rgba[:, :30] = [10, 200, 10, 0]
    q = quantize(rgba, 5, dither=True)
    assert q.dither == 1.0
    transparent = q.palette[q.indices[:, :30]]
    assert (transparent == 0).all()
    assert (q.palette[q.indices[:, 30:]][..., 3] == 255).all()
    # The visible part is dithered as if alone (only colour channels diffused).
    visible = np.ascontiguousarray(rgba[:, 30:, :3])
    opaque = q.palette[q.palette[:, 3] == 255]
    expected = reference.floyd_steinberg(visible, opaque[:, :3], 1.0)
    np.testing.assert_array_equal(q.palette[q.indices[:, 30:]], opaque[expected])


def test_translucent_palettes_diffuse_alpha(rng):
    image = np.zeros((16, 16, 4), np.uint8)
    image[..., 0] = 200
    image[..., 3] = np.linspace(0, 255, 16).astype(np.uint8)[None, :]
    palette = np.array([[200, 0, 0, 255], [200, 0, 0, 128], [200, 0, 0, 1]], np.uint8)
    indices = dither(image, palette)
    visible = np.rint(premultiply(image)).astype(np.uint8)
    expected = reference.floyd_steinberg(visible, premultiply(palette), 1.0)
    np.testing.assert_array_equal(indices, expected)
    assert set(np.unique(indices)) == {0, 1, 2}


def test_hidden_colours_of_translucent_pixels_take_no_part():
    # Nearly transparent pixels whose hidden colour is far from every entry: matched
    # as they show (premultiplied), they take the faint entry, not the opaque one
    # whose colour is nearest in straight RGBA.
    image = np.zeros((8, 8, 4), np.uint8)
    image[...] = [250, 250, 250, 8]
    palette = np.array([[250, 250, 250, 255], [0, 0, 0, 10]], np.uint8)
    assert (dither(image, palette, strength=0.0) == 1).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.zeros((4, 4, 3), np.uint8), np.zeros((2, 4), np.uint8)), r"\(k, 3\) palette"),
        ((np.zeros((4, 4), np.uint8), np.zeros((2, 3), np.uint8)), "expected an"),
        ((np.zeros((4, 4, 3), np.uint8), np.zeros((2000, 3), np.uint8)), "at most 1024"),
    ],
)
def test_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        dither(*args)


@pytest.mark.parametrize("strength", [-0.1, 1.5, "x", True])
def test_bad_strength(small_photo, strength):
    with pytest.raises(ValueError, match="dither strength"):
        dither(small_photo, np.zeros((2, 3), np.uint8), strength=strength)
