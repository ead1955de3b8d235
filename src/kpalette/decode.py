"""Decoding image files without NumPy, so that the command line can decode its input
in a thread while NumPy is being imported.

:func:`read` is what :func:`kpalette.io.load_image` calls to get the pixels; the array
is made there. It returns one of two things:

- a :class:`DecodedPNG`, for 8-bit RGB and RGBA PNGs (the common PNG, and what
  kpalette writes in full colour): the chunks are walked here, the image data
  inflated by zlib-ng, and the scanline filters undone by
  :mod:`kpalette._scanlines`, all into one ``bytearray`` that NumPy later wraps
  without a copy;
- an :class:`OpenedImage`, for every other file: the first frame decoded by Pillow.

Both zlib-ng and Pillow's decoders release the GIL while they work, and so does the
compiled filter loop. :func:`reading_ahead` runs :func:`read` in a thread, and
:func:`take` hands its result (or its error) to ``load_image``. The command line
starts it before NumPy is loaded: NumPy's import takes about 80 ms on a 2-core
machine, and a 2 MP PNG decodes in about 30 ms, a 9 MP one in about 100 ms.

Why not libspng (``pyspng``), which read these PNGs before: it holds the GIL
while it decodes, so its work could not overlap the import. Nor is it faster:
measured side by side, a 2 MP photo took 31 ms with libspng and 25 ms here, an
8.7 MP one 123 and 100 ms, a 105 MP one 1.31 and 1.08 s (zlib inflates the next
piece while the filters of the last are undone, see :func:`_pipelined`). Why
zlib-ng (the ``zlib-ng`` package, which also deflates kpalette's PNGs) rather than
the standard zlib: it inflates in about half the time; measured through
:func:`read`, 14 against 23 ms on the 2 MP photo, 53 against 98 ms on the 8.7 MP
one, 0.56 against 0.99 s on the 105 MP one.

Everything unusual goes to Pillow, which decodes it or names the problem: other
depths and colour types, interlacing, a ``tRNS`` colour key, an ``eXIf`` chunk (it
may rotate the image), an animation (``acTL``), more than ``max_pixels`` pixels,
and any damage found here. The image data's Adler-32 (checked by zlib-ng) stands in
for the CRCs of the ``IDAT`` chunks, which are not computed again; the header's
CRC is checked.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
from pathlib import Path

from zlib_ng import zlib_ng

from .exceptions import ImageReadError

# No dataclasses or typing here: importing them (and inspect, which dataclasses
# needs) took 11 ms, before the command line could start its reading thread.

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DecodedPNG",
    "OpenedImage",
    "read",
    "read_with_pillow",
    "reading_ahead",
    "take",
]

#: Pillow's decompression-bomb limit (its default ``Image.MAX_IMAGE_PIXELS``), the
#: default largest image kpalette decodes.
DEFAULT_MAX_PIXELS: int = 89_478_485

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Channels of the PNG colour types decoded here: 2 is RGB, 6 is RGBA.
_CHANNELS = {2: 3, 6: 4}
#: Chunks that make a PNG Pillow's: a colour key, EXIF orientation, an animation.
_LEFT_TO_PILLOW = frozenset({b"tRNS", b"eXIf", b"acTL"})

#: Compressed bytes given to zlib at a time, and the most it inflates at a time: a
#: piece of whole rows is unfiltered while the next is inflated (see _pipelined).
INPUT_BYTES = 1 << 20
PIECE_BYTES = 1 << 21

_open_lock = threading.Lock()


class DecodedPNG:
    """The pixels of an 8-bit RGB or RGBA PNG.

    Attributes
    ----------
    width, height : int
    channels : {3, 4}
    pixels : bytearray
        ``height * width * channels`` bytes, rows top to bottom, RGB(A) interleaved.
    color_counts : (bytearray, bytearray) or None
        The distinct colours of an RGB image and their counts, as
        ``_scanlines.count_rgb`` returns them, when the reading thread counted them
        (:func:`reading_ahead`); else None.
    """

    __slots__ = ("width", "height", "channels", "pixels", "color_counts")

    def __init__(self, width: int, height: int, channels: int, pixels: bytearray):
        self.width, self.height, self.channels, self.pixels = width, height, channels, pixels
        self.color_counts = None

    def __repr__(self) -> str:
        return f"DecodedPNG({self.width}x{self.height}, {self.channels} channels)"


class OpenedImage:
    """A file decoded by Pillow: its first frame, loaded, and how many frames it has.

    Attributes
    ----------
    image : PIL.Image.Image
        The caller closes it (multi-frame files keep theirs open).
    n_frames : int
    """

    __slots__ = ("image", "n_frames")

    def __init__(self, image, n_frames: int):
        self.image, self.n_frames = image, n_frames

    def __repr__(self) -> str:
        return f"OpenedImage({self.image!r}, n_frames={self.n_frames})"


def read(path, max_pixels: int | None) -> DecodedPNG | OpenedImage:
    """Decode the image file at ``path``.

    Parameters
    ----------
    path : str or os.PathLike
    max_pixels : int or None
        Refuse images with more pixels than this; ``None`` disables the check.

    Returns
    -------
    DecodedPNG or OpenedImage
        A :class:`DecodedPNG` for an 8-bit RGB or RGBA PNG this module decodes,
        else Pillow's :class:`OpenedImage`.

    Raises
    ------
    ImageReadError
        If the file is missing, is a folder, is empty, is not an image, is
        truncated or damaged, or has more than ``max_pixels`` pixels.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageReadError(f"no such file: {path}") from None
    except OSError as exc:  # a name too long, a folder we may not enter, ...
        raise ImageReadError(f"cannot open {path}: {exc.strerror or exc}") from None
    if path.is_dir():
        raise ImageReadError(f"is a directory, not an image: {path}")
    if size == 0:
        raise ImageReadError(f"empty file (0 bytes): {path}")
    decoded = _read_png(path, max_pixels)
    return decoded if decoded is not None else read_with_pillow(path, max_pixels)


