"""Reading image files into arrays, through Pillow only (fuzzed under OSS-Fuzz):
``(H, W, 3)`` or ``(H, W, 4)`` uint8, EXIF orientation applied, alpha kept, 16-bit
samples scaled to 8 bits, colour profiles converted to sRGB; with the
decompression-bomb guard before any decoding.

Only the formats in :data:`READ_FORMATS` are opened: Pillow's own decoders and the
fuzzed libraries it links (libjpeg-turbo, libpng/zlib, libwebp, libtiff, libavif,
OpenJPEG), never a plugin that runs another program (EPS and PostScript run
Ghostscript, with no time limit) or one of its rarely used scientific formats."""

from __future__ import annotations

import contextlib
import io as _io
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..exceptions import ImageReadError, KPaletteWarning
from ..options import DEFAULT_MAX_PIXELS, MAX_EXPANSION
from .profiles import embedded_profile, to_srgb

#: Images of at most this many pixels are read whatever their expansion.
EXPANSION_CHECKED_FROM = 4_000_000
#: The formats read (Pillow's names): photos and graphics in the formats people
#: exchange. A file in any other is refused before a decoder runs.
READ_FORMATS = (
    "PNG",  # APNG too
    "JPEG",  # MPO (a camera's multi-picture JPEG) too
    "GIF",
    "WEBP",
    "AVIF",
    "TIFF",
    "BMP",
    "DIB",
    "ICO",
    "PPM",  # PBM, PGM, PPM, PFM
    "TGA",
    "QOI",
    "PCX",
    "PSD",
    "JPEG2000",
)
#: A progressive JPEG is decoded once per scan (libjpeg-turbo has no limit): real
#: encoders write about 10; a file with thousands is a denial of service.
MAX_JPEG_SCANS = 100
#: ... and scans times pixels, the decoder's work, is held under this: 10 scans of
#: a 100 MP photo (docs/benchmarks.md, "Hostile files").
MAX_JPEG_SCAN_WORK = 1_000_000_000


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
        A file in one of :data:`READ_FORMATS` (PNG, JPEG, GIF, WebP, TIFF, ...; never
        EPS or PostScript, which would run Ghostscript); or the bytes
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
        with rounding; CMYK is converted to RGB; EXIF orientation is applied. An
        embedded ICC colour profile (Adobe RGB, ProPhoto, Display P3, CMYK, ...) is
        honoured: the values are converted to sRGB (:mod:`kpalette.io.profiles`).

    Raises
    ------
    ImageReadError
        If the file is missing, is a folder, is empty, is not an image, is truncated
        or has more than ``max_pixels`` pixels.
    """

    path, data = _source(path)
    with _open_image(path, max_pixels, max_expansion, data) as img:
        try:
            # A PSD's "frames" are its layers; its composite image is the one read.
            animated = getattr(img, "is_animated", False) and img.format != "PSD"
            n_frames = getattr(img, "n_frames", 1) if animated else 1
        except Exception as exc:  # noqa: BLE001 (counting frames reads the whole file)
            raise ImageReadError(f"cannot decode {path}: {_reason(exc)}") from None
        if n_frames > 1:  # GIF, APNG, WebP, multi-page TIFF
            warnings.warn(
                f"{path} has {n_frames} frames; only the first is read",
                KPaletteWarning,
                stacklevel=2,
            )
        try:
            if n_frames > 1:  # counting them may have moved to the last
                img.seek(0)
            sixteen_bit = _is_16_bit_colour_png(img)
            img.load()
            profile = embedded_profile(img)
            if img.mode == "CMYK" and profile is None:
                warnings.warn(
                    f"{path} is a CMYK image: converted to RGB by a plain formula, not "
                    "through a colour profile, so its colours may differ from a print "
                    "viewer's",
                    KPaletteWarning,
                    stacklevel=2,
                )
            if sixteen_bit:
                image = _png_16_bit_colour(path, img, data)
                if profile is None:
                    return image
                # Into sRGB at 8 bits: the output is 8-bit, and LittleCMS's 8-bit
                # transform rounds once.
                return np.asarray(to_srgb(Image.fromarray(image), profile, path))
            # In place: a copy of the whole image when there is nothing to rotate.
            ImageOps.exif_transpose(img, in_place=True)
            if profile is not None and img.mode in ("RGB", "RGBA", "L", "LA", "CMYK", "P"):
                return _to_uint8_array(to_srgb(img, profile, path))
            return _to_uint8_array(img)
        except ImageReadError as exc:
            raise ImageReadError(f"cannot read {path}: {exc}") from None
        except Image.DecompressionBombError as exc:
            raise ImageReadError(f"image too large: {path}: {exc}") from None
        except MemoryError:
            raise ImageReadError(f"cannot decode {path}: not enough memory") from None
        except Exception as exc:  # noqa: BLE001 (a damaged file can fail anywhere in a decoder)
            raise ImageReadError(f"cannot decode {path}: {_reason(exc)}") from None


def _source(path) -> tuple[Path, bytes | None]:
    """A file's path, or for a file's bytes (standard input) the name ``<stdin>`` and
    the bytes."""
    if isinstance(path, bytes | bytearray | memoryview):
        return Path("<stdin>"), bytes(path)
    return Path(path), None


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
                img = Image.open(path if data is None else _io.BytesIO(data), formats=READ_FORMATS)
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except Image.UnidentifiedImageError:
        known = _signature_format(path, data)
        if known is not None:  # its plugin refused it: a damaged or unusual file
            raise ImageReadError(
                f"cannot decode {path}: a damaged or unsupported {known} file"
            ) from None
        raise ImageReadError(
            f"not an image file kpalette reads: {path} (it reads PNG, JPEG, GIF, WebP, "
            "AVIF, TIFF, BMP, ICO, PNM, TGA, QOI, PCX, PSD and JPEG 2000)"
        ) from None
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
    if img.format in ("JPEG", "MPO") and img.info.get("progressive"):
        _check_scans(path, img, data)
    return img


def _signature_format(path: Path, data: bytes | None) -> str | None:
    """The format among :data:`READ_FORMATS` whose signature the file starts with
    (Pillow's own ``accept`` checks of the first 16 bytes), or None."""
    try:
        if data is None:
            with open(path, "rb") as file:
                data = file.read(16)
    except OSError:
        return None
    Image.init()
    for name in READ_FORMATS:
        accept = Image.OPEN.get(name, (None, None))[1]
        with contextlib.suppress(Exception):  # an accept check never decides alone
            if accept is not None and accept(data[:16]):
                return name
    return None


def _check_scans(path: Path, img: Image.Image, data: bytes | None) -> None:
    """Refuse a progressive JPEG of too many scans before decoding it: each scan is
    a pass over the whole image. Its markers are counted, not parsed: in the
    entropy-coded data every 0xFF byte is followed by 0x00 (or a restart marker), so
    the pair FF DA occurs once per scan, and more often only in a damaged file."""
    scans = (path.read_bytes() if data is None else data).count(b"\xff\xda")
    width, height = img.size
    if scans > MAX_JPEG_SCANS or scans * width * height > MAX_JPEG_SCAN_WORK:
        img.close()
        raise ImageReadError(
            f"cannot decode {path}: a progressive JPEG of {scans} scans at {width}x{height} "
            f"(refused: at most {MAX_JPEG_SCANS} scans, and scans x pixels at most "
            f"{MAX_JPEG_SCAN_WORK:,}; real encoders write about 10)"
        )


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
        with Image.open(_io.BytesIO(data), formats=READ_FORMATS) as img:
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
