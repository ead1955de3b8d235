"""Hostile files: formats that run other programs, endless progressive JPEGs, PSD."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hostile import ENDLESS_EPS, many_scans_jpeg, psd_file
from kpalette import load_image
from kpalette.cli import main
from kpalette.exceptions import ImageReadError
from kpalette.io import MAX_JPEG_SCANS


def test_an_eps_is_refused_without_running_ghostscript(tmp_path, capsys):
    path = tmp_path / "loop.eps"
    path.write_bytes(ENDLESS_EPS)
    started = time.monotonic()
    with pytest.raises(ImageReadError, match="not an image file kpalette reads"):
        load_image(path)
    status = main(["compress", str(path), "-o", str(tmp_path / "out.png")])
    out, err = capsys.readouterr()
    assert status == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("kpalette: error: not an image file kpalette reads")
    assert time.monotonic() - started < 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop.eps"]


def test_a_progressive_jpeg_of_too_many_scans_is_refused_before_decoding(tmp_path):
    path = tmp_path / "scans.jpg"
    path.write_bytes(many_scans_jpeg(MAX_JPEG_SCANS + 50))
    with pytest.raises(ImageReadError, match=r"progressive JPEG of \d+ scans"):
        load_image(path)
    # A few repeated scans are read (libjpeg-turbo takes them as refinements).
    assert load_image(many_scans_jpeg(20)).shape == (48, 64, 3)


def test_a_flat_psd_is_read():
    rgb = (np.random.default_rng(2).random((30, 40, 3)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(load_image(psd_file(rgb)), rgb)
