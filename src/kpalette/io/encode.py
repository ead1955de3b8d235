"""Encoding images into file bytes: palette images at the smallest bit depth that holds
the palette (PNG through :mod:`kpalette.png`), full-colour images through Pillow; and
saving them (:mod:`.paths` writes the bytes)."""

from __future__ import annotations

import io as _io
from pathlib import Path

import numpy as np
from PIL import Image

from .. import png
from ..exceptions import ImageWriteError
from .formats import (
    GIF_ALPHA_THRESHOLD,
    PALETTE_FORMATS,
    check_dimensions,
    format_for_path,
)
from .paths import (
    _atomic_write,
    check_destination,
)


def encode_indexed(
    palette: np.ndarray,
    indices: np.ndarray,
    image_format: str = "PNG",
    *,
    keep_order: bool = False,
) -> bytes:
    """Encode a palette image to bytes.

    Parameters
    ----------
    palette : (k, 3) or (k, 4) uint8 array
        The colours; a fourth column is alpha. At most 256 entries.
    indices : (H, W) integer array
        Index into ``palette`` for every pixel.
    image_format : {"PNG", "GIF"}
        PNG is written at the smallest bit depth (1, 2, 4 or 8) that holds k colours,
        with a tRNS chunk for translucent entries. GIF gets one transparent index
        (entries with alpha below ``GIF_ALPHA_THRESHOLD`` become transparent, the
        others opaque).
    keep_order : bool
        Write the entries in the order given (images that share one palette need
        it); otherwise a PNG may list them in the order that deflates smallest
        (:func:`kpalette.png.best_scanlines`). The pixels' colours are the same.

    Returns
    -------
    data : bytes
    """
    palette = np.asarray(palette, dtype=np.uint8)
    n_colors = len(palette)
    if not 1 <= n_colors <= 256:
        raise ImageWriteError(f"a palette image holds 1 to 256 colours, got {n_colors}")
    indices = np.asarray(indices)
    check_dimensions(image_format, *indices.shape[:2])
    has_alpha = palette.shape[1] == 4 and bool((palette[:, 3] < 255).any())
    if has_alpha:
        # Translucent entries first, so the tRNS chunk (PNG) stays as short as it can be.
        order = np.argsort(palette[:, 3] == 255, kind="stable")
        palette = palette[order]
        remap = np.empty(n_colors, dtype=np.uint8)
        remap[order] = np.arange(n_colors, dtype=np.uint8)
        indices = remap[indices]
    if image_format == "PNG":
        return png.encode_palette_png(
            palette if has_alpha else palette[:, :3], indices, reorder=not keep_order
        )
    img = _palette_image(indices, palette)
    params: dict = {}
    if image_format == "GIF":
        if has_alpha:
            transparent = np.flatnonzero(palette[:, 3] < GIF_ALPHA_THRESHOLD)
            if len(transparent):
                params["transparency"] = int(transparent[0])
                if len(transparent) > 1:
                    lut = np.arange(n_colors, dtype=np.uint8)
                    lut[transparent] = transparent[0]
                    img = _palette_image(lut[indices], palette)
        params["optimize"] = False
    else:
        raise ImageWriteError(f"{image_format} cannot hold a palette image; use .png or .gif")
    buffer = _io.BytesIO()
    img.save(buffer, format=image_format, **params)
    return buffer.getvalue()


def _palette_image(indices: np.ndarray, palette: np.ndarray) -> Image.Image:
    """A Pillow mode-P image over ``indices`` with exactly ``len(palette)`` entries."""

    height, width = indices.shape
    data = np.ascontiguousarray(indices, dtype=np.uint8)
    img = Image.frombuffer("P", (width, height), data, "raw", "P", 0, 1)
    # Pillow's PNG writer picks 1/2/4/8-bit samples from the palette's length.
    img.putpalette(palette[:, :3].tobytes(), rawmode="RGB")
    return img


def encode_truecolor(image: np.ndarray, image_format: str = "PNG") -> bytes:
    """Encode an (H, W, 3) or (H, W, 4) uint8 array in full colour.

    WebP is written lossless (a quantized image has few colours, which lossless
    coding exploits); JPEG at quality 95; TIFF with Deflate compression.

    Raises
    ------
    ImageWriteError
        For JPEG when the image has translucent pixels (JPEG has no alpha channel).
    """
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ImageWriteError(f"expected an (H, W, 3) or (H, W, 4) array, got shape {image.shape}")
    check_dimensions(image_format, *image.shape[:2])
    if image.shape[2] == 4 and bool((image[..., 3] == 255).all()):
        image = image[..., :3]
    if image_format == "JPEG" and image.shape[2] == 4:
        raise ImageWriteError(
            "JPEG has no alpha channel and this image has transparent pixels; "
            "write .png, .webp, .gif or .tif instead"
        )
    params: dict = {}
    if image_format == "WEBP":
        params = {"lossless": True, "quality": 80, "method": 4}
    elif image_format == "JPEG":
        params = {"quality": 95, "subsampling": 0}
    elif image_format == "TIFF":
        params = {"compression": "tiff_adobe_deflate"}
    elif image_format == "PNG":
        params = {"compress_level": 6}

    img = Image.fromarray(np.ascontiguousarray(image))
    buffer = _io.BytesIO()
    img.save(buffer, format=image_format, **params)
    return buffer.getvalue()


def save_indexed(
    path,
    palette: np.ndarray,
    indices: np.ndarray,
    *,
    overwrite: bool = False,
    protect=(),
    keep_order: bool = False,
) -> int:
    """Write a palette image (format by extension: .png or .gif) atomically.

    Parameters
    ----------
    path : str or os.PathLike
    palette : (k, 3) or (k, 4) uint8 array
    indices : (H, W) integer array
    overwrite : bool, optional
        Replace an existing file. Without it an existing file is an error.
    protect : iterable of paths, optional
        Files that must never be written (the inputs).
    keep_order : bool, optional
        Write the palette's entries in the order given (see :func:`encode_indexed`).

    Returns
    -------
    n_bytes : int
        Size of the written file.
    """
    image_format = format_for_path(path)
    if image_format not in PALETTE_FORMATS.values():
        raise ImageWriteError(
            f"cannot write a palette image as {Path(path).suffix!r}; use .png or .gif, "
            "or write it in full colour (truecolor)"
        )
    check_destination(path, overwrite=overwrite, protect=protect)
    data = encode_indexed(palette, indices, image_format, keep_order=keep_order)
    return _atomic_write(path, data, overwrite=overwrite)


def save_truecolor(path, image: np.ndarray, *, overwrite: bool = False, protect=()) -> int:
    """Write an (H, W, 3|4) uint8 array in full colour (format by extension), atomically.

    Returns
    -------
    n_bytes : int
        Size of the written file.
    """
    image_format = format_for_path(path, truecolor=True)
    check_destination(path, overwrite=overwrite, protect=protect)
    data = encode_truecolor(image, image_format)
    return _atomic_write(path, data, overwrite=overwrite)
