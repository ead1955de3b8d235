"""Palette PNG encoding: chunks written here, pixels deflated with zlib-ng.
(Bytes only: :mod:`kpalette.io` writes the files.)

Why zlib-ng (the ``zlib-ng`` package) rather than the zlib that CPython links: on
palette indices it deflates in about half the time for files of the same size, and
its wheel carries its own copy, so the bytes written are the same on every machine
(see docs/benchmarks.md).

Why not Pillow's PNG writer for palette images: it deflates on one core, in one
pass, with no choice of filters for grey palettes or second pass for graphics (both
below). The format is small enough to write directly: IHDR, PLTE, tRNS, IDAT, IEND,
each with its CRC.

The pixel data is deflated in fixed slices of ``SLICE_BYTES`` on all cores, each
slice primed with the 32 kB before it (as pigz does), so the stream loses almost
nothing against one pass, and the bytes written never depend on the number of cores.
"""

from __future__ import annotations

import os
import struct
import threading

import numpy as np
from zlib_ng import zlib_ng

__all__ = [
    "DEFAULT_LEVEL",
    "GRAPHICS_RATIO",
    "SIGNATURE",
    "SMALL_DEPTH_LEVEL",
    "SLICE_BYTES",
    "bit_depth_for",
    "deflate",
    "encode_palette_png",
    "level_for",
]

#: zlib's (and libpng's) default effort, 6 of 0..9: kpalette's for 8-bit samples.
DEFAULT_LEVEL = 6
#: Deflate effort for samples of 1, 2 or 4 bits (16 colours or fewer): see :func:`level_for`.
SMALL_DEPTH_LEVEL = 9
#: A stream under this fraction of the raw scanlines is a graphic's (screenshots,
#: charts, flat art), and is deflated again at level 9: see :func:`encode_palette_png`.
GRAPHICS_RATIO = 0.03
#: Bytes deflated to choose between two ways of writing the same pixels.
SAMPLE_BYTES = 1 << 19
#: Uncompressed bytes per independently deflated slice.
SLICE_BYTES = 1 << 19
_WINDOW = 1 << 15
#: The eight bytes every PNG file starts with.
SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IDAT_BYTES = 1 << 20


def bit_depth_for(n_colors: int) -> int:
    """Smallest PNG bit depth (1, 2, 4 or 8) that indexes ``n_colors`` entries."""
    for depth in (1, 2, 4):
        if n_colors <= 1 << depth:
            return depth
    return 8


def level_for(depth: int) -> int:
    """Deflate effort for samples of ``depth`` bits: 9 up to 4 bits, 6 for 8 bits.

    Packed samples of 16 colours or fewer repeat in long runs that a longer match
    search finds cheaply (3-8% smaller files on photos); 8-bit samples of photos are
    noisier, and there level 9 costs two to four times the time for 2-4%. Graphics,
    whose long matches it finds cheaply, get level 9 anyway (:func:`encode_palette_png`).
    The measurements are in docs/benchmarks.md.
    """
    return SMALL_DEPTH_LEVEL if depth <= 4 else DEFAULT_LEVEL


def _rows(indices: np.ndarray, depth: int) -> memoryview:
    """The scanlines: a filter byte (0, none) then the samples packed MSB first."""
    height, width = indices.shape
    samples = np.ascontiguousarray(indices, dtype=np.uint8)
    if depth < 8:
        per_byte = 8 // depth
        padded = -width % per_byte
        if padded:
            samples = np.pad(samples, ((0, 0), (0, padded)))
        groups = samples.reshape(height, -1, per_byte)
        packed = np.zeros(groups.shape[:2], dtype=np.uint8)
        for position in range(per_byte):
            packed |= groups[:, :, position] << (8 - depth * (position + 1))
        samples = packed
    rows = np.zeros((height, samples.shape[1] + 1), dtype=np.uint8)
    rows[:, 1:] = samples
    return memoryview(rows.reshape(-1))  # deflated in place, not copied to bytes


