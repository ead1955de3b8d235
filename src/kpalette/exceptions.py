"""Exceptions raised by kpalette.

The library raises these; the command line turns each into one line
``kpalette: error: <message>`` and a non-zero exit status.
"""


class KPaletteError(Exception):
    """Base class of every error kpalette raises on purpose."""


class ImageReadError(KPaletteError):
    """An input could not be read as an image (missing, not an image, truncated, too large)."""


class ImageWriteError(KPaletteError):
    """An output could not be written (missing folder, bad format, the input itself)."""


class OutputExistsError(ImageWriteError):
    """The output file exists and overwriting was not asked for."""
