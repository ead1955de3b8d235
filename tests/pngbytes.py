"""Hand-made PNG files for cases Pillow does not write (16-bit RGB, lying headers)."""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def chunk_kinds(data: bytes) -> list[bytes]:
    """The types of a PNG's chunks, in order, up to IEND."""
    kinds, position = [], len(SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        kinds.append(kind)
        if kind == b"IEND":
            break
        position += 12 + length
    return kinds


def header(width: int, height: int, bit_depth: int = 8, color_type: int = 2, interlace=0):
    """An IHDR chunk."""
    return chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    )


def image_data(raw_rows: bytes, piece: int | None = None) -> bytes:
    """IDAT chunks of the deflated ``raw_rows``, ``piece`` bytes each (one chunk if None)."""
    stream = zlib.compress(raw_rows)
    piece = piece or len(stream)
    return b"".join(chunk(b"IDAT", stream[i : i + piece]) for i in range(0, len(stream), piece))


def png_bytes(width: int, height: int, bit_depth: int, color_type: int, raw_rows: bytes) -> bytes:
    return (
        SIGNATURE
        + header(width, height, bit_depth, color_type)
        + image_data(raw_rows)
        + chunk(b"IEND", b"")
    )


def rgb16_png(samples: np.ndarray) -> bytes:
    """A 16-bit RGB PNG of an (H, W, 3) uint16 array."""
    height, width, _ = samples.shape
    rows = b"".join(b"\x00" + samples[y].astype(">u2").tobytes() for y in range(height))
    return png_bytes(width, height, 16, 2, rows)


def huge_header_png(width: int, height: int) -> bytes:
    """A tiny file whose header claims a huge 1-bit grey image (a decompression bomb)."""
    return png_bytes(width, height, 1, 0, b"\x00" * 16)
