"""Where a batch's files live: local paths, or object storage named by fsspec URLs
(``s3://bucket/in/``, ``gs://``, ``az://``, ``memory://``; the ``cloud`` extra
installs fsspec and s3fs, gcsfs and adlfs add Google's and Azure's).

Credentials and the endpoint come from the storage library's standard environment
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, a profile;
``GOOGLE_APPLICATION_CREDENTIALS``; ...): kpalette neither takes nor prints them.
An object is written whole in one request (S3's PUT: readers see the old object or
the new one, never a part), so a batch killed half-way leaves no partial output and
no temporary object.
"""

from __future__ import annotations

import contextlib
import posixpath
from pathlib import Path

from .exceptions import (
    ImageReadError,
    ImageWriteError,
    KPaletteError,
    OutputExistsError,
    require_extra,
)
from .io import file_size

__all__ = ["is_url", "find_images", "listing", "read", "size", "write", "join"]

#: Extensions taken as images in a bucket (objects are not opened to be recognised:
#: at a million objects, one request each would double the batch's).
IMAGE_SUFFIXES = (
    ".png", ".apng", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".tif", ".tiff", ".bmp",
    ".ppm", ".pgm", ".pbm", ".tga", ".qoi", ".psd", ".jp2",
)  # fmt: skip


def is_url(location) -> bool:
    """Whether ``location`` names object storage (``scheme://...``), not a local path."""
    text = str(location)
    return "://" in text and not text.startswith("file://") and not isinstance(location, Path)


def _filesystem(url: str):
    """The fsspec file system of ``url`` and the path inside it."""
    require_extra("fsspec", "cloud")
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        scheme = url.split("://", 1)[0]
        raise ImageWriteError(
            f"cannot open {url}: {exc} (s3:// needs kpalette[cloud]; {scheme}:// its "
            "fsspec package)"
        ) from None


@contextlib.contextmanager
def _asking(url: str, error=ImageReadError):
    """The storage library's own failures (an endpoint that does not answer, missing
    credentials: botocore's errors, which are neither OSError nor ValueError) as one
    kpalette error naming the URL; OSError (a missing object, no permission) and
    ValueError pass as they are."""
    try:
        yield
    except (OSError, ValueError, KPaletteError):
        raise
    except Exception as exc:  # noqa: BLE001 (each storage library has its own errors)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise error(f"cannot reach {url}: {reason}") from None


def _url(fs, path: str) -> str:
    protocol = fs.protocol[0] if isinstance(fs.protocol, tuple | list) else fs.protocol
    return f"{protocol}://{path.lstrip('/') if protocol != 'memory' else path}"


def join(folder: str, *names: str) -> str:
    """A URL under ``folder``."""
    return posixpath.join(folder.rstrip("/"), *names)


def find_images(url: str) -> list[tuple[str, str]]:
    """Every image object under ``url`` (a prefix or one object), each with the URL
    its layout is relative to, in order.

    Raises
    ------
    ValueError
        When nothing is there.
    """
    fs, path = _filesystem(url)
    with _asking(url):
        fs.invalidate_cache()
        if fs.isfile(path):
            return [(_url(fs, path), _url(fs, posixpath.dirname(path)))]
        base = _url(fs, path.rstrip("/"))
        found = [
            (_url(fs, name), base)
            for name in sorted(fs.find(path))
            if posixpath.splitext(name)[1].lower() in IMAGE_SUFFIXES
        ]
        if not found and not fs.exists(path):
            raise ValueError(f"no object at {url}")
    return found


def listing(url: str) -> set[str]:
    """The URLs of every object under ``url`` now (the outputs already there)."""
    fs, path = _filesystem(url)
    with _asking(url):
        fs.invalidate_cache()
        if not fs.exists(path):
            return set()
        return {_url(fs, name) for name in fs.find(path)}


def read(source):
    """What :func:`kpalette.io.load_image` reads: a local path as it is, an object's
    bytes for a URL."""
    if not is_url(source):
        return source
    fs, path = _filesystem(str(source))
    with _asking(str(source)):
        return fs.cat_file(path)


def size(source) -> int | None:
    """The bytes of a file or object, or None when it cannot be asked."""
    if not is_url(source):
        return file_size(source)
    try:
        fs, path = _filesystem(str(source))
        with _asking(str(source)):
            return int(fs.size(path))
    except (OSError, ValueError, TypeError, KPaletteError):
        return None


def write(target: str, data: bytes, *, overwrite: bool = False, protect=()) -> int:
    """Write ``data`` as the object ``target`` in one request; returns its bytes.

    Raises
    ------
    OutputExistsError
        When the object exists and ``overwrite`` is false, or ``target`` is one of
        ``protect`` (an input).
    """
    if any(str(target) == str(other) for other in protect):
        raise OutputExistsError(f"refusing to overwrite the input {target}")
    fs, path = _filesystem(target)
    with _asking(target, ImageWriteError):
        if not overwrite and fs.exists(path):
            raise OutputExistsError(f"output exists: {target} (use --force to replace it)")
        fs.pipe_file(path, data)
    return len(data)
