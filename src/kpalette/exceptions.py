"""Exceptions and warnings raised by kpalette.

The library raises these; the command line turns each error into one line
``kpalette: error: <message>`` and a non-zero exit status, and each warning into one
line ``kpalette: warning: <message>``.
"""


class KPaletteError(Exception):
    """Base class of every error kpalette raises on purpose."""


class ImageReadError(KPaletteError):
    """An input could not be read as an image (missing, not an image, truncated, too large)."""


class ImageWriteError(KPaletteError):
    """An output could not be written (missing folder, bad format, the input itself)."""


class OutputExistsError(ImageWriteError):
    """The output file exists and overwriting was not asked for."""


class KPaletteWarning(UserWarning):
    """A non-fatal problem: fewer distinct colours than requested, no convergence,
    frames left out of an animated input, a translucent palette written to GIF."""
