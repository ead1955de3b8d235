"""Animated GIF encoding: the blocks written here, the LZW compiled
(:mod:`kpalette._kernels.lzw`). (Bytes only: :mod:`kpalette.io` writes the files.)

One global colour table for every frame, a NETSCAPE2.0 block for the loop count,
and for each frame a graphic control extension (delay, disposal, transparent index)
and an image descriptor with its rectangle on the canvas. Why not Pillow's writer:
it decides itself which frames to crop and when to use transparency, differently
from one version to the next, and may give frames local colour tables; the frames
here are planned once (:mod:`kpalette.animation`) for GIF and APNG alike.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ._kernels.lzw import lzw_encode

__all__ = ["FrameRect", "encode_gif"]

#: GIF's disposal methods: leave the frame in place, or clear its rectangle.
KEEP, CLEAR = 1, 2


@dataclass(frozen=True)
class FrameRect:
    """One frame as stored: a rectangle of indices placed on the canvas.

    Attributes
    ----------
    x, y : int
        Its top-left corner on the canvas.
    indices : (h, w) uint8 array
        Palette indices; ``transparent`` where the canvas shows through.
    duration : int
        Milliseconds it is shown.
    dispose : int
        What happens to its rectangle before the next frame: ``KEEP`` or ``CLEAR``
        (to transparent).
    """

    x: int
    y: int
    indices: np.ndarray
    duration: int
    dispose: int = KEEP

    def check_inside(self, width: int, height: int) -> None:
        """Raise ValueError unless the rectangle lies on a ``width`` x ``height`` canvas."""
        h, w = np.shape(self.indices)
        if min(self.x, self.y) < 0 or self.x + w > width or self.y + h > height:
            raise ValueError(
                f"a frame of {w} x {h} at ({self.x}, {self.y}) is outside the "
                f"{width} x {height} canvas"
            )


def _code_size(n_entries: int) -> int:
    """Bits of a colour table of ``n_entries`` (1 to 8), and LZW's minimum code size."""
    bits = max(int(n_entries - 1).bit_length(), 1)
    return bits


def encode_gif(
    palette: np.ndarray,
    frames: list[FrameRect],
    *,
    width: int,
    height: int,
    plays: int = 0,
    transparent: int | None = None,
) -> bytes:
    """The bytes of a GIF of ``frames`` over one colour table.

    Parameters
    ----------
    palette : (m, 3) uint8 array
        The global colour table, 1 to 256 entries (padded to a power of two).
    frames : list of FrameRect
        Each inside the ``width`` x ``height`` canvas; the first covers it.
    plays : int
        How many times it is played: 0 for ever, 1 once (no NETSCAPE block), n for
        n - 1 repeats.
    transparent : int or None
        The palette index that lets the canvas show through, in every frame.

    Returns
    -------
    bytes
    """
    palette = np.asarray(palette, dtype=np.uint8)
    if palette.ndim != 2 or palette.shape[1] != 3 or not 1 <= len(palette) <= 256:
        raise ValueError(f"a GIF colour table is (1..256, 3), got {palette.shape}")
    if not (0 < width < 65536 and 0 < height < 65536):
        raise ValueError(f"a GIF is at most 65535 x 65535, got {width} x {height}")
    bits = _code_size(len(palette))
    table = np.zeros((1 << bits, 3), dtype=np.uint8)
    table[: len(palette)] = palette
    parts = [
        b"GIF89a",
        struct.pack("<HHBBB", width, height, 0x80 | 0x70 | (bits - 1), 0, 0),
        table.tobytes(),
    ]
    if plays != 1:
        repeats = 0 if plays == 0 else min(plays - 1, 65535)
        parts.append(b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", repeats) + b"\x00")
    for frame in frames:
        parts.append(_frame_bytes(frame, bits, width, height, transparent))
    parts.append(b"\x3b")
    return b"".join(parts)


def _frame_bytes(frame: FrameRect, bits: int, width: int, height: int, transparent) -> bytes:
    indices = np.ascontiguousarray(frame.indices, dtype=np.uint8)
    h, w = indices.shape
    frame.check_inside(width, height)
    delay = min(max(int(round(frame.duration / 10)), 1), 65535)  # hundredths of a second
    flags = (frame.dispose << 2) | (1 if transparent is not None else 0)
    control = b"\x21\xf9\x04" + struct.pack("<BHB", flags, delay, transparent or 0) + b"\x00"
    descriptor = b"\x2c" + struct.pack("<HHHHB", frame.x, frame.y, w, h, 0)
    min_code_size = max(bits, 2)
    data = lzw_encode(indices.reshape(-1), min_code_size)
    blocks = b"".join(
        bytes((len(data[i : i + 255]),)) + data[i : i + 255] for i in range(0, len(data), 255)
    )
    return control + descriptor + bytes((min_code_size,)) + blocks + b"\x00"
