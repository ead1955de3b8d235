"""The output formats kpalette writes, by extension: which hold a palette, which are
lossy, how they treat alpha, and the largest image each holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..exceptions import ImageWriteError

#: Most colours a palette image (PNG, GIF) holds.
MAX_PALETTE_COLORS = 256


#: GIF has one transparent colour and no translucency: alpha below this is transparent.
GIF_ALPHA_THRESHOLD = 128


@dataclass(frozen=True)
class OutputFormat:
    """What kpalette writes for a file extension.

    Attributes
    ----------
    name : str
        Pillow's name of the format ("PNG").
    extensions : tuple of str
        Lower-case extensions, the first one preferred.
    palette : bool
        Written as a palette image (indices into at most 256 colours) unless full
        colour is asked for.
    truecolor : bool
        Can be written in full colour.
    lossy : bool
        The file's pixels may differ from the image encoded (JPEG).
    alpha : {"full", "binary", "none"}
        Transparency the format holds.
    max_side : int
        Most pixels a side the format holds (GIF's are 16-bit numbers, WebP's 14-bit,
        libjpeg's limit is 65,500).
    """

    name: str
    extensions: tuple[str, ...]
    palette: bool
    truecolor: bool
    lossy: bool
    alpha: str
    max_side: int


#: The output formats by short name: the registry the writer, the command line and the
#: docs use.
OUTPUT_FORMATS = {
    "png": OutputFormat("PNG", (".png",), True, True, False, "full", 2**31 - 1),
    "gif": OutputFormat("GIF", (".gif",), True, False, False, "binary", 65_535),
    "webp": OutputFormat("WEBP", (".webp",), False, True, False, "full", 16_383),
    "jpeg": OutputFormat("JPEG", (".jpg", ".jpeg"), False, True, True, "none", 65_500),
    "tiff": OutputFormat("TIFF", (".tif", ".tiff"), False, True, False, "full", 2**32 - 1),
}


#: Extensions written as palette (indexed) images, and the Pillow format for each.
PALETTE_FORMATS = {
    ext: fmt.name for fmt in OUTPUT_FORMATS.values() if fmt.palette for ext in fmt.extensions
}


#: Extensions written as full-colour images, and the Pillow format for each.
TRUECOLOR_FORMATS = {
    ext: fmt.name for fmt in OUTPUT_FORMATS.values() if fmt.truecolor for ext in fmt.extensions
}

#: Pillow's names of the lossy output formats.
LOSSY_FORMATS = frozenset(fmt.name for fmt in OUTPUT_FORMATS.values() if fmt.lossy)


def check_dimensions(image_format: str, height: int, width: int) -> None:
    """Raise ImageWriteError if ``image_format`` (Pillow's name) cannot hold an image of
    this size, saying which formats can."""
    for fmt in OUTPUT_FORMATS.values():
        if fmt.name == image_format and max(height, width) > fmt.max_side:
            others = [
                ext for other in OUTPUT_FORMATS.values() if max(height, width) <= other.max_side
                for ext in other.extensions[:1]
            ]  # fmt: skip
            raise ImageWriteError(
                f"{image_format} holds at most {fmt.max_side:,} pixels a side and this image "
                f"is {width:,}x{height:,}; write {' or '.join(others)} instead"
            )


def output_format(path) -> OutputFormat:
    """The :class:`OutputFormat` of an output path, by its extension.

    Raises
    ------
    ImageWriteError
        If the extension is not one kpalette writes.
    """
    suffix = Path(path).suffix.lower()
    for fmt in OUTPUT_FORMATS.values():
        if suffix in fmt.extensions:
            return fmt
    known = sorted(ext for fmt in OUTPUT_FORMATS.values() for ext in fmt.extensions)
    raise ImageWriteError(
        f"cannot write {str(path)!r}: unknown output extension {suffix or '(none)'!r}; "
        f"use one of {', '.join(known)}"
    )


def format_for_path(path, *, truecolor: bool = False) -> str:
    """Pillow format name for an output path, chosen by its extension.

    Raises
    ------
    ImageWriteError
        If the extension is not one kpalette writes.
    """
    fmt = output_format(path)
    if fmt.palette and not truecolor:
        return fmt.name
    if not fmt.truecolor:
        raise ImageWriteError(
            f"cannot write {str(path)!r} in full colour: {fmt.name} holds palette images only"
        )
    return fmt.name
