"""Reading and writing image files: the only module of kpalette that touches files.

Loading decodes every file through Pillow (fuzzed under OSS-Fuzz) into an ``(H, W, 3)``
or ``(H, W, 4)`` uint8 array (EXIF orientation applied, alpha kept, 16-bit data scaled
to 8 bits). Saving writes
palette images at the smallest bit depth that holds the palette, or full-colour
images, always atomically: the data goes to a temporary file in the destination
folder, which is then linked or renamed into place.
"""

from __future__ import annotations

import contextlib
import io as _io
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps

from . import png
from .exceptions import ImageReadError, ImageWriteError, KPaletteWarning, OutputExistsError
from .options import DEFAULT_MAX_PIXELS, MAX_EXPANSION

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "EXPANSION_CHECKED_FROM",
    "GIF_ALPHA_THRESHOLD",
    "MAX_EXPANSION",
    "MAX_PALETTE_COLORS",
    "OUTPUT_FORMATS",
    "OutputFormat",
    "PALETTE_FORMATS",
    "TRUECOLOR_FORMATS",
    "check_destination",
    "decode_image",
    "remove_stale_temporaries",
    "encode_indexed",
    "encode_truecolor",
    "file_size",
    "format_for_path",
    "load_image",
    "output_format",
    "save_indexed",
    "save_truecolor",
    "write_bytes_atomic",
]


#: Most colours a palette image (PNG, GIF) holds.
MAX_PALETTE_COLORS = 256
#: GIF has one transparent colour and no translucency: alpha below this is transparent.
GIF_ALPHA_THRESHOLD = 128


@dataclass(frozen=True)
class OutputFormat:
    """What kpalette writes for a file extension.

    Attributes
    ----------
    name : str
        Pillow's name of the format ("PNG").
    extensions : tuple of str
        Lower-case extensions, the first one preferred.
    palette : bool
        Written as a palette image (indices into at most 256 colours) unless full
        colour is asked for.
    truecolor : bool
        Can be written in full colour.
    lossy : bool
        The file's pixels may differ from the image encoded (JPEG).
    alpha : {"full", "binary", "none"}
        Transparency the format holds.
    max_side : int
        Most pixels a side the format holds (GIF's are 16-bit numbers, WebP's 14-bit,
        libjpeg's limit is 65,500).
    """

    name: str
    extensions: tuple[str, ...]
    palette: bool
    truecolor: bool
    lossy: bool
    alpha: str
    max_side: int


#: The output formats by short name: the registry the writer, the command line and the
#: docs use.
OUTPUT_FORMATS = {
    "png": OutputFormat("PNG", (".png",), True, True, False, "full", 2**31 - 1),
    "gif": OutputFormat("GIF", (".gif",), True, False, False, "binary", 65_535),
    "webp": OutputFormat("WEBP", (".webp",), False, True, False, "full", 16_383),
    "jpeg": OutputFormat("JPEG", (".jpg", ".jpeg"), False, True, True, "none", 65_500),
    "tiff": OutputFormat("TIFF", (".tif", ".tiff"), False, True, False, "full", 2**32 - 1),
}

#: Extensions written as palette (indexed) images, and the Pillow format for each.
PALETTE_FORMATS = {
    ext: fmt.name for fmt in OUTPUT_FORMATS.values() if fmt.palette for ext in fmt.extensions
}
#: Extensions written as full-colour images, and the Pillow format for each.
TRUECOLOR_FORMATS = {
    ext: fmt.name for fmt in OUTPUT_FORMATS.values() if fmt.truecolor for ext in fmt.extensions
}


def check_dimensions(image_format: str, height: int, width: int) -> None:
    """Raise ImageWriteError if ``image_format`` (Pillow's name) cannot hold an image of
    this size, saying which formats can."""
    for fmt in OUTPUT_FORMATS.values():
        if fmt.name == image_format and max(height, width) > fmt.max_side:
            others = [
                ext for other in OUTPUT_FORMATS.values() if max(height, width) <= other.max_side
                for ext in other.extensions[:1]
            ]  # fmt: skip
            raise ImageWriteError(
                f"{image_format} holds at most {fmt.max_side:,} pixels a side and this image "
                f"is {width:,}x{height:,}; write {' or '.join(others)} instead"
            )


def output_format(path) -> OutputFormat:
    """The :class:`OutputFormat` of an output path, by its extension.

    Raises
    ------
    ImageWriteError
        If the extension is not one kpalette writes.
    """
    suffix = Path(path).suffix.lower()
    for fmt in OUTPUT_FORMATS.values():
        if suffix in fmt.extensions:
            return fmt
    known = sorted(ext for fmt in OUTPUT_FORMATS.values() for ext in fmt.extensions)
    raise ImageWriteError(
        f"cannot write {str(path)!r}: unknown output extension {suffix or '(none)'!r}; "
        f"use one of {', '.join(known)}"
    )


