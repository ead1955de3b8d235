"""Palettes: sorting by share, and export as hex, JSON, GIMP .gpl, CSS or a swatch image."""

from __future__ import annotations

import json

import numpy as np

__all__ = [
    "PALETTE_FORMATS",
    "format_palette",
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
    counts = np.bincount(np.asarray(indices).ravel(), minlength=len(palette))
    order, remap = order_by_share(counts)
    return palette[order], remap[indices], counts[order].astype(np.int64), remap


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
        from .io import encode_truecolor

        return encode_truecolor(swatch_image(palette), "PNG")
    raise ValueError(f"unknown palette format {fmt!r}; use one of {', '.join(PALETTE_FORMATS)}")
