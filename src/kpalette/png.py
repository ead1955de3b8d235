"""Palette PNG encoding: chunks written here, the encoder a search for the smallest file.
(Bytes only: :mod:`kpalette.io` writes the files.)

As oxipng does, the encoder tries a few independent ways of writing the same pixels
and keeps the smallest (:func:`best_scanlines`): the order of the palette's entries
(as given, dark to light, or entries that touch in the image side by side) and the
row filters (none, Up, Paeth, each row's cheapest). The winner is deflated with an
effort chosen for its size (:func:`compress`): libdeflate's near-optimal parsing
(the ``deflate`` package) for the few megabytes of scanlines most images have,
zlib-ng in parallel slices past that.

Why zlib-ng (the ``zlib-ng`` package) rather than the zlib that CPython links for
large images: it deflates palette indices in about half the time for files of the
same size, and its wheel carries its own copy, as libdeflate's does, so the bytes
written are the same on every machine (see docs/benchmarks.md). Its slices of
``SLICE_BYTES`` are deflated on all cores, each primed with the 32 kB before it (as
pigz does), so the stream loses almost nothing against one pass, and the bytes never
depend on the number of cores.

Why not Pillow's PNG writer for palette images: it deflates in one pass at one
effort with no choice of filters or order. The format is small enough to write
directly: IHDR, PLTE, tRNS, IDAT, IEND, each with its CRC.
"""

from __future__ import annotations

import os
import struct
import threading

import deflate as libdeflate
import numpy as np
from zlib_ng import zlib_ng

from ._kernels.png_filters import filter_rows

__all__ = [
    "DEFAULT_LEVEL",
    "GRAPHICS_RATIO",
    "SIGNATURE",
    "SMALL_DEPTH_LEVEL",
    "SLICE_BYTES",
    "best_scanlines",
    "bit_depth_for",
    "compress",
    "deflate",
    "encode_apng",
    "encode_palette_png",
    "level_for",
    "lightness_order",
    "neighbour_order",
]

#: zlib's (and libpng's) default effort, 6 of 0..9: kpalette's for 8-bit samples.
DEFAULT_LEVEL = 6
#: Deflate effort for samples of 1, 2 or 4 bits (16 colours or fewer): see :func:`level_for`.
SMALL_DEPTH_LEVEL = 9
#: A stream under this fraction of the raw scanlines is a graphic's (screenshots,
#: charts, flat art), and is deflated again at level 9: see :func:`compress`.
GRAPHICS_RATIO = 0.03
#: Scanline bytes each trial of :func:`best_scanlines` is judged on, at most.
SAMPLE_BYTES = 1 << 18
#: zlib-ng's effort for judging trials: fast, and it ranks candidates as the final
#: deflate does.
TRIAL_LEVEL = 4
#: Pixels whose neighbours :func:`neighbour_order` counts, at most (about).
NEIGHBOUR_PIXELS = 1 << 18
#: (largest scanline bytes, libdeflate level): the effort of :func:`compress` by size,
#: so that the deflate of a photo takes a few tenths of a second at most
#: (docs/benchmarks.md, "The encoder").
EFFORT_LEVELS = ((400_000, 12), (800_000, 11), (1_500_000, 10))
#: Scanline bytes up to which zlib-ng's level 9 follows; past them, :func:`level_for`.
LEVEL_9_BYTES = 4_000_000
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


def _packed(indices: np.ndarray, depth: int) -> np.ndarray:
    """(H, ceil(W * depth / 8)) uint8: each row's samples packed MSB first."""
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
    return samples


def _filtered_rows(samples: np.ndarray, kind: int) -> np.ndarray:
    """(H, W + 1) scanlines of one byte per pixel: every row filtered by PNG filter
    ``kind``, or with ``kind=-1`` each row by whichever of the five leaves the smallest
    sum of absolute values read as signed bytes (the heuristic the PNG specification
    suggests); compiled (``_kernels.png_filters.filter_rows``), as NumPy would build
    five filtered copies."""

    rows = np.empty((samples.shape[0], samples.shape[1] + 1), dtype=np.uint8)
    filter_rows(np.ascontiguousarray(samples, dtype=np.uint8), rows, kind)
    return rows


