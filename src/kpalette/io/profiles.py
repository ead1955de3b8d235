"""Embedded colour profiles: an image's values brought into sRGB as it is read.

A photo from a camera or an editor may carry an ICC profile (Adobe RGB, ProPhoto,
Display P3, a printer's CMYK): its values are device values, which a colour-managed
viewer converts through the profile before showing them. kpalette converts them to
sRGB once, when the file is read, through Pillow's ImageCms (LittleCMS), and writes
sRGB files with no profile. So the clustering, the error measures, the palette's
hex, GPL, JSON and CSS, the web page and the output are all in the one space in
which colours are named and shown on the web, and a viewer with or without colour
management shows the output as a managed viewer shows the input. (Keeping the
profile would keep wide-gamut colours, but a palette of device values means nothing
outside that profile, and a viewer without colour management shows them wrong.)

The conversion uses the perceptual intent (LittleCMS falls back to relative
colorimetric where a profile has no perceptual table; for the usual matrix profiles
the two are the same: colours outside sRGB are clipped, as a browser shows them).
A profile that cannot be read, or does not fit the image's mode, is ignored with a
warning: the values are then read as sRGB, as a viewer without colour management
would show them.
"""

from __future__ import annotations

import io as _io
import warnings

import numpy as np
from PIL import Image, ImageCms

from ..exceptions import KPaletteWarning

#: The colour space each Pillow mode's samples are in, as an ICC header names it.
_PROFILE_SPACE = {"RGB": "RGB ", "RGBA": "RGB ", "L": "GRAY", "LA": "GRAY", "CMYK": "CMYK"}

_SRGB = ImageCms.createProfile("sRGB")


def embedded_profile(img: Image.Image) -> bytes | None:
    """The ICC profile a decoded image carries (``img.info["icc_profile"]``), or None."""
    profile = img.info.get("icc_profile")
    return bytes(profile) if profile else None


def to_srgb(img: Image.Image, profile: bytes, name) -> Image.Image:
    """``img`` converted from its embedded ICC ``profile`` to sRGB.

    Parameters
    ----------
    img : PIL.Image.Image
        A loaded image, of mode RGB, RGBA, L, LA, CMYK or P (a palette image is
        expanded to RGB or RGBA first).
    profile : bytes
        The ICC profile the file embeds.
    name : str or os.PathLike
        The file, to name it in a warning.

    Returns
    -------
    PIL.Image.Image
        RGB or RGBA (alpha kept as it was) in sRGB; ``img`` itself when the profile
        is sRGB already (its values are then kept exactly, with no rounding of a
        round trip), or when it cannot be applied (with a :class:`KPaletteWarning`).
    """

    if img.mode == "P":
        has_alpha = "transparency" in img.info or (
            img.palette is not None and img.palette.mode == "RGBA"
        )
        img = img.convert("RGBA" if has_alpha else "RGB")
    try:
        source = ImageCms.ImageCmsProfile(_io.BytesIO(profile))
        space = source.profile.xcolor_space
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        _ignored(name, f"cannot be read ({_reason(exc)})")
        return img
    expected = _PROFILE_SPACE.get(img.mode)
    if expected is None or space != expected:
        _ignored(name, f"is for {space.strip() or 'no'} data, and the image is {img.mode}")
        return img
    alpha = None
    if img.mode == "LA":  # LittleCMS converts the grey samples; alpha is put back after
        alpha = img.getchannel("A")
        img = img.convert("L")
    out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
    try:
        transform = ImageCms.buildTransform(
            source, _SRGB, img.mode, out_mode, renderingIntent=ImageCms.Intent.PERCEPTUAL
        )
        if img.mode in ("RGB", "RGBA") and _is_identity(transform, img.mode):
            return img
        converted = ImageCms.applyTransform(img, transform)
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        _ignored(name, f"cannot be applied ({_reason(exc)})")
        return img
    assert converted is not None  # applyTransform returns the new image unless in place
    if alpha is not None:
        converted = converted.convert("RGBA")
        converted.putalpha(alpha)
    return converted


def _is_identity(transform: ImageCms.ImageCmsTransform, mode: str) -> bool:
    """Whether ``transform`` leaves every colour of a 16-level lattice within one
    level of itself: an sRGB profile under any of its names."""
    levels = np.linspace(0, 255, 16).round().astype(np.uint8)
    lattice = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(64, 64, 3)
    if mode == "RGBA":
        lattice = np.dstack([lattice, np.full((64, 64), 255, np.uint8)])
    probe = Image.fromarray(lattice, mode)
    out = np.asarray(ImageCms.applyTransform(probe, transform))
    return bool(np.abs(out.astype(np.int16) - lattice).max() <= 1)


def _ignored(name, why: str) -> None:
    warnings.warn(
        f"{name}: its embedded colour profile {why}; its values are read as sRGB",
        KPaletteWarning,
        stacklevel=4,
    )


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if text else type(exc).__name__
