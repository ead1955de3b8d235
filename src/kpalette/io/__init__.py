"""Reading and writing image files: the only part of kpalette that touches files.

By job: :mod:`.decode` reads a file (or a file's bytes) into an array through Pillow,
:mod:`.frames` reads every frame of an animation, :mod:`.profiles` converts embedded
colour profiles to sRGB, :mod:`.formats` says what each output extension is,
:mod:`.encode` turns a palette image or a full-colour one into file bytes, and
:mod:`.paths` checks destinations and writes atomically. The names below are the
package's; each module has its own.
"""

from ..options import DEFAULT_MAX_PIXELS, MAX_EXPANSION
from .decode import (
    EXPANSION_CHECKED_FROM,
    MAX_JPEG_SCAN_WORK,
    MAX_JPEG_SCANS,
    READ_FORMATS,
    decode_image,
    load_image,
)
from .encode import encode_indexed, encode_truecolor, save_indexed, save_truecolor
from .formats import (
    GIF_ALPHA_THRESHOLD,
    LOSSY_FORMATS,
    MAX_PALETTE_COLORS,
    OUTPUT_FORMATS,
    PALETTE_FORMATS,
    TRUECOLOR_FORMATS,
    OutputFormat,
    check_dimensions,
    format_for_path,
    output_format,
)
from .frames import ANIMATION_PIXEL_FACTOR, MAX_FRAMES, Frames, frame_count, read_frames
from .paths import check_destination, file_size, remove_stale_temporaries, write_bytes_atomic

__all__ = [
    "ANIMATION_PIXEL_FACTOR",
    "Frames",
    "MAX_FRAMES",
    "frame_count",
    "read_frames",
    "DEFAULT_MAX_PIXELS",
    "EXPANSION_CHECKED_FROM",
    "GIF_ALPHA_THRESHOLD",
    "LOSSY_FORMATS",
    "MAX_EXPANSION",
    "MAX_JPEG_SCANS",
    "MAX_JPEG_SCAN_WORK",
    "MAX_PALETTE_COLORS",
    "OUTPUT_FORMATS",
    "OutputFormat",
    "PALETTE_FORMATS",
    "READ_FORMATS",
    "TRUECOLOR_FORMATS",
    "check_destination",
    "check_dimensions",
    "decode_image",
    "encode_indexed",
    "encode_truecolor",
    "file_size",
    "format_for_path",
    "load_image",
    "output_format",
    "remove_stale_temporaries",
    "save_indexed",
    "save_truecolor",
    "write_bytes_atomic",
]