#: Images of at most this many pixels are read whatever their expansion.
EXPANSION_CHECKED_FROM = 4_000_000


# --------------------------------------------------------------------------- loading
def load_image(
    path,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_expansion: float | None = MAX_EXPANSION,
) -> np.ndarray:
    """Read an image file into an 8-bit RGB or RGBA array.

    Parameters
    ----------
    path : str, os.PathLike or bytes
        JPEG, PNG, GIF, WebP, TIFF, BMP or any other format Pillow reads; or the bytes
        of such a file (read from standard input, say). Of an
        animation or a multi-page file, the first frame is read, and a
        :class:`KPaletteWarning` says how many there were.
    max_pixels : int or None, optional
        Refuse images with more pixels than this (a guard against decompression
        bombs). Defaults to Pillow's limit; ``None`` disables the check.
    max_expansion : float or None, optional
        Refuse images of more than 4 MP whose decoded size (4 bytes a pixel) is more
        than this many times the file's (a tiny file declaring a huge image);
        ``None`` disables the check.

    Returns
    -------
    image : (H, W, 3) or (H, W, 4) uint8 array
        RGB, or RGBA when the file has an alpha channel or a transparent palette
        entry. Grey images are expanded to RGB; 16-bit samples are scaled to 8 bits
        with rounding; CMYK is converted to RGB; EXIF orientation is applied.

    Raises
    ------
    ImageReadError
        If the file is missing, is a folder, is empty, is not an image, is truncated
        or has more than ``max_pixels`` pixels.
    """

    data = None
    if isinstance(path, bytes | bytearray | memoryview):  # a file's bytes (standard input)
        data, path = bytes(path), Path("<stdin>")
    path = Path(path)
    with _open_image(path, max_pixels, max_expansion, data) as img:
        try:
            n_frames = getattr(img, "n_frames", 1) if getattr(img, "is_animated", False) else 1
        except Exception as exc:  # noqa: BLE001 (counting frames reads the whole file)
            raise ImageReadError(f"cannot decode {path}: {_reason(exc)}") from None
        if n_frames > 1:  # GIF, APNG, WebP, multi-page TIFF
            warnings.warn(
                f"{path} has {n_frames} frames; only the first is read",
                KPaletteWarning,
                stacklevel=2,
            )
        try:
            img.seek(0)
            sixteen_bit = _is_16_bit_colour_png(img)
            img.load()
            if sixteen_bit:
                return _png_16_bit_colour(path, img, data)
            # In place: a copy of the whole image when there is nothing to rotate.
            ImageOps.exif_transpose(img, in_place=True)
            return _to_uint8_array(img)
        except ImageReadError as exc:
            raise ImageReadError(f"cannot read {path}: {exc}") from None
        except Image.DecompressionBombError as exc:
            raise ImageReadError(f"image too large: {path}: {exc}") from None
        except MemoryError:
            raise ImageReadError(f"cannot decode {path}: not enough memory") from None
        except Exception as exc:  # noqa: BLE001 (a damaged file can fail anywhere in a decoder)
            raise ImageReadError(f"cannot decode {path}: {_reason(exc)}") from None


def _open_image(
    path: Path, max_pixels: int | None, max_expansion, data: bytes | None = None
) -> Image.Image:
    """Pillow's lazily opened image, refused before decoding when over ``max_pixels``.

    ``data``: the file's bytes when they were given rather than a file (``path`` then
    only names them in messages).
    """

    if data is None and path.is_dir():
        raise ImageReadError(f"{path} is a directory, not an image file")
    if (data is not None and not data) or (
        data is None and path.is_file() and path.stat().st_size == 0
    ):
        raise ImageReadError(f"{path} is an empty file, not an image")
    try:
        with _PILLOW_LIMIT_LOCK:
            # Pillow checks its own global limit inside open(); ``max_pixels`` is
            # applied below instead, so that callers can raise the limit.
            saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
            try:
                img = Image.open(path if data is None else _io.BytesIO(data))
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except Image.UnidentifiedImageError:
        raise ImageReadError(f"not an image file Pillow can read: {path}") from None
    except FileNotFoundError:
        raise ImageReadError(f"no such file: {path}") from None
    except MemoryError:
        raise ImageReadError(f"cannot open {path}: not enough memory") from None
    except Exception as exc:  # noqa: BLE001 (a damaged header can fail anywhere in a plugin)
        raise ImageReadError(f"cannot open {path}: {_reason(exc)}") from None
    width, height = img.size
    if max_pixels is not None and width * height > max_pixels:
        img.close()
        raise ImageReadError(
            f"image too large: {path} is {width}x{height} = {width * height} pixels, "
            f"over the limit of {max_pixels} (decompression-bomb guard; "
            "raise it with --max-pixels)"
        )
    file_bytes = path.stat().st_size if data is None else len(data)
    decoded = width * height * 4
    if (
        max_expansion is not None
        and width * height > EXPANSION_CHECKED_FROM
        and decoded > max_expansion * file_bytes
    ):
        img.close()
        raise ImageReadError(
            f"image out of proportion: {path} is {file_bytes:,} bytes and declares "
            f"{width}x{height} pixels ({decoded / 1e6:,.0f} MB decoded, over "
            f"{max_expansion:g} times the file; decompression-bomb guard); "
            "raise --max-expansion to read it anyway"
        )
    return img


