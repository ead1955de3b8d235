"""Animations with one palette: ``quantize_animation()`` and ``QuantizedAnimation``.

Every frame of an animated GIF, APNG or WebP (read as shown, :func:`kpalette.io.read_frames`)
is mapped onto ONE palette fitted to all of them (their colour histograms summed, so
that a colour that appears only late gets its entry), and written as GIF (one global
colour table), APNG (one PLTE) or animated WebP, each frame's duration and the loop
count kept.

Between frames, what does not change is not stored again. A pixel whose colour is
the same as in the frame before keeps its index (so dithering does not crawl over
still parts), and so does one whose previous entry is no farther from its colour than
the mapping already allows; then each frame is stored as the rectangle around the
indices that changed, with the unchanged ones inside it made transparent (so that the
previous frame shows through, as gifsicle's ``-O3`` does) and deflated or LZW-coded
into a few bytes. For this the palette keeps one transparent entry: an animation has
at most ``min(k, 255)`` colours and that entry.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from . import gif, io, metrics, png
from .exceptions import ImageWriteError
from .gif import CLEAR, KEEP, FrameRect
from .io.frames import Frames, read_frames
from .options import Options
from .palette import format_palette, to_hex
from .quantize import fit_palette, remap
from .threads import limited

__all__ = ["QuantizedAnimation", "plan_frames", "quantize_animation"]

#: The formats an animation is written in (by an output's extension).
ANIMATION_FORMATS = ("GIF", "PNG", "WEBP")
#: Default dithering strength of animations when none is asked for: at 64 colours,
#: a pan over a photo scores about 10 SSIMULACRA2 points more with it, for about a
#: fifth more bytes (docs/benchmarks.md, "Animations").
ANIMATION_DITHER = 0.75


@dataclass(frozen=True, eq=False, repr=False)
class QuantizedAnimation:
    """An animation reduced to one palette: what :func:`quantize_animation` returns.

    Attributes
    ----------
    palette : (m, 3) uint8 array
        The colours shared by every frame, most used first (m <= 255).
    indices : (N, H, W) uint8 array
        Each frame's index into ``palette``; ``m`` (one past the colours) for a
        transparent pixel.
    durations : tuple of int
        Milliseconds each frame is shown.
    plays : int
        How many times it is played (0: for ever).
    original : (N, H, W, C) uint8 array, optional
        The frames as read, for the measures.
    source : path, optional
        The file it was read from (never overwritten by :meth:`save`).
    """

    palette: np.ndarray
    indices: np.ndarray
    durations: tuple[int, ...]
    plays: int = 0
    original: np.ndarray | None = None
    source: Path | None = None
    seconds: float | None = None
    output_path: Path | None = None
    output_bytes: int | None = None

    @property
    def n_frames(self) -> int:
        return len(self.indices)

    @property
    def n_colors(self) -> int:
        return len(self.palette)

    @property
    def shape(self) -> tuple[int, int]:
        return self.indices.shape[1:]

    @property
    def hex(self) -> list[str]:
        return to_hex(self.palette)

    @property
    def transparent(self) -> int:
        """The index of the transparent entry (one past the colours)."""
        return self.n_colors

    def to_array(self) -> np.ndarray:
        """The frames as shown, (N, H, W, 4) RGBA (transparent pixels alpha 0)."""
        table = np.zeros((self.n_colors + 1, 4), dtype=np.uint8)
        table[: self.n_colors, :3] = self.palette
        table[: self.n_colors, 3] = 255
        return table[self.indices]

    @cached_property
    def mse(self) -> float:
        """Mean squared RGB error over every frame's visible pixels, against the input."""
        if self.original is None:
            raise ValueError("the animation's frames as read are not kept: no measure")
        table = np.zeros((self.n_colors + 1, 3), dtype=np.float64)
        table[: self.n_colors] = self.palette
        total, count = 0.0, 0
        for frame, original in zip(self.indices, self.original, strict=True):
            diff = table[frame] - original[..., :3]  # one frame at a time: bounded memory
            squared = (diff * diff).sum(axis=-1)
            if original.shape[-1] == 4:
                squared = squared[original[..., 3] > 0]
            total += float(squared.sum())
            count += squared.size * 3
        return total / count if count else 0.0

    @property
    def psnr(self) -> float:
        return metrics.peak_signal_noise_ratio(None, None, mse=self.mse)

    @cached_property
    def counts(self) -> np.ndarray:
        """(m,) int64: the pixels of each colour over all frames as shown."""
        counts = np.bincount(self.indices.reshape(-1), minlength=self.n_colors + 1)
        return counts[: self.n_colors].astype(np.int64)

    def palette_text(self, fmt: str = "hex"):
        """The palette in ``hex``, ``json``, ``gpl``, ``css`` or ``png`` (bytes) form."""
        name = self.source.stem if self.source is not None else "kpalette"
        return format_palette(self.palette, self.counts, fmt, name=name)

    def encode(self, image_format: str = "GIF") -> bytes:
        """The file's bytes: ``"GIF"``, ``"PNG"`` (APNG) or ``"WEBP"``."""
        image_format = image_format.upper()
        if image_format not in ANIMATION_FORMATS:
            raise ValueError(
                f"an animation is written as GIF, PNG (APNG) or WebP, not {image_format}"
            )
        height, width = self.shape
        io.check_dimensions(image_format, height, width)
        if image_format == "WEBP":
            return _webp_bytes(self.to_array(), self.durations, self.plays)
        # The transparent entry first (a one-byte tRNS), the colours after it.
        lookup = np.arange(1, self.n_colors + 2, dtype=np.uint8)
        lookup[self.transparent] = 0
        frames = plan_frames(lookup[self.indices], self.durations, transparent=0)
        table = np.zeros((self.n_colors + 1, 4), dtype=np.uint8)
        table[1:, :3] = self.palette
        table[1:, 3] = 255
        if image_format == "GIF":
            return gif.encode_gif(
                table[:, :3], frames, width=width, height=height, plays=self.plays, transparent=0
            )
        return png.encode_apng(table, frames, width=width, height=height, plays=self.plays)

    def save(self, path, *, overwrite: bool = False) -> QuantizedAnimation:
        """Write the animation to ``path`` (.gif, .png or .webp), atomically.

        Returns a new value with ``output_path`` and ``output_bytes``.
        """
        path = Path(path)
        image_format = io.output_format(path).name
        if image_format not in ANIMATION_FORMATS:
            raise ImageWriteError(
                f"an animation is written as .gif, .png (APNG) or .webp, not {path.name}"
            )
        protect = (self.source,) if self.source is not None else ()
        io.check_destination(path, overwrite=overwrite, protect=protect)
        data = self.encode(image_format)
        io.write_bytes_atomic(path, data, overwrite=overwrite)
        written = dataclasses.replace(self, output_path=path, output_bytes=len(data))
        for name in ("mse", "counts"):  # the same pixels: the measures hold
            if name in self.__dict__:
                written.__dict__[name] = self.__dict__[name]
        return written

    def summary(self) -> dict:
        """The numbers of a run, as :meth:`QuantizedImage.summary` gives them."""
        report = {
            "input": str(self.source) if self.source is not None else None,
            "output": str(self.output_path) if self.output_path is not None else None,
            "frames": self.n_frames,
            "width": self.shape[1],
            "height": self.shape[0],
            "colors": self.n_colors,
            "palette": self.hex,
            "durations_ms": list(self.durations),
            "plays": self.plays,
            "input_bytes": self.source.stat().st_size if self.source is not None else None,
            "output_bytes": self.output_bytes,
            "seconds": self.seconds,
        }
        if self.original is not None:
            report["mse"] = self.mse
            report["psnr"] = self.psnr
        return report

    def __repr__(self) -> str:
        height, width = self.shape
        return (
            f"QuantizedAnimation({self.n_frames} frames, {width}x{height}, {self.n_colors} colours)"
        )