def _filtered_rows(samples: np.ndarray) -> memoryview:
    """Scanlines of one byte per pixel, each row filtered by whichever of the five PNG
    filters leaves the smallest sum of absolute values read as signed bytes (the
    heuristic the PNG specification suggests), compiled
    (``_kernels.png_filters.filter_rows``): NumPy would build five filtered copies."""
    from ._kernels.png_filters import filter_rows

    rows = np.empty((samples.shape[0], samples.shape[1] + 1), dtype=np.uint8)
    filter_rows(np.ascontiguousarray(samples, dtype=np.uint8), rows)
    return memoryview(rows.reshape(-1))


def _deflates_smaller(candidate: memoryview, incumbent: memoryview, level: int) -> bool:
    """Whether ``candidate`` deflates smaller than ``incumbent`` (of the same length):
    judged whole up to ``SAMPLE_BYTES``, else on that many bytes in eight evenly
    spaced pieces."""
    if len(candidate) <= SAMPLE_BYTES:
        return len(zlib_ng.compress(candidate, level)) < len(zlib_ng.compress(incumbent, level))
    piece = SAMPLE_BYTES // 8
    starts = np.linspace(0, len(candidate) - piece, 8).astype(np.int64)
    sizes = [
        sum(len(zlib_ng.compress(data[start : start + piece], level)) for start in starts)
        for data in (candidate, incumbent)
    ]
    return sizes[0] < sizes[1]


def _is_opaque_grey(palette: np.ndarray) -> bool:
    opaque = palette.shape[1] == 3 or bool((palette[:, 3] == 255).all())
    return (
        opaque
        and bool((palette[:, 0] == palette[:, 1]).all())
        and bool((palette[:, 1] == palette[:, 2]).all())
    )


def _deflate_slice(data: memoryview, start: int, stop: int, level: int) -> bytes:
    last = stop == len(data)
    compressor = (
        zlib_ng.compressobj(
            level, zlib_ng.DEFLATED, -15, 8, zdict=bytes(data[max(0, start - _WINDOW) : start])
        )
        if start > 0
        else zlib_ng.compressobj(level, zlib_ng.DEFLATED, -15, 8)
    )
    body = compressor.compress(data[start:stop])
    return body + compressor.flush(zlib_ng.Z_FINISH if last else zlib_ng.Z_SYNC_FLUSH)


def deflate(data, level: int = DEFAULT_LEVEL, *, workers: int | None = None) -> bytes:
    """A zlib stream of ``data``, its slices deflated in parallel.

    Parameters
    ----------
    data : bytes-like
        Bytes, or a one-dimensional buffer of bytes.
    level : int
        zlib effort, 0 (stored) to 9.
    workers : int, optional
        Threads (default: the CPUs this process may use). The output does not
        depend on it.

    Returns
    -------
    bytes
        Readable by ``zlib.decompress``.
    """
    if not 0 <= level <= 9:
        raise ValueError(f"the compression level is 0..9, got {level}")
    view = memoryview(data)
    bounds = [
        (start, min(start + SLICE_BYTES, len(data))) for start in range(0, len(data), SLICE_BYTES)
    ]
    bounds = bounds or [(0, 0)]
    if workers is None:
        workers = (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )
    if workers > 1 and len(bounds) > 1:
        parts = _in_threads(
            lambda index: _deflate_slice(view, *bounds[index], level),
            len(bounds),
            min(workers, len(bounds)),
        )
    else:
        parts = [_deflate_slice(view, start, stop, level) for start, stop in bounds]
    header = b"\x78\x9c"  # deflate, 32 kB window, no preset dictionary
    return header + b"".join(parts) + struct.pack(">I", zlib_ng.adler32(data))


