"""Hostile files the decoder must refuse or read in bounded time (tests only)."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

#: An EPS whose PostScript never ends: Ghostscript would run it for ever.
ENDLESS_EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\n{ } loop\nshowpage\n%%EOF\n"


def psd_file(rgb: np.ndarray) -> bytes:
    """A flat, uncompressed 8-bit RGB Photoshop file (no layers) of ``rgb``."""
    height, width, _ = rgb.shape
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, resources, layers
    return header + sections + struct.pack(">H", 0) + rgb.transpose(2, 0, 1).tobytes()


def many_scans_jpeg(copies: int, size=(64, 48)) -> bytes:
    """A progressive JPEG whose smallest scan is repeated ``copies`` times."""
    rng = np.random.default_rng(0)
    rgb = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=90, progressive=True)
    data = buffer.getvalue()
    scans, position = [], 2
    while position < len(data) and data[position + 1] != 0xD9:
        marker = data[position + 1]
        end = position + 2 + struct.unpack(">H", data[position + 2 : position + 4])[0]
        if marker == 0xDA:  # entropy-coded data up to the next marker
            while data[end] != 0xFF or data[end + 1] == 0 or 0xD0 <= data[end + 1] <= 0xD7:
                end += 1
            scans.append((position, end))
        position = end
    start, end = min(scans, key=lambda scan: scan[1] - scan[0])
    return data[:end] + data[start:end] * copies + data[end:]


def tiff_with_samples_per_pixel(samples: int) -> bytes:
    """A small RGB TIFF whose SamplesPerPixel tag says ``samples``: Pillow logs an error
    line on its logger, then refuses the file."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "TIFF")
    data = buffer.getvalue()
    entry = b"\x15\x01\x03\x00\x01\x00\x00\x00"  # tag 277, SHORT, count 1 (little-endian)
    at = data.index(entry) + len(entry)
    return data[:at] + samples.to_bytes(2, "little") + data[at + 2 :]