def quantize_animation(
    source, k=None, *, palette=None, options: Options | None = None, **changes
) -> QuantizedAnimation:
    """Reduce every frame of an animation to one palette.

    Parameters
    ----------
    source : str, os.PathLike, bytes, Frames or (N, H, W, C) uint8 array
        An animated GIF, APNG or WebP (a still image is one frame), its bytes, the
        frames read by :func:`kpalette.io.read_frames`, or the frames themselves
        (then shown 100 ms each, for ever).
    k : int, optional
        Colours, at most 255 (one more entry is kept for pixels that show the
        frame before); as for :func:`kpalette.quantize`.
    palette : (m, 3) uint8 array, optional
        Map onto these colours (m <= 255) instead of fitting.
    options, **changes
        As for :func:`kpalette.quantize` (``k`` a number; targets are not taken).
        Unless ``dither`` or ``options`` is given, animations are dithered at
        :data:`ANIMATION_DITHER`.

    Returns
    -------
    QuantizedAnimation
    """
    start = time.perf_counter()
    if options is None and "dither" not in changes:
        changes["dither"] = ANIMATION_DITHER
    options = Options.of(options, **changes, **({} if k is None else {"k": k}))
    if options.choice is not None:
        raise ValueError(
            "an animation takes a number of colours (k) or a palette: choosing k by a "
            "target is for still images"
        )
    path = None if isinstance(source, Frames | np.ndarray | bytes | bytearray) else Path(source)
    frames = _frames_of(source, options)
    with limited(options.threads):
        if palette is None:
            palette = fit_palette(
                list(frames.frames), k=min(options.n_colors, 255), options=options
            )
        palette = np.asarray(palette, dtype=np.uint8)[:, :3]
        if not 1 <= len(palette) <= 255:
            raise ValueError(f"an animation's palette has 1 to 255 colours, got {len(palette)}")
        indices = np.empty(frames.frames.shape[:3], dtype=np.uint8)
        for number, frame in enumerate(frames.frames):
            # remap keeps the palette's order, its transparent entry (if any) last
            indices[number] = remap(frame, palette, options=options).indices
            if number:
                _keep_still(indices, frames.frames, number, palette, options)
    return QuantizedAnimation(
        palette=palette,
        indices=indices,
        durations=frames.durations,
        plays=frames.plays,
        original=frames.frames,
        source=path,
        seconds=time.perf_counter() - start,
    )


