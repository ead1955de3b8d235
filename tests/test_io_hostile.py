"""Hostile files: formats that run other programs, endless progressive JPEGs, PSD."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from hostile import ENDLESS_EPS, many_scans_jpeg, psd_file, tiff_with_samples_per_pixel
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


def test_a_tiff_with_broken_tags_is_one_error_line(tmp_path, capfd):
    source = tmp_path / "broken.tif"
    source.write_bytes(tiff_with_samples_per_pixel(9000))
    assert main(["compress", str(source), "-o", str(tmp_path / "out.png")]) == 1
    err = capfd.readouterr().err
    assert err.splitlines() == [
        f"kpalette: error: cannot decode {source}: a damaged or unsupported TIFF file"
    ]
    assert not (tmp_path / "out.png").exists()


def test_library_log_lines_of_a_run_that_succeeds_are_warnings_once(tmp_path, capfd, monkeypatch):
    import logging

    from PIL import PngImagePlugin

    real_open = PngImagePlugin.PngImageFile._open

    def noisy_open(self):
        for _ in range(3):
            logging.getLogger("PIL.PngImagePlugin").warning("odd chunk %s", "xYzW")
        return real_open(self)

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "_open", noisy_open)
    source = tmp_path / "in.png"
    Image.fromarray(np.arange(768, dtype=np.uint8).reshape(16, 16, 3)).save(source)
    assert main(["compress", str(source), "-o", str(tmp_path / "out.png"), "-k", "2"]) == 0
    err = capfd.readouterr().err
    assert err.splitlines() == ["kpalette: warning: odd chunk xYzW"]
