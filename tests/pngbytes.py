"""Hand-made PNG files for cases Pillow does not write (16-bit RGB, lying headers)."""

from __future__ import annotations

import struct
import zlib

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int, height: int, bit_depth: int, color_type: int, raw_rows: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw_rows))
        + _chunk(b"IEND", b"")
    )


def rgb16_png(samples: np.ndarray) -> bytes:
    """A 16-bit RGB PNG of an (H, W, 3) uint16 array."""
    height, width, _ = samples.shape
    rows = b"".join(b"\x00" + samples[y].astype(">u2").tobytes() for y in range(height))
    return png_bytes(width, height, 16, 2, rows)


def huge_header_png(width: int, height: int) -> bytes:
    """A tiny file whose header claims a huge 1-bit grey image (a decompression bomb)."""
    return png_bytes(width, height, 1, 0, b"\x00" * 16)
