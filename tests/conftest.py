"""Shared fixtures: the small images in tests/data, the reference photos in
../shared/images, and small synthetic ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parent / "data"
SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def data_image(name: str) -> Path:
    """Path of a small test image shipped in tests/data (CC0 or public domain)."""
    path = DATA / name
    assert path.is_file(), f"missing test image {path}"
    return path


def shared_image(name: str) -> Path:
    """Path of a reference photo in ../shared/images; the test is skipped when the
    folder is absent (tests that call this are marked ``shared``)."""
    path = SHARED_IMAGES / name
    if not SHARED_IMAGES.is_dir():
        pytest.skip(f"needs the reference photos in {SHARED_IMAGES}, which is absent")
    if not path.is_file():
        pytest.fail(f"reference image missing: {path}")
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def small_photo():
    """A 60x80 crop of coffee.png: real photo colours, fast to cluster."""
    from kpalette import load_image
    from kpalette.data import sample_image_path

    return load_image(sample_image_path())[100:160, 200:280].copy()


def pytest_report_header(config):
    """Which kpalette the tests run against (tools/test installs it from a wheel)."""
    import kpalette

    return f"kpalette {kpalette.__version__} from {Path(kpalette.__file__).parent}"
