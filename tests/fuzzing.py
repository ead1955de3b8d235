"""Mutated image files for the fuzz test (tests/test_fuzz.py) and bench/fuzz.py.

Small valid files in nine formats are made with Pillow (and, for PSD, progressive JPEGs
with repeated scans and an endless EPS, by tests/hostile.py), then damaged the ways real
files are: bytes flipped, cut short, bytes inserted or dropped, PNG chunks edited with
valid CRCs (so that the damage reaches the decoder), header fields changed, the zlib
stream of the image data recompressed with changes.
"""

from __future__ import annotations

import io
import random
import struct
import zlib

import numpy as np
from PIL import Image

from hostile import ENDLESS_EPS, many_scans_jpeg, psd_file

FORMATS = (
    "png",
    "png-rgba",
    "png-p",
    "png-l16",
    "jpeg",
    "jpeg-progressive",
    "jpeg-scans",
    "gif",
    "webp",
    "tiff",
    "bmp",
    "psd",
    "eps",
)
#: Kinds whose seed file itself is refused: PostScript runs a program (Ghostscript),
#: so no EPS is ever decoded, damaged or not.
REFUSED = frozenset({"eps"})


def seed_files() -> dict[str, bytes]:
    """One small valid file per kind, made from a gradient with a few flat patches."""
    y, x = np.mgrid[0:12, 0:16]
    rgb = np.stack([x * 16, y * 20, (x + y) * 8], axis=-1).astype(np.uint8)
    rgb[2:5, 3:9] = [200, 30, 30]
    alpha = np.where((x + y) % 5 == 0, 0, 255).astype(np.uint8)
    files = {}
    for kind in FORMATS:
        buffer = io.BytesIO()
        if kind == "png":
            Image.fromarray(rgb).save(buffer, "PNG")
        elif kind == "png-rgba":
            Image.fromarray(np.dstack([rgb, alpha])).save(buffer, "PNG")
        elif kind == "png-p":
            Image.fromarray(rgb).quantize(8).save(buffer, "PNG", transparency=0)
        elif kind == "png-l16":
            Image.fromarray((x * 4000).astype(np.uint16)).save(buffer, "PNG")
        elif kind == "gif":
            frames = [Image.fromarray(rgb).quantize(16), Image.fromarray(rgb[::-1]).quantize(16)]
            frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
        elif kind == "tiff":
            Image.fromarray(rgb).save(buffer, "TIFF", compression="tiff_adobe_deflate")
        elif kind == "jpeg-progressive":
            Image.fromarray(rgb).save(buffer, "JPEG", progressive=True)
        elif kind == "jpeg-scans":  # a progressive JPEG with repeated scans, under the limit
            buffer.write(many_scans_jpeg(20, size=(16, 12)))
        elif kind == "psd":
            buffer.write(psd_file(rgb))
        elif kind == "eps":
            buffer.write(ENDLESS_EPS)
        else:
            Image.fromarray(rgb).save(buffer, kind.upper())
        files[kind] = buffer.getvalue()
    return files


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]] | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    chunks, position = [], 8
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        chunks.append((kind, body))
        position += 12 + length
    return chunks


def _png(chunks: list[tuple[bytes, bytes]]) -> bytes:
    parts = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        parts.append(struct.pack(">I", len(body)) + kind + body + crc)
    return b"".join(parts)


def _edit_png(data: bytes, rng: random.Random) -> bytes:
    chunks = _png_chunks(data)
    if not chunks:
        return data
    index = rng.randrange(len(chunks))
    kind, body = chunks[index]
    action = rng.choice(["header", "drop", "repeat", "body", "zlib", "swap"])
    if action == "header" and chunks[0][0] == b"IHDR":
        header = bytearray(chunks[0][1].ljust(13, b"\x00"))  # a shortened header too
        field = rng.choice([0, 4, 8, 9, 10, 11, 12])
        if field in (0, 4):  # width or height
            value = rng.choice([0, 1, 2**31 - 1, 2**16, rng.randrange(1, 40000)])
            header[field : field + 4] = struct.pack(">I", value)
        else:
            header[field] = rng.randrange(256)
        chunks[0] = (b"IHDR", bytes(header))
    elif action == "drop":
        del chunks[index]
    elif action == "repeat":
        chunks.insert(index, (kind, body))
    elif action == "body" and body:
        changed = bytearray(body)
        changed[rng.randrange(len(changed))] ^= 1 << rng.randrange(8)
        chunks[index] = (kind, bytes(changed))
    elif action == "zlib":
        streams = [i for i, (k, _) in enumerate(chunks) if k == b"IDAT"]
        if streams:
            try:
                raw = bytearray(zlib.decompress(b"".join(chunks[i][1] for i in streams)))
            except zlib.error:
                return _png(chunks)
            if raw:
                for _ in range(rng.randrange(1, 4)):  # filter types and samples
                    raw[rng.randrange(len(raw))] = rng.randrange(256)
                if rng.random() < 0.3:
                    raw = raw[: rng.randrange(len(raw))]
            first = streams[0]
            chunks = [c for i, c in enumerate(chunks) if i not in streams[1:]]
            chunks[first] = (b"IDAT", zlib.compress(bytes(raw), rng.randrange(10)))
    elif action == "swap" and len(chunks) > 2:
        other = rng.randrange(len(chunks))
        chunks[index], chunks[other] = chunks[other], chunks[index]
    return _png(chunks)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """``data`` damaged by one to three random edits."""
    data = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        action = rng.choice(["flip", "flip", "truncate", "insert", "drop", "png", "png", "byte"])
        if not data:
            break
        if action == "flip":
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif action == "byte":
            data[rng.randrange(len(data))] = rng.choice([0, 255, 0x7F, 0x80, rng.randrange(256)])
        elif action == "truncate":
            data = data[: rng.randrange(len(data))]
        elif action == "insert":
            at = rng.randrange(len(data) + 1)
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        elif action == "drop":
            at = rng.randrange(len(data))
            del data[at : at + rng.randrange(1, 16)]
        else:
            data = bytearray(_edit_png(bytes(data), rng))
    return bytes(data)