def _frames_of(source, options: Options) -> Frames:
    """The frames of a file, its bytes, a Frames or an (N, H, W, C) array."""
    if isinstance(source, Frames):
        return source
    if isinstance(source, np.ndarray):
        if source.ndim != 4 or source.shape[-1] not in (3, 4) or source.dtype != np.uint8:
            raise ValueError(
                f"expected (N, H, W, 3|4) uint8 frames, got {source.dtype} {source.shape}"
            )
        return Frames(source, (100,) * len(source), 0)
    return read_frames(source, max_pixels=options.max_pixels, max_expansion=options.max_expansion)


def _keep_still(indices, frames, number: int, palette: np.ndarray, options: Options) -> None:
    """Frame ``number`` keeps the previous frame's index where its pixel did not
    change, and (undithered) where the previous entry is no farther from the pixel's
    colour than its own entry, or than the run allowance of the mapping."""
    previous, current = indices[number - 1], indices[number]
    frame, before = frames[number], frames[number - 1]
    still = (frame == before).all(axis=-1)
    if options.dither == 0 and len(palette):
        table = np.zeros((len(palette) + 1, 3), dtype=np.float32)
        table[: len(palette)] = palette
        rgb = frame[..., :3].astype(np.float32)
        own = ((table[current] - rgb) ** 2).sum(-1)
        kept = ((table[previous] - rgb) ** 2).sum(-1)
        allowance = options.run_tolerance**2 * float(own.mean())
        opaque = (current != len(palette)) & (previous != len(palette))
        still |= opaque & (kept <= np.maximum(own, allowance))
    current[still] = previous[still]


def plan_frames(indices: np.ndarray, durations, *, transparent: int) -> list[FrameRect]:
    """The frames as stored: each the rectangle of what changed on the canvas.

    Parameters
    ----------
    indices : (N, H, W) uint8 array
        Every frame whole, ``transparent`` where a pixel is transparent.
    durations : sequence of int
        Milliseconds each frame is shown.
    transparent : int
        The transparent index: drawn, it lets the canvas show through.

    Returns
    -------
    list of FrameRect
        The first frame whole; then each frame's rectangle around the pixels that
        differ from the canvas (inside it, unchanged pixels are ``transparent``); a
        frame that changes nothing lengthens the one before. Where a pixel becomes
        transparent, the frame before clears its rectangle (``CLEAR``) and the next
        is drawn on what is left.
    """
    rects: list[dict] = []
    canvas = None
    for number, frame in enumerate(indices):
        duration = int(durations[number])
        if canvas is None:
            rects.append({"x": 0, "y": 0, "indices": frame, "duration": duration, "dispose": KEEP})
            canvas = frame.copy()
            continue
        base = canvas
        if bool(((frame == transparent) & (canvas != transparent)).any()):
            last = rects[-1]
            h, w = last["indices"].shape
            base = canvas.copy()
            base[last["y"] : last["y"] + h, last["x"] : last["x"] + w] = transparent
            last["dispose"] = CLEAR
        changed = frame != base
        rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
        if len(rows) == 0:
            if base is canvas:
                rects[-1]["duration"] += duration
                continue
            rows, cols = np.array([0]), np.array([0])  # a cleared canvas: one pixel drawn
        top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        rect = frame[top:bottom, left:right].copy()
        rect[~changed[top:bottom, left:right]] = transparent
        rects.append(
            {"x": int(left), "y": int(top), "indices": rect, "duration": duration, "dispose": KEEP}
        )
        canvas = base  # the canvas itself, or its cleared copy: drawn on in place
        drawn = rect != transparent
        canvas[top:bottom, left:right][drawn] = rect[drawn]
    return [FrameRect(**rect) for rect in rects]


def _webp_bytes(frames: np.ndarray, durations, plays: int) -> bytes:
    """An animated lossless WebP of the frames as shown (libwebp finds the changed
    rectangles itself)."""
    import io as _io

    opaque = bool((frames[..., 3] == 255).all())
    images = [
        Image.fromarray(f[..., :3] if opaque else f, "RGB" if opaque else "RGBA") for f in frames
    ]
    buffer = _io.BytesIO()
    images[0].save(
        buffer,
        "WEBP",
        save_all=True,
        append_images=images[1:],
        duration=list(durations),
        loop=plays,
        lossless=True,
        quality=100,
        method=4,
    )
    return buffer.getvalue()