def _reason(exc: BaseException) -> str:
    """One line naming an exception raised while decoding: its message, or its type."""
    text = " ".join(str(exc).split())
    return text if text else type(exc).__name__


def decode_image(data: bytes) -> np.ndarray:
    """Decode image bytes held in memory (a file just encoded) as :func:`load_image` does.

    Returns
    -------
    (H, W, 3|4) uint8 array
    """

    try:
        with Image.open(_io.BytesIO(data)) as img:
            img.load()
            return _to_uint8_array(img)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageReadError(f"cannot decode the encoded image: {exc}") from None


_PILLOW_LIMIT_LOCK = threading.Lock()


def _is_16_bit_colour_png(img: Image.Image) -> bool:
    """Whether Pillow reads ``img`` as 16-bit RGB(A) PNG samples, of which it keeps
    only the high byte."""
    tiles = getattr(img, "tile", None)  # an ImageFile's, read from a file
    if img.format != "PNG" or not tiles:
        return False
    tile = tiles[0]
    rawmode = tile.args if isinstance(tile.args, str) else (tile.args or ("",))[0]
    return rawmode in ("RGB;16B", "RGBA;16B")


#: EXIF orientation -> the array operation that undoes it (as ImageOps.exif_transpose).
_ORIENTATION = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


def _png_16_bit_colour(path: Path, img: Image.Image, data: bytes | None) -> np.ndarray:
    """A 16-bit RGB(A) PNG's samples scaled to 8 bits with rounding.

    Pillow keeps the high byte of each sample; libspng (``pyspng``) decodes all 16
    bits, through one plain call on the file's bytes (Pillow has read its header and
    checked its size already). EXIF orientation and a colour key are applied as for
    other files.
    """
    import pyspng

    samples = pyspng.load(path.read_bytes() if data is None else data)  # (H, W, 4) RGBA
    if samples.ndim != 3 or samples.shape[:2] != (img.height, img.width):
        raise ImageReadError(f"unexpected 16-bit samples of shape {samples.shape}")
    if samples.shape[2] == 4 and bool((samples[..., 3] == 65535).all()):
        samples = samples[..., :3]
    image = ((samples.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    orientation = img.getexif().get(0x0112, 1)
    if orientation in _ORIENTATION:
        image = _ORIENTATION[orientation](image)
    return np.ascontiguousarray(image)


def _to_uint8_array(img: Image.Image) -> np.ndarray:
    """Convert a loaded Pillow image of any mode to an (H, W, 3|4) uint8 array."""
    mode = img.mode
    if mode == "RGBA" or (mode == "RGB" and "transparency" not in img.info):
        return np.asarray(img)
    if mode == "RGB":  # a colour key (PNG's tRNS): that colour is transparent
        return np.asarray(img.convert("RGBA"))
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        samples = np.asarray(img).astype(np.int64)
        grey = (np.clip(samples, 0, 65535) * 255 + 32767) // 65535
        return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)
    if mode == "F":
        samples = np.asarray(img, dtype=np.float64)
        if not np.isfinite(samples).all():
            bad = int(np.count_nonzero(~np.isfinite(samples)))
            raise ImageReadError(
                f"the image's float samples include {bad} NaN or infinite value(s); "
                "kpalette does not guess what they stand for"
            )
        scale = 255.0 if samples.max(initial=0.0) <= 1.0 else 1.0
        grey = np.clip(np.rint(samples * scale), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    has_alpha = mode in ("LA", "La", "PA", "RGBa") or (
        mode == "P"
        and ("transparency" in img.info or (img.palette is not None and img.palette.mode == "RGBA"))
    )
    if mode == "L" and "transparency" in img.info:
        has_alpha = True
    return np.asarray(img.convert("RGBA" if has_alpha else "RGB"))


# --------------------------------------------------------------------------- saving
def format_for_path(path, *, truecolor: bool = False) -> str:
    """Pillow format name for an output path, chosen by its extension.

    Raises
    ------
    ImageWriteError
        If the extension is not one kpalette writes.
    """
    fmt = output_format(path)
    if fmt.palette and not truecolor:
        return fmt.name
    if not fmt.truecolor:
        raise ImageWriteError(
            f"cannot write {str(path)!r} in full colour: {fmt.name} holds palette images only"
        )
    return fmt.name


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


def file_size(path) -> int | None:
    """Size of a file in bytes, or None when ``path`` is not a file."""
    try:
        return os.stat(path).st_size
    except (OSError, TypeError):
        return None


def check_destination(path, *, overwrite: bool = False, protect=()) -> None:
    """Refuse to write over an input, into a missing folder, or over a file unasked.

    A symbolic link is checked as the file it points to (it is written through).
    """
    dest = _resolve_link(Path(path))
    parent = dest.parent if str(dest.parent) else Path(".")
    for protected in protect:
        if protected is not None and _same_file(dest, Path(protected)):
            raise ImageWriteError(f"output {str(dest)!r} is the input file; choose another name")
    if not parent.is_dir():
        raise ImageWriteError(f"output folder does not exist: {str(parent)!r}")
    if dest.is_dir():
        raise ImageWriteError(f"output {str(dest)!r} is a directory")
    if dest.exists() and not overwrite:
        raise OutputExistsError(f"output exists: {str(dest)!r} (use --force to overwrite)")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


#: Temporary files are named ``.<output name>.kpalette-<pid>-<random>.tmp`` beside the
#: output: a process killed while writing leaves one, which the next write of the same
#: output removes once no process of that id runs.
TEMPORARY_SUFFIX = ".tmp"


def _temporary_prefix(dest: Path) -> str:
    return f".{dest.name}.kpalette-"


def _remove_stale_temporaries(dest: Path, parent: Path) -> None:
    """Remove what writes of ``dest`` killed before they finished left behind."""
    prefix = _temporary_prefix(dest)
    try:
        names = [name for name in os.listdir(parent) if name.startswith(prefix)]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix) :].split("-", 1)[0]
        if not name.endswith(TEMPORARY_SUFFIX) or not pid.isdigit():
            continue
        if int(pid) != os.getpid() and not _process_runs(int(pid)):
            _remove_quietly(str(parent / name))


