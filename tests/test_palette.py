from __future__ import annotations

import json

import numpy as np
import pytest

from kpalette.palette import format_palette, sort_by_share, swatch_image, to_hex

PALETTE = np.array([[255, 0, 0], [0, 128, 255], [1, 2, 3]], dtype=np.uint8)


def test_sort_by_share_drops_unused_and_remaps():
    indices = np.array([[1, 1, 1], [0, 1, 0]])
    palette, remapped, counts, _ = sort_by_share(np.vstack([PALETTE, [[9, 9, 9]]]), indices)
    np.testing.assert_array_equal(palette, PALETTE[[1, 0]])
    np.testing.assert_array_equal(counts, [4, 2])
    np.testing.assert_array_equal(palette[remapped], PALETTE[indices])


def test_hex_and_alpha():
    assert to_hex(PALETTE) == ["#ff0000", "#0080ff", "#010203"]
    assert to_hex(np.array([[1, 2, 3, 255], [1, 2, 3, 16]])) == ["#010203", "#01020310"]


def test_formats():
    counts = np.array([50, 30, 20])
    assert format_palette(PALETTE, counts, "hex").splitlines()[0] == "#ff0000  50.00%"
    data = json.loads(format_palette(PALETTE, counts, "json", name="x"))
    assert data["colors"][1] == {"hex": "#0080ff", "rgb": [0, 128, 255], "share": 0.3, "pixels": 30}
    gpl = format_palette(PALETTE, counts, "gpl", name="x").splitlines()
    assert gpl[:2] == ["GIMP Palette", "Name: x"] and gpl[4].split()[:3] == ["255", "0", "0"]
    css = format_palette(PALETTE, counts, "css", name="My Photo")
    assert "--my-photo-2: #0080ff; /* 30.00% */" in css
    with pytest.raises(ValueError, match="unknown palette format 'yaml'"):
        format_palette(PALETTE, counts, "yaml")


def test_swatch_image_layout():
    image = swatch_image(PALETTE, size=4, columns=2)
    assert image.shape == (8, 8, 3)
    np.testing.assert_array_equal(image[0, 0], PALETTE[0])
    np.testing.assert_array_equal(image[5, 1], PALETTE[2])
    np.testing.assert_array_equal(image[5, 6], [255, 255, 255])