def _read_png(path: Path, max_pixels: int | None) -> DecodedPNG | None:
    """An 8-bit RGB or RGBA PNG decoded here, else None (Pillow's to read)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(33)
            if len(head) < 33 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
                return None
            width, height, depth, color_type, compression, filtering, interlace = struct.unpack(
                ">IIBBBBB", head[16:29]
            )
            if (
                struct.unpack(">I", head[8:12])[0] != 13
                or zlib_ng.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0]
                or depth != 8
                or color_type not in _CHANNELS
                or (compression, filtering, interlace) != (0, 0, 0)
                or width == 0
                or height == 0
                or (max_pixels is not None and width * height > max_pixels)
            ):
                return None
            handle.seek(0)
            data = handle.read()
    except OSError:  # unreadable: Pillow's path names the problem
        return None
    compressed = _image_data(data)
    if compressed is None:
        return None
    channels = _CHANNELS[color_type]
    try:
        pixels = _unfiltered(compressed, height, width * channels, channels)
    except (zlib_ng.error, ValueError, MemoryError):  # damaged: Pillow names the problem
        return None
    return DecodedPNG(width, height, channels, pixels)


def _unfiltered(
    compressed: list[memoryview], height: int, row_bytes: int, channels: int
) -> bytearray:
    """The samples of a PNG's zlib stream, inflated and unfiltered a piece at a time,
    the two in parallel when there is more than one piece."""
    from ._scanlines import new_bytearray, unfilter_rows

    pixels = new_bytearray(height * row_bytes)
    rows = memoryview(pixels).cast("B", (height, row_bytes))
    stride = row_bytes + 1
    first_row = 0

    def undo(piece) -> None:
        nonlocal first_row
        if unfilter_rows(piece, rows, channels, first_row) != -1:
            raise ValueError("a filter number PNG does not have")
        first_row += len(piece) // stride

    pieces = _inflated_rows(compressed, height * stride, stride)
    if height * stride <= PIECE_BYTES:
        for piece in pieces:
            undo(piece)
    else:
        _pipelined(pieces, undo)
    return pixels


def _inflated_rows(compressed: list[memoryview], total: int, stride: int):
    """Inflate the stream in ``compressed`` (its pieces, in order) to exactly ``total``
    bytes, yielding them in pieces of whole rows of ``stride`` bytes, in order (views
    where they can be, copies only of rows split between two of zlib's outputs).

    zlib gets about ``INPUT_BYTES`` at a time and returns at most ``PIECE_BYTES``: the
    inflated scanlines are never held whole, and what zlib leaves of its input
    (copied on every call) stays small.

    Raises
    ------
    zlib_ng.error
        If the stream is damaged or its checksum is wrong.
    ValueError
        If it holds fewer or more than ``total`` bytes.
    """
    inflater = zlib_ng.decompressobj()
    blocks = _input_blocks(compressed)
    remaining, partial = total, b""
    while remaining:
        feed = inflater.unconsumed_tail or next(blocks, None)
        if feed is None:
            raise ValueError("the image data ends early")
        chunk = memoryview(inflater.decompress(feed, min(remaining, PIECE_BYTES)))
        remaining -= len(chunk)
        if partial:  # first, the row begun at the end of the last output
            cut = min(len(chunk), stride - len(partial))
            partial += chunk[:cut]
            chunk = chunk[cut:]
            if len(partial) < stride:
                continue
            yield partial
            partial = b""
        whole = len(chunk) - len(chunk) % stride
        if whole:
            yield chunk[:whole]
        partial = bytes(chunk[whole:])
    rest = b"".join((inflater.unconsumed_tail, *blocks))
    if inflater.decompress(rest, 1) or not inflater.eof:
        raise ValueError("the image data is longer than its rows, or has no end")


def _pipelined(pieces, undo) -> None:
    """``undo(piece)`` for each of ``pieces`` in order, in a second thread, while the
    next are made: zlib and the filters both release the GIL, so on two cores
    inflating and unfiltering overlap (a 105 MP RGB PNG: 1.55 -> 1.08 s, where
    libspng took 1.31 s)."""
    import queue

    handoff: queue.Queue = queue.Queue(maxsize=2)
    failures: list[BaseException] = []

    def consume() -> None:
        while (piece := handoff.get()) is not None:
            if not failures:
                try:
                    undo(piece)
                except BaseException as exc:  # noqa: BLE001 (raised again below)
                    failures.append(exc)

    worker = threading.Thread(target=consume, name="kpalette-unfilter", daemon=True)
    worker.start()
    try:
        for piece in pieces:
            if failures:
                break
            handoff.put(piece)
    finally:
        handoff.put(None)
        worker.join()
    if failures:
        raise failures[0]


def _image_data(data: bytes) -> list[memoryview] | None:
    """The zlib stream of a PNG: views of its ``IDAT`` chunks' data, in order; None if
    a chunk makes the file Pillow's, if the ``IDAT`` chunks are not one run, or if
    there is no ``IEND``."""
    view = memoryview(data)
    pieces = []
    position = len(PNG_SIGNATURE)
    run_over = False
    while position + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        end = position + 12 + length
        if end > len(data):
            return None
        if kind == b"IDAT":
            if run_over:
                return None
            pieces.append(view[position + 8 : end - 4])
        elif pieces:
            run_over = True
        if kind == b"IEND":
            return pieces or None
        if kind in _LEFT_TO_PILLOW:
            return None
        position = end
    return None  # truncated: no IEND


def _input_blocks(pieces: list[memoryview]):
    """The stream in blocks of about ``INPUT_BYTES``: large chunks cut, small ones
    (libpng writes 8 kB chunks) joined, so that zlib, which gives the GIL back at
    every call, is not called once per chunk."""
    group: list[memoryview] = []
    size = 0
    for piece in pieces:
        for start in range(0, len(piece), INPUT_BYTES):
            block = piece[start : start + INPUT_BYTES]
            group.append(block)
            size += len(block)
            if size >= INPUT_BYTES:
                yield group[0] if len(group) == 1 else b"".join(group)
                group, size = [], 0
    if group:
        yield group[0] if len(group) == 1 else b"".join(group)


def read_with_pillow(path, max_pixels: int | None) -> OpenedImage:
    """The first frame of any file Pillow reads, loaded (see :func:`read`)."""
    from PIL import Image

    path = Path(path)
    try:
        with _open_lock:
            # Pillow checks its own global limit inside open(); lift it for the call
            # (with no limit it warns of nothing) and apply ``max_pixels`` here, so
            # that callers can raise the limit.
            saved_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
            try:
                image = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = saved_limit
    except Image.UnidentifiedImageError:
        raise ImageReadError(f"not an image file Pillow can read: {path}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageReadError(f"cannot open {path}: {exc}") from None
    try:
        width, height = image.size
        if max_pixels is not None and width * height > max_pixels:
            raise ImageReadError(
                f"image too large: {path} is {width}x{height} = {width * height} pixels, "
                f"over the limit of {max_pixels} (decompression-bomb guard; "
                "raise it with --max-pixels)"
            )
        n_frames = image.n_frames if getattr(image, "is_animated", False) else 1
        image.seek(0)
        # Pillow feeds its decoder the file in blocks of 64 kB, taking the GIL back
        # between them; in one block, a decode in a thread runs through unhindered.
        image.decodermaxblock = max(image.decodermaxblock, os.stat(path).st_size)
        image.load()
    except ImageReadError:
        image.close()
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        image.close()
        raise ImageReadError(f"cannot decode {path}: {exc}") from None
    return OpenedImage(image, n_frames)


class _Reading(threading.Thread):
    """:func:`read` in a daemon thread, its result or its error kept for :func:`take`;
    then the colours of an RGB PNG counted, unless the caller comes first."""

    def __init__(self, path, max_pixels: int | None):
        super().__init__(name="kpalette-read", daemon=True)
        self.path, self.max_pixels = path, max_pixels
        self.result: DecodedPNG | OpenedImage | None = None
        self.error: BaseException | None = None
        self.decoded = threading.Event()
        #: Set to 1 by take(): the count gives up, and its result is not kept.
        self.stop = bytearray(1)
        self.lock = threading.Lock()

    def run(self) -> None:
        try:
            self.result = decoded = read(self.path, self.max_pixels)
        except BaseException as exc:  # noqa: BLE001 (raised again by take())
            self.error = exc
            return
        finally:
            self.decoded.set()
        if not isinstance(decoded, DecodedPNG) or decoded.channels != 3:
            return
        from ._scanlines import count_rgb

        # One thread: NumPy's import holds the other core (two threads behind a
        # barrier each, on one free core, took 40 ms for a 7 ms count).
        n_pixels = decoded.width * decoded.height
        pixels = memoryview(decoded.pixels).cast("B", (n_pixels, 3))
        counts = count_rgb(pixels, threads=1, stop=self.stop)
        with self.lock:
            if not self.stop[0]:
                decoded.color_counts = counts


_readings: dict[tuple[str, int | None], _Reading] = {}


@contextlib.contextmanager
def reading_ahead(path, max_pixels: int | None):
    """Decode ``path`` in a thread for the length of the ``with`` block.

    Within the block, the first ``load_image(path, max_pixels=max_pixels)`` (through
    :func:`take`) waits for that decode and returns its array, or raises its error;
    a decode not taken by the end of the block is dropped.

    After an RGB PNG, the thread counts its colours (``DecodedPNG.color_counts``),
    which every command goes on to do: NumPy's import may still hold the main
    thread, and the count needs no NumPy. ``quantize(path)`` takes them with the
    array. A count not finished when :func:`take` is called is given up (within
    ``_scanlines.STOP_CHECK_PIXELS`` pixels), and the caller counts on every core.
    """
    key = (os.fspath(path), max_pixels)
    _readings[key] = reading = _Reading(path, max_pixels)
    reading.start()
    try:
        yield
    finally:
        if _readings.get(key) is reading:
            del _readings[key]


def take(path, max_pixels: int | None) -> DecodedPNG | OpenedImage | None:
    """The decode :func:`reading_ahead` started for ``path`` and ``max_pixels``, once
    (it is forgotten here), or None if there is none.

    Raises
    ------
    ImageReadError
        What :func:`read` raised in the thread.
    """
    reading = _readings.pop((os.fspath(path), max_pixels), None)
    if reading is None:
        return None
    reading.decoded.wait()
    with reading.lock:  # a count not finished yet is given up: the caller counts
        reading.stop[0] = 1  # on every core, sooner than one thread would finish
    if reading.error is not None:
        raise reading.error
    return reading.result
