"""``QuantizedImage``: an image reduced to a palette, as a value.

The result of a fit, mapped onto the image's pixels: palette, index map, the quality
measures (computed once, on first use) and the file outputs. It never changes once
made: its arrays are read-only, and writing it somewhere gives a new value that also
says where and how big (:meth:`QuantizedImage.save`), so a result may be cached and
shared between threads.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from . import io, metrics
from .exceptions import ImageWriteError, KPaletteWarning
from .histogram import image_histogram, read_only
from .options import Options
from .palette import format_palette, swatch_image, to_hex
from .progress import status

__all__ = ["QuantizedImage"]

#: Cached measures that describe the pixels (palette, indices, original, written):
#: a new value with those unchanged keeps them.
_MEASURES = ("_pair_table", "mse", "delta_e", "psnr", "ssim", "png_bytes")


@dataclass(frozen=True, eq=False, repr=False)
class QuantizedImage:
    """An image reduced to a palette: what :func:`quantize` returns.

    Parameters
    ----------
    palette : (k, C) uint8 array
        The colours, most used first (C = 3, or 4 with alpha).
    indices : (H, W) integer array
        Index into ``palette`` of every pixel.
    original : (H, W, C) uint8 array, optional
        The input, for the quality measures and the before/after picture.
    source : path, optional
        The file the input was read from (never overwritten by :meth:`save`).
    seconds : float, optional
        Time taken to load and quantize.
    color_table : tuple (colors, counts, entries), optional
        Each distinct colour of ``original`` ((n, C) uint8), its pixel count and the
        palette index every pixel of that colour got. Given when each colour maps to
        one index (no dithering), it makes the quality measures O(colours).
    options : Options, optional
        The options it was made with, ``k`` the number of colours fitted.
    inertia : float, optional
        The K-means objective of the fit (sum of squared distances to the centres,
        in the clustering space), as ``Fit.inertia``.
    counts : (k,) integer array, optional
        Pixels of each palette colour (counted from ``indices`` when not given).
    choice : dict, optional
        How k was chosen (``method``, ``k``, ``reason``), when it was.
    keep_order : bool, optional
        Files list the palette in this order (a palette shared by many images);
        otherwise a PNG lists it in the order that deflates smallest.

    Attributes
    ----------
    palette, indices, original, source, seconds, options, inertia, choice, keep_order
        As given.
    counts : (k,) int64 array
        Pixels of each palette colour.
    color_space : str
    dither : float
        Strength of the error diffusion used to map the pixels (0: none).
    output_path, output_bytes
        Where the image was written and its size, in the value :meth:`save` returns
        (``output_bytes`` also in that of :meth:`encode_file`); None before.
    written : (H, W, C) uint8 array or None
        The decoded pixels of a lossy file (JPEG) that :meth:`save` or
        :meth:`encode_file` made; the measures of that value describe it.

    All of it is read-only: a result is a value, safe to cache and to share between
    threads; :meth:`replace` makes a changed copy.
    """

    palette: np.ndarray
    indices: np.ndarray
    _: dataclasses.KW_ONLY
    original: np.ndarray | None = None
    source: Path | None = None
    seconds: float | None = None
    color_table: tuple | None = field(default=None, repr=False)
    # None when made: ``Options(k=len(palette))``, set in __post_init__.
    options: Options = None  # type: ignore[assignment]
    inertia: float | None = None
    # None when made: counted from ``indices`` in __post_init__.
    counts: np.ndarray = None  # type: ignore[assignment]
    choice: dict | None = None
    keep_order: bool = False
    output_path: Path | None = None
    output_bytes: int | None = None
    written: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        set_field = object.__setattr__  # once, while the value is made
        palette = read_only(self.palette, np.uint8)
        indices = read_only(self.indices)
        set_field(self, "palette", palette)
        set_field(self, "indices", indices)
        if self.original is not None:
            set_field(self, "original", read_only(self.original))
        if self.written is not None:
            set_field(self, "written", read_only(self.written))
        if self.source is not None:
            set_field(self, "source", Path(self.source))
        if self.output_path is not None:
            set_field(self, "output_path", Path(self.output_path))
        if self.options is None:
            set_field(self, "options", Options(k=len(palette)))
        if self.choice is not None:
            set_field(self, "choice", dict(self.choice))
        counts = (
            np.bincount(indices.ravel(), minlength=len(palette))
            if self.counts is None
            else self.counts
        )
        set_field(self, "counts", read_only(counts, np.int64))
        set_field(self, "keep_order", bool(self.keep_order))
        if self.color_table is not None:
            set_field(self, "color_table", tuple(read_only(a) for a in self.color_table))

    def replace(self, **changes) -> QuantizedImage:
        """A new value with ``changes`` (fields, as :func:`dataclasses.replace`).

        The measures already made are kept when what they describe (palette, indices,
        original, written, and the palette order of the file) is unchanged.
        """
        new = dataclasses.replace(self, **changes)
        described = {"palette", "indices", "original", "written", "color_table", "keep_order"}
        if not described & changes.keys():
            for name in _MEASURES:
                if name in self.__dict__:
                    new.__dict__[name] = self.__dict__[name]
        return new

    # -- basic facts ----------------------------------------------------------------
    @property
    def color_space(self) -> str:
        """Space the palette was fitted in."""
        return self.options.color_space

    @property
    def dither(self) -> float:
        """Strength of the error diffusion that mapped the pixels (0: none)."""
        return self.options.dither

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)``."""
        return self.indices.shape

    @property
    def n_colors(self) -> int:
        """Number of palette entries (all of them used)."""
        return len(self.palette)

    @property
    def shares(self) -> np.ndarray:
        """(k,) fraction of the pixels taken by each palette colour."""
        return self.counts / self.counts.sum()

    @property
    def hex(self) -> list[str]:
        """The palette as ``"#rrggbb"`` strings."""
        return to_hex(self.palette)

    @property
    def input_bytes(self) -> int | None:
        """Size of the source file, when the input came from one."""
        return io.file_size(self.source) if self.source is not None else None

    def to_array(self) -> np.ndarray:
        """The quantized image, (H, W, C) uint8."""
        # np.take, not palette[indices]: a third of the time on large images.
        return np.take(self.palette, self.indices, axis=0)

    # -- quality ----------------------------------------------------------------------
    def _require_original(self) -> np.ndarray:
        if self.original is None:
            raise ValueError("no original image was kept, so quality cannot be measured")
        return self.original

    def _quality_entries(self):
        """(colors, counts, palette entries) of the distinct input -> output pairs."""
        if self.color_table is not None:
            return self.color_table
        colors, entries, counts = self._pair_table
        return colors, counts, entries

    @cached_property
    def _pair_table(self):
        """Distinct (input colour, palette index) pairs, when one colour may map to
        several indices (dithering)."""
        return metrics.color_index_pairs(self._require_original(), self.indices, len(self.palette))

    def _against_written(self, original: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The original and the file written back, channel for channel: a JPEG holds
        no alpha, so an opaque RGBA original is compared by its RGB (a translucent one
        is refused before it is written)."""
        written = self.written
        assert written is not None  # only called for a lossy file written back
        if original.shape[-1] == 4 and written.shape[-1] == 3:
            original = original[..., :3]
        return original, written

    @cached_property
    def mse(self) -> float:
        """Mean squared error against the original (0..255 units, all channels), of the
        file written when it was lossy (JPEG), else of the palette image."""
        original = self._require_original()
        if self.written is not None:
            return metrics.mean_squared_error(*self._against_written(original))
        # From the table of distinct (colour, entry) pairs, built once for this and
        # delta_e.
        colors, counts, entries = self._quality_entries()
        return metrics.mean_squared_error_from_entries(colors, counts, self.palette, entries)

    @cached_property
    def delta_e(self) -> float:
        """Mean CIEDE2000 difference from the original over the pixels (1: just noticeable),
        of the file written when it was lossy."""
        original = self._require_original()
        if self.written is not None:
            return metrics.mean_delta_e(*self._against_written(original))
        colors, counts, entries = self._quality_entries()
        return metrics.mean_delta_e_from_entries(colors, counts, self.palette, entries)

    @cached_property
    def psnr(self) -> float:
        """Peak signal-to-noise ratio in dB (``inf`` when identical)."""
        return metrics.peak_signal_noise_ratio(self._require_original(), None, mse=self.mse)

    @cached_property
    def ssim(self) -> float:
        """Structural similarity to the original (mean over channels)."""
        original = self._require_original()
        if self.written is None:
            return metrics.structural_similarity(original, self.to_array())
        return metrics.structural_similarity(*self._against_written(original))

    # -- output -----------------------------------------------------------------------
    def encode(self, image_format: str = "PNG", *, truecolor: bool = False) -> bytes:
        """The image as file bytes: a palette PNG/GIF, or a full-colour file."""
        if truecolor or image_format not in io.PALETTE_FORMATS.values():
            return io.encode_truecolor(self.to_array(), image_format)
        return io.encode_indexed(
            self.palette, self.indices, image_format, keep_order=self.keep_order
        )

    @cached_property
    def png_bytes(self) -> int:
        """Size of this image as a palette PNG (encoded in memory, not written)."""
        return len(self.encode("PNG"))

    def save(self, path, *, truecolor: bool = False, overwrite: bool = False) -> QuantizedImage:
        """Write the image; the format comes from the extension.

        ``.png`` and ``.gif`` are palette images (PNG at the smallest bit depth that
        holds the palette, with tRNS for alpha); ``.webp`` (lossless), ``.jpg``,
        ``.tif``, and ``.png`` with ``truecolor=True`` are written in full colour. The
        write is atomic; the source file is never overwritten.

        Parameters
        ----------
        path : str or os.PathLike
        truecolor : bool
            Write PNG in full colour instead of as a palette image.
        overwrite : bool
            Replace an existing file.

        Returns
        -------
        QuantizedImage
            This image as written: ``output_path`` and ``output_bytes`` say where and
            how big; after a lossy format (JPEG) its measures (and ``colors_written``)
            describe the file decoded back. ``self`` is unchanged.

        Raises
        ------
        ImageWriteError
            Unknown extension, missing folder, the output is the input, or more than
            256 colours for a palette format.
        OutputExistsError
            The file exists and ``overwrite`` is false.
        """
        image_format = io.format_for_path(path, truecolor=truecolor)
        self._warn_if_translucency_is_lost(image_format, truecolor)
        status(f"writing {Path(path).name}")
        protect = (self.source,)
        written = None
        if io.output_format(path).lossy:
            # What is written is not the palette image: it is decoded back, and the
            # measures (and the colour count) of the value returned describe it.
            io.check_destination(path, overwrite=overwrite, protect=protect)
            data = self.encode(image_format, truecolor=True)
            written = io.decode_image(data)
            n_bytes = io.write_bytes_atomic(path, data, overwrite=overwrite, protect=protect)
        elif truecolor or image_format not in io.PALETTE_FORMATS.values():
            n_bytes = io.save_truecolor(path, self.to_array(), overwrite=overwrite, protect=protect)
        else:
            if self.n_colors > 256:
                raise ImageWriteError(
                    f"a palette image holds at most 256 colours, this one has {self.n_colors}; "
                    "write it in full colour (truecolor, .webp, .tif)"
                )
            n_bytes = io.save_indexed(
                path,
                self.palette,
                self.indices,
                overwrite=overwrite,
                protect=protect,
                keep_order=self.keep_order,
            )
        return self._as_file(n_bytes, written, output_path=Path(path))

    def encode_file(
        self, image_format: str = "PNG", *, truecolor: bool = False
    ) -> tuple[bytes, QuantizedImage]:
        """The bytes :meth:`save` would write in ``image_format``, for a pipe or a store,
        and this image as those bytes (``output_bytes`` their size; after a lossy
        format, its measures describe them decoded back)."""
        lossy = image_format in io.LOSSY_FORMATS
        data = self.encode(image_format, truecolor=truecolor or lossy)
        written = io.decode_image(data) if lossy else None
        return data, self._as_file(len(data), written)

    def _as_file(
        self, n_bytes: int, written: np.ndarray | None, output_path: Path | None = None
    ) -> QuantizedImage:
        """This image as a file of ``n_bytes``: the measures describe ``written`` (the
        decoded file) when it is given (a lossy format), the palette image otherwise."""
        changes: dict = {"output_bytes": n_bytes, "output_path": output_path}
        if written is not None or self.written is not None:
            changes["written"] = written
        return self.replace(**changes)

    @property
    def colors_written(self) -> int:
        """Distinct colours in the file written: the palette's, unless it was lossy."""
        if self.written is None:
            return self.n_colors
        histogram = image_histogram(self.written.reshape(-1, self.written.shape[-1]))
        return histogram.n_colors + (1 if histogram.n_transparent else 0)

    def _warn_if_translucency_is_lost(self, image_format: str, truecolor: bool) -> None:
        if image_format != "GIF" or truecolor or self.palette.shape[1] != 4:
            return
        translucent = int(((self.palette[:, 3] > 0) & (self.palette[:, 3] < 255)).sum())
        if translucent:
            warnings.warn(
                f"GIF has no translucency: {translucent} translucent palette colours are "
                f"written transparent (alpha < {io.GIF_ALPHA_THRESHOLD}) or opaque, so the "
                "quality measures do not describe the file; quantize with "
                f"alpha_threshold={io.GIF_ALPHA_THRESHOLD} to fit and measure a GIF",
                KPaletteWarning,
                stacklevel=3,
            )

    def palette_text(self, fmt: str = "hex"):
        """The palette in ``hex``, ``json``, ``gpl``, ``css`` or ``png`` (bytes) form."""
        name = self.source.stem if self.source is not None else "kpalette"
        return format_palette(self.palette, self.counts, fmt, name=name)

    def summary(self, *, with_ssim: bool = True) -> dict:
        """A JSON-ready report: sizes, colours, quality, time, palette, and how k was chosen.

        ``output_bytes`` is the written file's size after :meth:`save`, else the size
        of the palette PNG encoded in memory. ``psnr`` is ``None`` when the output is
        identical to the input (infinite PSNR). After a lossy file (JPEG) is saved,
        ``colors`` and the measures describe that file, decoded back, and ``lossy`` is
        true; ``k`` and ``palette`` are still the fit's.
        """
        height, width = self.shape
        output_bytes = self.output_bytes if self.output_bytes is not None else self.png_bytes
        input_bytes = self.input_bytes
        report: dict[str, Any] = {
            "input": None if self.source is None else str(self.source),
            "output": None if self.output_path is None else str(self.output_path),
            "width": width,
            "height": height,
            "k": self.options.k if isinstance(self.options.k, int) else self.n_colors,
            "colors": self.colors_written,
            "lossy": self.written is not None,
            "input_bytes": input_bytes,
            "output_bytes": output_bytes,
            "ratio": None if not input_bytes else round(input_bytes / output_bytes, 4),
            "bits_per_pixel": round(metrics.bits_per_pixel(output_bytes, width * height), 4),
        }
        if self.original is not None:
            report["mse"] = round(self.mse, 6)
            report["psnr"] = None if math.isinf(self.psnr) else round(self.psnr, 4)
            report["delta_e"] = round(self.delta_e, 4)
            if with_ssim:
                report["ssim"] = round(self.ssim, 6)
        report["color_space"] = self.color_space
        report["dither"] = self.dither
        report["seconds"] = None if self.seconds is None else round(self.seconds, 4)
        if self.choice is not None:
            report["choice"] = dict(self.choice)
        report["palette"] = self.hex
        report["shares"] = [round(float(s), 6) for s in self.shares]
        return report

    # -- display ----------------------------------------------------------------------
    def __repr__(self) -> str:
        height, width = self.shape
        text = f"QuantizedImage({width}x{height}, {self.n_colors} colours"
        if self.original is not None:
            text += f", MSE {self.mse:.2f}, PSNR {self.psnr:.2f} dB"
        return text + ")"

    def _repr_png_(self) -> bytes:
        """Notebook picture: the quantized image (at most 800 px wide) over its palette."""
        image = self.to_array()
        step = max(1, math.ceil(image.shape[1] / 800))
        image = image[::step, ::step]
        width = image.shape[1]
        size = max(8, min(48, width // max(1, min(self.n_colors, 32))))
        strip = swatch_image(self.palette, size=size, columns=max(1, width // size))
        strip = strip[:, :width]
        canvas = np.full(
            (image.shape[0] + 4 + strip.shape[0], width, image.shape[2]), 255, np.uint8
        )
        canvas[: image.shape[0]] = image
        canvas[image.shape[0] + 4 :, : strip.shape[1]] = strip
        return io.encode_truecolor(canvas, "PNG")
