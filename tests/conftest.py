"""Shared fixtures: the reference images in ../shared/images and small synthetic ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def shared_image(name: str) -> Path:
    """Path of a reference image; fails (not skips) when the shared folder is missing."""
    path = SHARED_IMAGES / name
    if not path.is_file():
        pytest.fail(f"reference image missing: {path} (the tests need ../shared/images)")
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