def _in_threads(task, n_tasks: int, n_threads: int) -> list:
    """``[task(0), ..., task(n_tasks - 1)]`` computed by ``n_threads`` threads.

    Plain threads taking the next index from a shared counter; zlib-ng releases the
    GIL while it compresses.
    """
    results: list = [None] * n_tasks
    errors: list = []
    next_index = iter(range(n_tasks))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                index = next(next_index, None)
            if index is None or errors:
                return
            try:
                results[index] = task(index)
            except BaseException as exc:  # noqa: BLE001 (re-raised in the caller)
                errors.append(exc)
                return

    threads = [threading.Thread(target=work, daemon=True) for _ in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib_ng.crc32(payload, zlib_ng.crc32(kind)))
    )


def encode_palette_png(
    palette: np.ndarray,
    indices: np.ndarray,
    *,
    level: int | None = None,
    workers: int | None = None,
) -> bytes:
    """Encode a palette PNG at the smallest bit depth that holds the palette.

    Parameters
    ----------
    palette : (k, 3) or (k, 4) uint8 array, 1 <= k <= 256
        The colours; a fourth column is alpha, written as a tRNS chunk up to the last
        entry that is not opaque (put translucent entries first to keep it short).
    indices : (H, W) integer array
        Index into ``palette`` of every pixel.
    level : int, optional
        zlib effort, 0..9. By default :func:`level_for` the bit depth, and level 9
        when that stream is under ``GRAPHICS_RATIO`` of the raw scanlines.
    workers : int, optional
        Threads for deflate (the bytes do not depend on it).

    Returns
    -------
    bytes
    """
    palette = np.asarray(palette, dtype=np.uint8)
    indices = np.asarray(indices)
    if palette.ndim != 2 or palette.shape[1] not in (3, 4) or not 1 <= len(palette) <= 256:
        raise ValueError(f"expected a (1..256, 3|4) palette, got shape {palette.shape}")
    if indices.ndim != 2 or indices.size == 0:
        raise ValueError(f"expected a non-empty (H, W) index array, got shape {indices.shape}")
    # One pass for unsigned indices (the usual uint8), which cannot be negative.
    if (indices.dtype.kind != "u" and indices.min() < 0) or indices.max() >= len(palette):
        raise ValueError(
            f"indices must be in 0..{len(palette) - 1} for a {len(palette)}-colour palette, "
            f"got {indices.min()}..{indices.max()}"
        )
    height, width = indices.shape
    depth = bit_depth_for(len(palette))
    automatic = level is None
    level = level_for(depth) if automatic else level
    rows = _rows(indices, depth)
    if depth == 8 and _is_opaque_grey(palette):
        # Grey images: with the palette in order of lightness, indices rise and fall
        # with the image, and PNG's filters (which predict a byte from its neighbours)
        # pay, as they do not for the arbitrary indices of colour palettes. The stream
        # that deflates smaller on a sample is kept (deflating both whole would double
        # the time).
        order = np.argsort(palette[:, 0], kind="stable")
        rank = np.empty(len(palette), dtype=np.uint8)
        rank[order] = np.arange(len(palette), dtype=np.uint8)
        filtered_rows = _filtered_rows(rank[indices])
        if _deflates_smaller(filtered_rows, rows, level):
            palette, rows = palette[order], filtered_rows
    stream = deflate(rows, level, workers=workers)
    # Screenshots, charts and flat art deflate to 1-3% of their scanlines, photos to
    # 4% or more even at k = 16. Level 9 finds the long matches of the former
    # better, and cheaply since they are long.
    if automatic and level < 9 and len(stream) < GRAPHICS_RATIO * len(rows):
        stream = deflate(rows, 9, workers=workers)
    header = struct.pack(">IIBBBBB", width, height, depth, 3, 0, 0, 0)
    parts = [SIGNATURE, _chunk(b"IHDR", header), _chunk(b"PLTE", palette[:, :3].tobytes())]
    if palette.shape[1] == 4:
        translucent = np.flatnonzero(palette[:, 3] < 255)
        if len(translucent):
            parts.append(_chunk(b"tRNS", palette[: translucent[-1] + 1, 3].tobytes()))
    for start in range(0, len(stream), _IDAT_BYTES):
        parts.append(_chunk(b"IDAT", stream[start : start + _IDAT_BYTES]))
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)
