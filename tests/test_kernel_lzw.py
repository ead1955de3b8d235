"""kpalette._kernels.lzw (GIF's LZW) against reference.py, and decoded by Pillow."""

from __future__ import annotations

import io

import numpy as np
import pytest
from kpalette._kernels.lzw import lzw_encode
from PIL import Image

import reference
from kpalette.gif import FrameRect, encode_gif


@pytest.mark.parametrize(
    ("size", "colors"), [(0, 4), (1, 4), (7, 4), (5000, 16), (70_000, 256), (200_000, 3)]
)
def test_lzw_equals_reference(rng, size, colors):
    """Random indices (the table fills and is cleared), runs, and the edge sizes."""
    bits = max(int(colors - 1).bit_length(), 2)
    data = rng.integers(0, colors, size=size, dtype=np.uint8)
    if size > 1000:  # long runs among the noise, as palette images have
        data[size // 3 : size // 2] = 1
    assert lzw_encode(data, bits) == reference.lzw_encode(data, bits)


@pytest.mark.parametrize("colors", [2, 5, 64, 256])
def test_pillow_decodes_the_codes(rng, colors):
    """A frame of smooth and noisy parts, as GIF: Pillow reads back every index."""
    indices = (np.add.outer(np.arange(90) // 6, np.arange(130) // 9) % colors).astype(np.uint8)
    indices[40:60] = rng.integers(0, colors, size=(20, 130))
    palette = rng.integers(0, 256, size=(colors, 3), dtype=np.uint8)
    data = encode_gif(palette, [FrameRect(0, 0, indices, 100)], width=130, height=90, plays=1)
    with Image.open(io.BytesIO(data)) as img:
        assert np.array_equal(np.asarray(img), indices)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="min_code_size must be 2 to 8, got 9"):
        lzw_encode(np.zeros(4, np.uint8), 9)
    with pytest.raises(ValueError, match="an index is 4, not below 2 \\*\\* 2"):
        lzw_encode(np.array([0, 4], np.uint8), 2)
