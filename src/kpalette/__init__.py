"""kpalette: colour quantization with real K-means.

>>> import kpalette
>>> result = kpalette.quantize("photo.jpg", 16)          # doctest: +SKIP
>>> result.save("photo-k16.png"); result.psnr            # doctest: +SKIP

The public names are loaded on first use, so ``import kpalette`` (and the command
line's start-up) stays light: no NumPy or Pillow until they are needed.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_image": "io",
    "quantize": "result",
    "quantize_many": "result",
    "choose_k": "choose",
    "KChoice": "choose",
    "KSweep": "choose",
    "QuantizedImage": "result",
    "KMeansQuantizer": "kmeans",
    "KPaletteWarning": "exceptions",
    "KPaletteError": "exceptions",
    "ImageReadError": "exceptions",
    "ImageWriteError": "exceptions",
    "OutputExistsError": "exceptions",
    "color_histogram": "histogram",
    "format_palette": "palette",
    "sample_image_path": "data",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kpalette' has no attribute {name!r}")


def __dir__():
    return __all__
