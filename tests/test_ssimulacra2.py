"""SSIMULACRA2: equal to the reference package (``ssimulacra2``) on real photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import kpalette
from conftest import data_image, shared_image
from kpalette.ssimulacra2 import ssimulacra2

reference = pytest.importorskip("ssimulacra2")


def _package_score(tmp_path, a: np.ndarray, b: np.ndarray) -> float:
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(b).save(tmp_path / "b.png")
    return float(reference.compute_ssimulacra2(str(tmp_path / "a.png"), str(tmp_path / "b.png")))


def _distortions(image: np.ndarray, rng) -> list[np.ndarray]:
    noisy = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    return [
        kpalette.quantize(image, 8, tune="mse").to_array(),
        kpalette.quantize(image, 64).to_array(),
        kpalette.quantize(image, 16, dither=True).to_array(),
        noisy,
    ]


@pytest.mark.parametrize("name", ["astronaut-crop.png", "hubble-crop.png", "rocket.jpg"])
def test_equals_the_reference_package_on_test_images(tmp_path, rng, name):
    image = np.asarray(Image.open(data_image(name)).convert("RGB"))
    for distorted in _distortions(image, rng):
        expected = _package_score(tmp_path, image, distorted)
        assert ssimulacra2(image, distorted) == pytest.approx(expected, abs=0.05)


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("name", ["coffee.png", "chelsea.png", "logo.png"])
def test_within_half_a_point_of_the_reference_package_on_photos(tmp_path, rng, name):
    image = np.asarray(Image.open(shared_image(name)).convert("RGB"))
    for distorted in _distortions(image, rng)[:2]:
        expected = _package_score(tmp_path, image, distorted)
        assert abs(ssimulacra2(image, distorted) - expected) < 0.5


def test_identical_images_score_100_and_worse_images_less(rng):
    image = np.asarray(Image.open(data_image("chelsea-crop.png")).convert("RGB"))
    assert ssimulacra2(image, image) == 100.0
    scores = [
        ssimulacra2(image, kpalette.quantize(image, k, tune="mse").to_array()) for k in (4, 16, 64)
    ]
    assert scores[0] < scores[1] < scores[2] < 100


def _over_grey(rgba: np.ndarray) -> np.ndarray:
    """RGBA blended over 0.5 in linear light, back in sRGB (uint8)."""
    linear = (rgba[..., :3] / 255.0 + 0.055) / 1.055
    linear = np.where(rgba[..., :3] <= 10, rgba[..., :3] / 255.0 / 12.92, linear**2.4)
    alpha = rgba[..., 3:] / 255.0
    mixed = alpha * linear + (1 - alpha) * 0.5
    srgb = np.where(mixed <= 0.0031308, 12.92 * mixed, 1.055 * mixed ** (1 / 2.4) - 0.055)
    return np.rint(srgb * 255).astype(np.uint8)


def test_alpha_is_blended_over_grey(rng):
    image = np.asarray(Image.open(data_image("astronaut-crop.png")).convert("RGB"))
    alpha = np.tile(np.linspace(0, 255, image.shape[1]).astype(np.uint8), (image.shape[0], 1))
    rgba = np.dstack([image, alpha])
    distorted = rgba.copy()
    distorted[..., :3] = kpalette.quantize(image, 8, tune="mse").to_array()
    assert ssimulacra2(rgba, rgba) == 100.0
    by_hand = ssimulacra2(_over_grey(rgba), _over_grey(distorted))
    assert ssimulacra2(rgba, distorted) == pytest.approx(by_hand, abs=1.0)
    assert ssimulacra2(rgba, distorted) > ssimulacra2(image, distorted[..., :3])  # hidden


def test_bad_images_are_refused_with_what_was_received():
    with pytest.raises(ValueError, match="same size"):
        ssimulacra2(np.zeros((9, 9, 3), np.uint8), np.zeros((9, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="at least 8x8"):
        ssimulacra2(np.zeros((7, 9, 3), np.uint8), np.zeros((7, 9, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        ssimulacra2(np.zeros((9, 9, 3)), np.zeros((9, 9, 3)))


def test_the_whole_image_in_bands_equals_one_pass():
    """Bands of rows with real halo rows give the one-pass score (a Reference holds
    every scale whole): an image of several bands, odd sizes at each scale."""
    from kpalette.ssimulacra2 import BAND_ROWS, Reference

    rng = np.random.default_rng(3)
    smooth = np.add.outer(np.arange(3 * BAND_ROWS + 37), np.arange(203))[..., None]
    image = ((smooth * np.array([1, 2, 3])) % 256).astype(np.uint8)
    noisy = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    assert ssimulacra2(image, noisy) == pytest.approx(Reference(image).score(noisy), abs=1e-9)
