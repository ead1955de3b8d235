"""Palettes: sorting by share, and export as hex, JSON, GIMP .gpl, CSS or a swatch image."""

from __future__ import annotations

import json
import json as _json
import re
from pathlib import Path

import numpy as np

from ._kernels.labels import count_labels
from .histogram import image_histogram
from .io import encode_truecolor, load_image

__all__ = [
    "MAX_PALETTE_FILE_COLORS",
    "PALETTE_FORMATS",
    "format_palette",
    "read_palette",
    "order_by_share",
    "sort_by_share",
    "swatch_image",
    "to_hex",
]

#: Names accepted by :func:`format_palette`.
PALETTE_FORMATS = ("hex", "json", "gpl", "css", "png")


def to_hex(palette: np.ndarray) -> list[str]:
    """``"#rrggbb"`` for every colour (``"#rrggbbaa"`` for translucent RGBA entries).

    Parameters
    ----------
    palette : (k, 3) or (k, 4) uint8 array
    """
    palette = np.asarray(palette, dtype=np.uint8)
    codes = []
    for row in palette:
        text = "#{:02x}{:02x}{:02x}".format(*row[:3])
        if len(row) == 4 and row[3] != 255:
            text += f"{row[3]:02x}"
        codes.append(text)
    return codes


def sort_by_share(palette: np.ndarray, indices: np.ndarray):
    """Order a palette by pixel count, most used first, dropping unused entries.

    Parameters
    ----------
    palette : (k, C) uint8 array
    indices : (H, W) or (N,) integer array into ``palette``

    Returns
    -------
    palette : (m, C) uint8 array
        Used entries, most frequent first (ties keep their order).
    indices : array like ``indices``, uint8 when m <= 256
        Remapped into the new palette.
    counts : (m,) int64 array
        Pixels of each entry.
    remap : (k,) array
        New index of each old entry (0 for the dropped ones).
    """
    palette = np.asarray(palette)
    counts = count_entries(indices, len(palette))
    order, remap = order_by_share(counts)
    return palette[order], remap[indices], counts[order].astype(np.int64), remap


def count_entries(indices: np.ndarray, n_entries: int) -> np.ndarray:
    """Pixels of each of ``n_entries`` palette entries in an index map of any shape:
    (n_entries,) int64 (compiled, in parallel, for uint8 and int32 maps)."""
    flat = np.asarray(indices).reshape(-1)
    if flat.dtype in (np.uint8, np.int32) and n_entries >= 1:
        return count_labels(np.ascontiguousarray(flat), n_entries)
    return np.bincount(flat, minlength=n_entries).astype(np.int64)


def order_by_share(counts: np.ndarray):
    """Entries ordered by pixel count, most used first, unused ones dropped.

    Parameters
    ----------
    counts : (k,) integer array
        Pixels of each palette entry.

    Returns
    -------
    order : (m,) int64 array
        The used entries, most frequent first (ties keep their order).
    remap : (k,) array, uint8 when m <= 256
        New index of each entry (0 for the dropped ones).
    """
    counts = np.asarray(counts)
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    remap = np.zeros(len(counts), dtype=np.uint8 if len(order) <= 256 else np.int32)
    remap[order] = np.arange(len(order))
    return order, remap


