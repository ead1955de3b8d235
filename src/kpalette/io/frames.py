"""Reading every frame of an animation (GIF, APNG, animated WebP) through Pillow:
each frame as a viewer shows it, composited on the canvas left by the ones before,
with its duration, and how many times the whole is played.

The same guards as for still images (:mod:`.decode`) come first, and the frames are
bounded too: at most :data:`MAX_FRAMES`, and their pixels together at most
:data:`ANIMATION_PIXEL_FACTOR` times the still-image limit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..exceptions import ImageReadError, KPaletteWarning
from ..options import DEFAULT_MAX_PIXELS, MAX_EXPANSION
from .decode import _open_image, _reason, _source, _to_uint8_array
from .profiles import embedded_profile, to_srgb

#: The formats whose frames are an animation (a multi-page TIFF's are pages).
ANIMATED_FORMATS = ("GIF", "PNG", "WEBP")
#: Frames read at most: a viewer's animation has tens to a few thousand.
MAX_FRAMES = 10_000
#: The frames' pixels together may be this many times ``max_pixels`` (four times
#: Pillow's limit is 358 MP, 1.4 GB as RGBA: a minute of 640x480 at 20 frames a second).
ANIMATION_PIXEL_FACTOR = 4
#: A frame with no duration, or one of 0 ms, is shown this long (as browsers do).
DEFAULT_DURATION_MS = 100


@dataclass(frozen=True)
class Frames:
    """An animation's frames as shown.

    Attributes
    ----------
    frames : (N, H, W, C) uint8 array
        Every frame composited on the canvas as a viewer shows it (C = 3, or 4 when
        any frame has transparent pixels), in sRGB.
    durations : tuple of int
        How long each frame is shown, in milliseconds.
    plays : int
        How many times the animation is played: 0 for ever, 1 once.
    """

    frames: np.ndarray
    durations: tuple[int, ...]
    plays: int


def frame_count(
    path,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_expansion: float | None = MAX_EXPANSION,
) -> int:
    """The number of frames of an animated GIF, APNG or WebP; 1 for any other image.

    Raises
    ------
    ImageReadError
        As :func:`kpalette.io.load_image` for a file it would not read.
    """
    path, data = _source(path)
    with _open_image(path, max_pixels, max_expansion, data) as img:
        return _n_frames(img, path)


def read_frames(
    path,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_expansion: float | None = MAX_EXPANSION,
    max_frames: int = MAX_FRAMES,
) -> Frames:
    """Read every frame of an animation (a still image gives one frame).

    Parameters
    ----------
    path : str, os.PathLike or bytes
        An animated GIF, APNG or WebP (or any image :func:`kpalette.io.load_image`
        reads, as one frame); or the bytes of one.
    max_pixels : int or None
        The still-image limit of each frame; the frames together may have
        :data:`ANIMATION_PIXEL_FACTOR` times as many. ``None`` disables both.
    max_expansion : float or None
        As for :func:`kpalette.io.load_image` (of the first frame).
    max_frames : int
        Refuse animations of more frames than this.

    Returns
    -------
    Frames
    """
    path, data = _source(path)
    with _open_image(path, max_pixels, max_expansion, data) as img:
        n_frames = _n_frames(img, path)
        width, height = img.size
        if n_frames > max_frames:
            raise ImageReadError(
                f"{path} has {n_frames} frames, more than the {max_frames} read at most"
            )
        total = n_frames * width * height
        if max_pixels is not None and total > ANIMATION_PIXEL_FACTOR * max_pixels:
            raise ImageReadError(
                f"animation too large: {path} has {n_frames} frames of {width}x{height}, "
                f"{total:,} pixels, over {ANIMATION_PIXEL_FACTOR} x --max-pixels "
                f"({ANIMATION_PIXEL_FACTOR * max_pixels:,}); raise --max-pixels to read it"
            )
        profile = embedded_profile(img)
        plays = _plays(img)
        frames: list[np.ndarray] = []
        durations: list[int] = []
        for index in range(n_frames):
            try:
                img.seek(index)
                img.load()
                duration = img.info.get("duration") or DEFAULT_DURATION_MS
                frame = img.convert("RGBA")
                if profile is not None:
                    frame = to_srgb(frame, profile, path)
                frame_array = _to_uint8_array(frame)
            except MemoryError:
                raise ImageReadError(f"cannot decode {path}: not enough memory") from None
            except Exception as exc:  # noqa: BLE001 (a damaged frame can fail anywhere in a decoder)
                if not frames:
                    raise ImageReadError(f"cannot decode {path}: {_reason(exc)}") from None
                # As a browser shows a truncated download: the frames before it.
                warnings.warn(
                    f"{path}: frame {index + 1} of {n_frames} cannot be decoded "
                    f"({_reason(exc)}); the {index} before it are kept",
                    KPaletteWarning,
                    stacklevel=2,
                )
                break
            durations.append(max(int(round(float(duration))), 1))
            frames.append(frame_array)
    stacked = np.stack(frames)
    if bool((stacked[..., 3] == 255).all()):
        stacked = np.ascontiguousarray(stacked[..., :3])
    return Frames(stacked, tuple(durations), plays)


def _n_frames(img: Image.Image, path: Path) -> int:
    if img.format not in ANIMATED_FORMATS:
        return 1
    try:
        return int(getattr(img, "n_frames", 1))
    except Exception as exc:  # noqa: BLE001 (counting frames reads the whole file)
        raise ImageReadError(f"cannot decode {path}: {_reason(exc)}") from None


def _plays(img: Image.Image) -> int:
    """How many times the file asks to be played (0: for ever). A GIF's loop count
    is the number of repeats after the first play (no NETSCAPE block: once); APNG's
    ``num_plays`` and WebP's loop count are plays."""
    loop = img.info.get("loop")
    if img.format == "GIF":
        if loop is None:
            return 1
        return 0 if int(loop) == 0 else int(loop) + 1
    return 0 if loop is None else int(loop)