def _is_opaque(palette: np.ndarray) -> bool:
    return palette.shape[1] == 3 or bool((palette[:, 3] == 255).all())


def lightness_order(palette: np.ndarray) -> np.ndarray:
    """(k,) entry order from dark to light (Rec. 601 luma, ties in the given order).

    With entries in this order, an index rises and falls with the image's lightness,
    so PNG's filters, which predict a byte from its neighbours, can pay.
    """
    luma = palette[:, :3].astype(np.int64) @ np.array([299, 587, 114])
    return np.argsort(luma, kind="stable")


def neighbour_order(indices: np.ndarray, n_colors: int) -> np.ndarray:
    """(k,) entry order in which entries that are often side by side in the image
    have adjacent indices.

    Counts how often each pair of entries touches (left-right and above-below, on
    evenly spaced rows of about ``NEIGHBOUR_PIXELS`` pixels in all), then grows one
    chain from the most frequent pair, adding at either end the unused entry most
    often beside that end; entries that touch none come last. Deterministic: ties go
    to the lower index.
    """
    height, width = indices.shape
    step = max(1, height * width // NEIGHBOUR_PIXELS)
    upper = indices[: height - 1 : step].astype(np.int64)
    lower = indices[1::step][: len(upper)]
    rows = indices[::step].astype(np.int64)
    pairs = np.concatenate(
        [(rows[:, :-1] * n_colors + rows[:, 1:]).ravel(), (upper * n_colors + lower).ravel()]
    )
    touching = np.bincount(pairs, minlength=n_colors * n_colors).reshape(n_colors, n_colors)
    touching = touching + touching.T
    np.fill_diagonal(touching, 0)
    first, second = np.unravel_index(int(np.argmax(touching)), touching.shape)
    chain = [int(first), int(second)] if first != second else [int(first)]
    free = np.ones(n_colors, dtype=bool)
    free[chain] = False
    while free.any():
        head = np.where(free, touching[chain[0]], -1)
        tail = np.where(free, touching[chain[-1]], -1)
        if head.max() > tail.max():
            chain.insert(0, int(np.argmax(head)))
        else:
            chain.append(int(np.argmax(tail)))
        free[chain[0]] = free[chain[-1]] = False
    return np.asarray(chain, dtype=np.int64)


def _sample_rows(indices: np.ndarray, row_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows the trials are judged on: the whole image when it has at most
    ``SAMPLE_BYTES`` of scanlines, else eight evenly spaced bands of rows, each with
    the row above it (which its first row is filtered against).

    Returns
    -------
    rows : (R, W) array
        The sampled rows of ``indices``, bands one after the other.
    judged : (R,) bool array
        Which of them count (not the rows above the bands).
    """
    height = indices.shape[0]
    if height * row_bytes <= SAMPLE_BYTES:
        return indices, np.ones(height, dtype=bool)
    band = max(1, SAMPLE_BYTES // 8 // row_bytes)
    starts = np.linspace(1, height - band, 8).astype(np.int64)
    chosen = np.concatenate([np.arange(start - 1, start + band) for start in starts])
    judged = np.tile(np.r_[False, np.ones(band, dtype=bool)], len(starts))
    return indices[chosen], judged


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


def _header(width: int, height: int, depth: int) -> bytes:
    """The IHDR chunk of a palette image (colour type 3)."""
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, 3, 0, 0, 0))


def _palette_chunks(palette: np.ndarray) -> list[bytes]:
    """PLTE, and tRNS up to the last entry that is not opaque (none if all are)."""
    chunks = [_chunk(b"PLTE", palette[:, :3].tobytes())]
    if palette.shape[1] == 4:
        translucent = np.flatnonzero(palette[:, 3] < 255)
        if len(translucent):
            chunks.append(_chunk(b"tRNS", palette[: translucent[-1] + 1, 3].tobytes()))
    return chunks


def compress(rows, depth: int, *, level: int | None = None, workers: int | None = None) -> bytes:
    """The zlib stream of a PNG's scanlines, with the effort chosen for their size.

    Up to ``EFFORT_LEVELS``' sizes, libdeflate's near-optimal parsing (levels 10-12,
    the ``deflate`` package) on one core: 5-15% smaller than zlib's level 9 on palette
    photos, at a cost that grows with the bytes, so larger images get a lower level.
    Past them, zlib-ng in parallel slices (:func:`deflate`): level 9 up to
    ``LEVEL_9_BYTES``, then :func:`level_for` the bit depth, and level 9 again for
    graphics (under ``GRAPHICS_RATIO`` of the raw bytes). An explicit ``level``
    (0..9) is zlib-ng's, always.
    """
    size = len(rows)
    if level is None:
        for limit, effort in EFFORT_LEVELS:
            if size <= limit:
                return bytes(libdeflate.zlib_compress(bytes(rows), effort))
        if size <= LEVEL_9_BYTES:
            return deflate(rows, 9, workers=workers)
        stream = deflate(rows, level_for(depth), workers=workers)
        # Flat art deflates to a small fraction of its scanlines (GRAPHICS_RATIO), and
        # level 9 finds its long matches better, cheaply since they are long.
        if level_for(depth) < 9 and len(stream) < GRAPHICS_RATIO * size:
            stream = deflate(rows, 9, workers=workers)
        return stream
    return deflate(rows, level, workers=workers)


def best_scanlines(
    palette: np.ndarray, indices: np.ndarray, depth: int, *, reorder: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The palette order and row filters that deflate smallest, found by trials.

    As oxipng does, a few independent candidates are tried and the smallest kept:
    the palette as given, from dark to light (:func:`lightness_order`) and in the
    order of touching entries (:func:`neighbour_order`), each unfiltered, with PNG's
    Up and Paeth filters on every row, and with each row's cheapest filter. Each
    candidate is judged by its deflated size (zlib-ng at ``TRIAL_LEVEL``) on the
    whole image or, past ``SAMPLE_BYTES`` of scanlines, on eight evenly spaced bands
    of rows.

    Parameters
    ----------
    palette : (k, 3) or (k, 4) uint8 array
    indices : (H, W) integer array
    depth : int
        The bit depth (1, 2, 4 or 8). Below 8, only the filters are tried (several
        samples share a byte, so the order of entries does not help a filter).
    reorder : bool
        Whether the entries may be written in another order. Never with translucent
        entries (which are kept first, for a short tRNS chunk).

    Returns
    -------
    palette : (k, C) uint8 array
        The entries in the chosen order.
    rows : (H, B + 1) uint8 array
        The scanlines: each row's filter number, then its filtered bytes.
    """
    orders: list[np.ndarray | None] = [None]
    if reorder and depth == 8 and len(palette) > 2 and _is_opaque(palette):
        orders += [lightness_order(palette), neighbour_order(indices, len(palette))]
    kinds = (0, 2, 4, -1) if depth == 8 else (0, -1)
    row_bytes = (indices.shape[1] * depth + 7) // 8 + 1
    sample, judged = _sample_rows(indices, row_bytes)
    whole = sample is indices  # the trials' rows are then the file's
    best: tuple[int, int, int, np.ndarray | None] | None = None
    for number, order in enumerate(orders):
        samples = _packed(sample if order is None else _ranks(order)[sample], depth)
        for kind in kinds:
            rows = _filtered_rows(samples, kind)[judged]
            size = len(zlib_ng.compress(memoryview(rows.reshape(-1)), TRIAL_LEVEL))
            if best is None or size < best[0]:
                best = (size, number, kind, rows if whole else None)
    assert best is not None
    _, number, kind, rows = best
    order = orders[number]
    if order is not None:
        palette = palette[order]
    if rows is None:
        ranked = indices if order is None else _ranks(order)[indices]
        rows = _filtered_rows(_packed(ranked, depth), kind)
    return palette, rows


def _ranks(order: np.ndarray) -> np.ndarray:
    """The new index of each old entry, for entries written in ``order``."""
    ranks = np.empty(len(order), dtype=np.uint8)
    ranks[order] = np.arange(len(order), dtype=np.uint8)
    return ranks


def encode_palette_png(
    palette: np.ndarray,
    indices: np.ndarray,
    *,
    level: int | None = None,
    workers: int | None = None,
    reorder: bool = True,
) -> bytes:
    """Encode a palette PNG at the smallest bit depth that holds the palette.

    The encoder is a search (:func:`best_scanlines`, then :func:`compress`): the
    palette order and row filters that deflate smallest, then deflate with the
    effort chosen for the image's size. The pixels read back are always the same.

    Parameters
    ----------
    palette : (k, 3) or (k, 4) uint8 array, 1 <= k <= 256
        The colours; a fourth column is alpha, written as a tRNS chunk up to the last
        entry that is not opaque (put translucent entries first to keep it short).
    indices : (H, W) integer array
        Index into ``palette`` of every pixel.
    level : int, optional
        zlib effort, 0..9, and no trials: the palette as given, rows unfiltered. By
        default the search above.
    workers : int, optional
        Threads for deflate (the bytes do not depend on it).
    reorder : bool, default=True
        Whether the file's palette may list the entries in another order (the
        pixels' colours are the same). False keeps the given order, as images that
        share one palette need.

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
    if level is None:
        palette, rows = best_scanlines(palette, indices, depth, reorder=reorder)
    else:
        rows = _filtered_rows(_packed(indices, depth), 0)
    stream = compress(rows.reshape(-1).data, depth, level=level, workers=workers)
    parts = [SIGNATURE, _header(width, height, depth), *_palette_chunks(palette)]
    for start in range(0, len(stream), _IDAT_BYTES):
        parts.append(_chunk(b"IDAT", stream[start : start + _IDAT_BYTES]))
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def encode_apng(palette: np.ndarray, frames, *, width: int, height: int, plays: int = 0) -> bytes:
    """Encode an animated PNG whose frames share one palette (one PLTE).

    Parameters
    ----------
    palette : (k, 4) uint8 array, 1 <= k <= 256
        RGBA entries; translucent ones first (a short tRNS).
    frames : list of :class:`kpalette.gif.FrameRect`
        Rectangles of indices on the canvas, the first the whole canvas. A frame is
        drawn over the canvas (alpha-0 entries let it show through) and its
        rectangle is kept, or cleared to transparent (``CLEAR``), after it.
    plays : int
        0 for ever, else the number of plays.

    Returns
    -------
    bytes
        The first frame is the default image (IDAT); each frame's rows are filtered
        and deflated as :func:`encode_palette_png` does, the palette in its order.
    """
    palette = np.asarray(palette, dtype=np.uint8)
    if palette.ndim != 2 or palette.shape[1] != 4 or not 1 <= len(palette) <= 256:
        raise ValueError(f"expected a (1..256, 4) palette, got shape {palette.shape}")
    if (
        not frames
        or frames[0].indices.shape != (height, width)
        or (frames[0].x, frames[0].y) != (0, 0)
    ):
        raise ValueError("the first frame of an APNG covers the whole canvas")
    depth = bit_depth_for(len(palette))
    parts = [
        SIGNATURE,
        _header(width, height, depth),
        _chunk(b"acTL", struct.pack(">II", len(frames), plays)),
        *_palette_chunks(palette),
    ]
    sequence = 0
    for number, frame in enumerate(frames):
        indices = np.asarray(frame.indices)
        h, w = indices.shape
        frame.check_inside(width, height)
        if indices.size and int(indices.max()) >= len(palette):
            raise ValueError(f"an index is {int(indices.max())}, past the {len(palette)} entries")
        dispose = 1 if frame.dispose == 2 else 0  # APNG_DISPOSE_OP_BACKGROUND, _NONE
        blend = 0 if number == 0 else 1  # APNG_BLEND_OP_SOURCE, _OVER
        control = struct.pack(
            ">IIIIIHHBB",
            sequence,
            w,
            h,
            frame.x,
            frame.y,
            int(frame.duration),
            1000,
            dispose,
            blend,
        )
        parts.append(_chunk(b"fcTL", control))
        sequence += 1
        _, rows = best_scanlines(palette, indices, depth, reorder=False)
        stream = compress(rows.reshape(-1).data, depth)
        for start in range(0, len(stream), _IDAT_BYTES):
            piece = stream[start : start + _IDAT_BYTES]
            if number == 0:
                parts.append(_chunk(b"IDAT", piece))
            else:
                parts.append(_chunk(b"fdAT", struct.pack(">I", sequence) + piece))
                sequence += 1
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)
