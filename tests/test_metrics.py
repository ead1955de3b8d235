from __future__ import annotations

import numpy as np
import pytest

from kpalette.metrics import (
    bits_per_pixel,
    mean_squared_error,
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


def test_ssim_against_scikit_image(rng):
    from skimage.metrics import structural_similarity as ssim

    a = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 20, size=a.shape), 0, 255).astype(np.uint8)
    expected = ssim(a.astype(float), b.astype(float), channel_axis=2, data_range=255)
    assert structural_similarity(a, b) == pytest.approx(expected, rel=1e-5)
    assert structural_similarity(a, a) == pytest.approx(1.0)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"\(2, 2, 3\) and \(2, 3, 3\)"):
        mean_squared_error(np.zeros((2, 2, 3)), np.zeros((2, 3, 3)))


def test_bits_per_pixel():
    assert bits_per_pixel(100, 800) == 1.0
