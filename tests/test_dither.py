"""Floyd-Steinberg error diffusion: the compiled kernel against the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest

import reference
from kpalette import dither as kpalette_dither
from kpalette import quantize
from kpalette._kernels import dithering
from kpalette.colorspace import premultiply
from kpalette.dither import dither


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize(
    ("level", "quiet2", "loud2", "damping"),
    [(1.0, 0.0, np.inf, 1.0), (0.6, 0.0, np.inf, 1.0), (0.0, 0.0, np.inf, 1.0),
     (15 / 16, 30.0, 900.0, 0.75), (1.0, 0.0, 100.0, 0.5)],
)  # fmt: skip
def test_kernel_equals_reference(rng, channels, level, quiet2, loud2, damping):
    image = rng.integers(0, 256, (19, 23, channels), dtype=np.uint8)
    palette = rng.integers(0, 256, (13, channels)).astype(np.float64)
    skip = rng.random(image.shape[:2]) < 0.1
    out = np.empty(image.shape[:2], dtype=np.int32)
    dithering.floyd_steinberg(
        image, palette, np.arange(13), level, quiet2, loud2, damping, skip, 99, out
    )
    expected = reference.floyd_steinberg(
        image, palette, level, skip, quiet2=quiet2, loud2=loud2, damping=damping
    )
    np.testing.assert_array_equal(out, np.where(expected < 0, 99, expected))


def _as_kpalette_dithers(image, palette, strength=1.0):
    """The reference run with kpalette's rules (module dither's constants), the
    damping threshold from the mean squared nearest-entry distance of the same
    sample of pixels."""
    pixels = image.reshape(-1, image.shape[2])
    sample = pixels[:: max(1, len(pixels) // kpalette_dither.SAMPLED_PIXELS)].astype(np.float64)
    _, distances = reference.assign(sample, palette.astype(np.float64))
    return reference.floyd_steinberg(
        image,
        palette,
        kpalette_dither.DECAY * strength,
        quiet2=kpalette_dither.QUIET_ERROR**2,
        loud2=kpalette_dither.LOUD_RATIO * distances.mean(),
        damping=kpalette_dither.DAMPING,
    )


@pytest.mark.parametrize("spread", [255, 20])
def test_candidate_lists_hold_the_nearest_entry(rng, spread):
    palette = (100 + rng.integers(0, spread, (40, 3)) - spread // 2).astype(np.float64)
    cell_of, lows, highs = dithering.palette_grid(palette, 8)
    everything = np.arange(len(palette), dtype=np.int32)
    points = rng.integers(0, 256, (3000, 3))
    nearest, _ = reference.assign(points.astype(np.float64), palette)
    out = np.empty(len(palette), dtype=np.int32)
    sizes = []
    for point, best in zip(points, nearest, strict=True):
        cells = [cell_of[t, point[t]] for t in range(3)]
        low = np.array([lows[t, c] for t, c in enumerate(cells)])
        high = np.array([highs[t, c] for t, c in enumerate(cells)])
        n = dithering.cell_candidates(palette, everything, low, high, out)
        assert best in out[:n], point
        # A box inside this one finds its candidates among this one's.
        inner = dithering.cell_candidates(palette, out[:n].copy(), point * 1.0, point * 1.0, out)
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
        dither(small_photo, q.palette), _as_kpalette_dithers(small_photo, q.palette)
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
    # pngquant's default dithering leaves 30% of it (3.95 of 13.3 here)
    assert noise < 0.3 * banding, (noise, banding)


def test_damped_diffusion_beats_plain_floyd_steinberg_on_a_photo(small_photo):
    from scipy.ndimage import gaussian_filter

    from kpalette.png import encode_palette_png

    q = quantize(small_photo, 12)
    plain = np.empty(small_photo.shape[:2], dtype=np.uint8)
    dithering.floyd_steinberg(
        small_photo, q.palette.astype(np.float64), np.arange(12), 1.0, 0.0, np.inf, 1.0,
        np.zeros(small_photo.shape[:2], np.uint8), 0, plain,
    )  # fmt: skip
    damped = dither(small_photo, q.palette)
    target = small_photo.astype(np.float64)

    def errors(indices):
        picture = q.palette[indices].astype(np.float64)
        from_afar = gaussian_filter(picture - target, sigma=(1, 1, 0))
        return ((picture - target) ** 2).mean(), (from_afar**2).mean()

    plain_mse, plain_afar = errors(plain)
    damped_mse, damped_afar = errors(damped)
    nearest_mse, nearest_afar = errors(q.indices)
    assert damped_mse < 0.9 * plain_mse  # fewer streaks of wrong colour
    assert damped_afar < nearest_afar  # still smoother than no dithering
    assert len(encode_palette_png(q.palette, damped)) < len(encode_palette_png(q.palette, plain))


def test_strength_zero_is_the_nearest_colour(small_photo):
    q = quantize(small_photo, 8, tune="mse")
    np.testing.assert_array_equal(
        q.palette[dither(small_photo, q.palette, strength=0)], q.to_array()
    )


def test_transparent_pixels_keep_the_transparent_entry(small_photo):
    rgba = np.dstack([small_photo, np.full(small_photo.shape[:2], 255, np.uint8)])
    rgba[:, :30] = [10, 200, 10, 0]
    q = quantize(rgba, 5, dither=True, tune="mse")
    assert q.dither == 1.0
    transparent = q.palette[q.indices[:, :30]]
    assert (transparent == 0).all()
    assert (q.palette[q.indices[:, 30:]][..., 3] == 255).all()
    # The visible part is dithered as if alone (only colour channels diffused).
    visible = np.ascontiguousarray(rgba[:, 30:, :3])
    opaque = q.palette[q.palette[:, 3] == 255]
    expected = _as_kpalette_dithers(visible, opaque[:, :3])
    np.testing.assert_array_equal(q.palette[q.indices[:, 30:]], opaque[expected])


def test_translucent_palettes_diffuse_alpha(rng):
    image = np.zeros((16, 16, 4), np.uint8)
    image[..., 0] = 200
    image[..., 3] = np.linspace(0, 255, 16).astype(np.uint8)[None, :]
    palette = np.array([[200, 0, 0, 255], [200, 0, 0, 128], [200, 0, 0, 1]], np.uint8)
    indices = dither(image, palette)
    visible = np.rint(premultiply(image)).astype(np.uint8)
    expected = _as_kpalette_dithers(visible, premultiply(palette))
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
