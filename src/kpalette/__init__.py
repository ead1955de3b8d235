"""kpalette: colour quantization with real K-means.

>>> import kpalette
>>> result = kpalette.quantize("photo.jpg", 16)          # doctest: +SKIP
>>> result.save("photo-k16.png"); result.psnr            # doctest: +SKIP

The core (NumPy, Pillow, zlib-ng) is imported here; the plots and the explore page
(matplotlib, Plotly: the ``plot`` extra) are imported by :mod:`kpalette.plot` and
:mod:`kpalette.explore` when used.
"""

from __future__ import annotations

from . import progress
from .animation import QuantizedAnimation, quantize_animation
from .choose import KChoice, choose_k
from .data import sample_image_path
from .estimator import KMeans
from .exceptions import (
    ConvergenceWarning,
    ImageReadError,
    ImageWriteError,
    KPaletteError,
    KPaletteWarning,
    OutputExistsError,
    QualityTooLow,
)
from .fit import Fit, fit_histogram
from .histogram import ColorHistogram, color_histogram, image_histogram
from .io import Frames, load_image, read_frames
from .options import OptionError, Options
from .palette import format_palette
from .prepare import PreparedImage, prepare
from .quantize import fit_palette, quantize, quantize_many, remap
from .quantizer import KMeansQuantizer
from .result import QuantizedImage
from .ssimulacra2 import ssimulacra2
from .sweep import KSweep

#: The package's version: its one source (pyproject.toml reads it from here).
__version__ = "0.2.0.dev0"

__all__ = [
    "ColorHistogram",
    "Fit",
    "Frames",
    "ImageReadError",
    "ImageWriteError",
    "ConvergenceWarning",
    "KChoice",
    "KMeans",
    "KMeansQuantizer",
    "KPaletteError",
    "KPaletteWarning",
    "KSweep",
    "OptionError",
    "Options",
    "OutputExistsError",
    "PreparedImage",
    "QualityTooLow",
    "QuantizedAnimation",
    "QuantizedImage",
    "__version__",
    "choose_k",
    "color_histogram",
    "fit_histogram",
    "fit_palette",
    "format_palette",
    "image_histogram",
    "load_image",
    "prepare",
    "progress",
    "read_frames",
    "quantize",
    "quantize_animation",
    "quantize_many",
    "remap",
    "sample_image_path",
    "ssimulacra2",
]
