"""kpalette._kernels.ssimulacra2 (SSIMULACRA2's blur and map sums) against reference.py."""

from __future__ import annotations

import numpy as np
import pytest

import reference
from kpalette._kernels import ssimulacra2 as kernel


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 4, 2), (17, 23, 15), (64, 9, 15), (5, 40, 3)])
def test_blur_equals_reference(rng, shape):
    """Edges included: images smaller than the kernel, mirrored rows, zero columns."""
    planes = rng.uniform(0, 1, size=shape).astype(np.float32)
    work, out = np.empty_like(planes), np.empty_like(planes)
    kernel.blur(planes, reference.TAPS, work, out)
    np.testing.assert_allclose(out, reference.ssimulacra2_blur(planes), rtol=1e-5, atol=1e-6)


def test_scale_sums_equal_reference(rng):
    """Smooth XYB-like planes and a distorted copy: the 18 numbers of a scale."""
    base = rng.uniform(0.3, 0.6, size=(40, 52, 3)).astype(np.float32)
    a = reference.ssimulacra2_blur(base)
    b = (a + rng.normal(0, 0.02, size=a.shape)).astype(np.float32)
    blurred_a = reference.ssimulacra2_blur(np.concatenate([a, a * a], axis=-1))
    blurred_b = reference.ssimulacra2_blur(np.concatenate([b, b * b, a * b], axis=-1))
    got = kernel.scale_sums(a, b, blurred_a, blurred_b, reference.C2)
    np.testing.assert_allclose(
        got, reference.ssimulacra2_scale_features(a, b), rtol=2e-4, atol=1e-7
    )


def test_arguments_are_checked():
    planes = np.zeros((4, 5, 3), np.float32)
    with pytest.raises(ValueError, match="taps must be an odd number up to 63, got 4"):
        kernel.blur(planes, np.ones(4, np.float32), planes.copy(), planes.copy())
    with pytest.raises(ValueError, match="out must have the planes' shape"):
        kernel.blur(planes, np.ones(3, np.float32), planes.copy(), np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="blurred_b must be"):
        kernel.scale_sums(
            planes, planes, np.zeros((4, 5, 6), np.float32), np.zeros((4, 5, 8), np.float32), 0.0009
        )