def swatch_image(palette: np.ndarray, *, size: int = 48, columns: int = 16) -> np.ndarray:
    """The palette as a grid of square swatches.

    Returns
    -------
    image : (rows * size, min(k, columns) * size, C) uint8 array
        Unused cells of the last row are white (transparent for RGBA palettes).
    """
    palette = np.asarray(palette, dtype=np.uint8)
    k, channels = palette.shape
    columns = max(1, min(columns, k))
    rows = -(-k // columns)
    grid = np.zeros((rows * columns, channels), dtype=np.uint8)
    if channels == 3:
        grid[:] = 255
    grid[:k] = palette
    cells = grid.reshape(rows, columns, channels)
    return np.repeat(np.repeat(cells, size, axis=0), size, axis=1)


def format_palette(palette, counts, fmt: str = "hex", *, name: str = "kpalette"):
    """Render a palette in one of :data:`PALETTE_FORMATS`.

    Parameters
    ----------
    palette : (k, C) uint8 array
        Colours, usually sorted by share.
    counts : (k,) integer array
        Pixels of each colour (the shares are computed from them).
    fmt : {"hex", "json", "gpl", "css", "png"}
    name : str
        Palette name (GIMP and CSS outputs).

    Returns
    -------
    str, or bytes for ``"png"`` (a swatch image).

    Raises
    ------
    ValueError
        For an unknown format.
    """
    palette = np.asarray(palette, dtype=np.uint8)
    counts = np.asarray(counts, dtype=np.int64)
    shares = counts / max(int(counts.sum()), 1)
    codes = to_hex(palette)
    if fmt == "hex":
        return "".join(f"{code}  {share:6.2%}\n" for code, share in zip(codes, shares, strict=True))
    if fmt == "json":
        entries = [
            {
                "hex": code,
                "rgb": [int(v) for v in row[:3]],
                "share": round(float(share), 6),
                "pixels": int(count),
            }
            | ({"alpha": int(row[3])} if len(row) == 4 else {})
            for code, row, share, count in zip(codes, palette, shares, counts, strict=True)
        ]
        return json.dumps({"name": name, "colors": entries}, indent=2) + "\n"
    if fmt == "gpl":
        lines = ["GIMP Palette", f"Name: {name}", f"Columns: {min(len(palette), 16)}", "#"]
        lines += [
            f"{row[0]:3d} {row[1]:3d} {row[2]:3d}\t{code} {share:.2%}"
            for code, row, share in zip(codes, palette, shares, strict=True)
        ]
        return "\n".join(lines) + "\n"
    if fmt == "css":
        prefix = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-") or "color"
        lines = [":root {"]
        lines += [
            f"  --{prefix}-{i + 1}: {code}; /* {share:.2%} */"
            for i, (code, share) in enumerate(zip(codes, shares, strict=True))
        ]
        return "\n".join(lines + ["}"]) + "\n"
    if fmt == "png":
        return encode_truecolor(swatch_image(palette), "PNG")
    raise ValueError(f"unknown palette format {fmt!r}; use one of {', '.join(PALETTE_FORMATS)}")


#: Most colours a palette file may hold (what a palette image holds).
MAX_PALETTE_FILE_COLORS = 256


def read_palette(path) -> np.ndarray:
    """Read a palette file: the colours to map images onto.

    Parameters
    ----------
    path : str or os.PathLike
        A GIMP ``.gpl`` palette, a ``.json`` file (a list of ``"#rrggbb"`` codes or of
        ``[r, g, b]``, or kpalette's own ``{"colors": [{"hex": ...}, ...]}``), a
        ``.hex``/``.txt`` list of ``#rrggbb`` codes (one per line, ``#`` comments
        after a code allowed), or an image whose distinct colours are the palette.

    Returns
    -------
    (m, 3) uint8 array
        The colours in file order, duplicates removed, 1 <= m <= 256.

    Raises
    ------
    ValueError
        An empty or malformed file, or more than 256 colours; the message names the
        file and what was wrong.
    """

    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".gpl", ".json", ".hex", ".txt", ".css"):
            text = path.read_text(encoding="utf-8")
        else:
            text = None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the palette file {path}: {exc}") from None
    colors: list[tuple[int, int, int]] = []
    if text is None:
        image = load_image(path)
        histogram = image_histogram(image.reshape(-1, image.shape[-1]))
        if histogram.n_colors > MAX_PALETTE_FILE_COLORS:
            raise ValueError(
                f"the palette image {path} has {histogram.n_colors} colours; a palette "
                f"holds at most {MAX_PALETTE_FILE_COLORS}"
            )
        colors = [(int(c[0]), int(c[1]), int(c[2])) for c in histogram.colors]
    elif suffix == ".gpl":
        lines = text.splitlines()
        if not lines or lines[0].strip() != "GIMP Palette":
            raise ValueError(f"{path} is not a GIMP palette (its first line is not 'GIMP Palette')")
        for number, line in enumerate(lines[1:], start=2):
            line = line.strip()
            if not line or line.startswith("#") or ":" in line.split()[0]:
                continue  # comments, "Name: ...", "Columns: ..."
            fields = line.split()
            try:
                values = [int(v) for v in fields[:3]]
            except ValueError:
                raise ValueError(
                    f"{path}, line {number}: expected 'R G B name', got {line!r}"
                ) from None
            colors.append(_checked_rgb(values, path, number))
    elif suffix == ".json":
        try:
            data = _json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None
        if isinstance(data, dict):
            data = data.get("colors", data.get("palette"))
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a list of colours, or {{'colors': [...]}}")
        for number, item in enumerate(data, start=1):
            if isinstance(item, dict):
                item = item.get("hex", item.get("rgb"))
            if isinstance(item, str):
                colors.append(_hex_rgb(item, path, number))
            elif isinstance(item, list | tuple) and len(item) in (3, 4):
                colors.append(_checked_rgb(item[:3], path, number))
            else:
                raise ValueError(
                    f"{path}, colour {number}: expected '#rrggbb' or [r, g, b], got {item!r}"
                )
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            codes = re.findall(r"#[0-9a-fA-F]{6}\b", line)
            if not codes and line.strip() and not line.strip().startswith(("//", ";")):
                raise ValueError(
                    f"{path}, line {number}: expected a '#rrggbb' code, got {line.strip()!r}"
                )
            if codes:
                colors.append(_hex_rgb(codes[0], path, number))
    unique = list(dict.fromkeys(colors))
    if not unique:
        raise ValueError(f"the palette file {path} holds no colours")
    if len(unique) > MAX_PALETTE_FILE_COLORS:
        raise ValueError(
            f"the palette file {path} holds {len(unique)} colours; a palette holds at most "
            f"{MAX_PALETTE_FILE_COLORS}"
        )
    return np.array(unique, dtype=np.uint8)


def _checked_rgb(values, path, where) -> tuple[int, int, int]:
    try:
        rgb = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{path}, colour {where}: not numbers: {values!r}") from None
    if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
        raise ValueError(f"{path}, colour {where}: expected three values in 0..255, got {values!r}")
    return rgb


def _hex_rgb(code: str, path, where) -> tuple[int, int, int]:
    text = code.strip().lstrip("#")
    if len(text) not in (6, 8) or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise ValueError(f"{path}, colour {where}: expected '#rrggbb', got {code!r}")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