def remove_stale_temporaries(path) -> None:
    """Remove the temporary files that writes of ``path`` killed before they finished
    left beside it (those whose process is gone)."""
    dest = _resolve_link(Path(path))
    _remove_stale_temporaries(dest, dest.parent if str(dest.parent) else Path("."))


def _process_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process: leave its file alone
    return True


def _resolve_link(dest: Path) -> Path:
    """The file a symbolic link points to (written through, not replaced by a file)."""
    if not dest.is_symlink():
        return dest
    target = Path(os.path.realpath(dest))
    if not target.parent.is_dir():
        raise ImageWriteError(
            f"output {str(dest)!r} is a symbolic link to {str(target)!r}, in a folder "
            "that does not exist"
        )
    return target


def _atomic_write(path, data: bytes, *, overwrite: bool) -> int:
    """Write ``data`` to a temporary file beside ``path``, then move it into place.

    A symbolic link at ``path`` is written through: its target gets the data.
    """
    dest = _resolve_link(Path(path))
    parent = dest.parent if str(dest.parent) else Path(".")
    _remove_stale_temporaries(dest, parent)
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=parent,
            prefix=f"{_temporary_prefix(dest)}{os.getpid()}-",
            suffix=TEMPORARY_SUFFIX,
        )
    except OSError as exc:
        raise ImageWriteError(f"cannot write in {str(parent)!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp_name, 0o666 & ~_umask())
        _move_into_place(tmp_name, dest, overwrite=overwrite)
    except BaseException:
        _remove_quietly(tmp_name)
        raise
    _remove_quietly(tmp_name)
    return len(data)


def _move_into_place(tmp_name: str, dest: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp_name, dest)
        return
    try:
        # link() fails if dest appeared meanwhile: no race between check and write.
        os.link(tmp_name, dest)
    except FileExistsError:
        raise OutputExistsError(
            f"output exists: {str(dest)!r} (use --force to overwrite)"
        ) from None
    except OSError:
        # File systems without hard links: check, then rename.
        if dest.exists():
            raise OutputExistsError(
                f"output exists: {str(dest)!r} (use --force to overwrite)"
            ) from None
        os.replace(tmp_name, dest)


def _remove_quietly(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name)


_UMASK: list[int] = []


def _umask() -> int:
    if not _UMASK:
        current = os.umask(0)
        os.umask(current)
        _UMASK.append(current)
    return _UMASK[0]


def write_bytes_atomic(path, data: bytes, *, overwrite: bool = False, protect=()) -> int:
    """Write raw bytes (a palette export, a report) atomically, with the output checks."""
    check_destination(path, overwrite=overwrite, protect=protect)
    return _atomic_write(path, data, overwrite=overwrite)
