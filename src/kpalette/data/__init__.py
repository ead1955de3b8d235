"""The sample photo bundled with kpalette."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["sample_image_path"]


def sample_image_path(name: str = "coffee.png") -> Path:
    """Path of a bundled CC0 photo (``coffee.png``: 600x400 RGB, by Rachel Michetti)."""
    path = Path(str(resources.files(__name__).joinpath(name)))
    if not path.is_file():
        raise FileNotFoundError(f"no bundled sample image named {name!r}")
    return path
