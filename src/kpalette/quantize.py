"""``quantize()`` and its result, ``QuantizedImage``: palette, index map, metrics, saving."""

from __future__ import annotations

import math
import os
import time
import warnings
from functools import cached_property
from pathlib import Path

import numpy as np

from . import io, metrics
from .exceptions import KPaletteWarning
from .fit import Fit, fit_histogram
from .histogram import ColorHistogram, as_pixels, image_histogram
from .options import Options
from .palette import format_palette, order_by_share, sort_by_share, swatch_image, to_hex
from .progress import status

__all__ = [
    "PreparedImage",
    "QuantizedImage",
    "binary_alpha",
    "fit_palette",
    "from_fit",
    "prepare",
    "quantize",
    "quantize_for",
    "quantize_many",
    "remap",
]


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
        Set by :meth:`save`: where the image was written and its size.
    """

    def __init__(
        self,
        palette,
        indices,
        *,
        original=None,
        source=None,
        seconds=None,
        color_table=None,
        options=None,
        inertia=None,
        counts=None,
        choice=None,
        keep_order=False,
    ):
        self.palette = np.asarray(palette, dtype=np.uint8)
        self.indices = np.asarray(indices)
        self.original = original
        self.source = None if source is None else Path(source)
        self.seconds = seconds
        self.options = Options(k=len(self.palette)) if options is None else options
        self.inertia = inertia
        self.choice = choice
        self.keep_order = bool(keep_order)
        self._color_table = color_table
        self.counts = (
            np.bincount(self.indices.ravel(), minlength=len(self.palette)).astype(np.int64)
            if counts is None
            else np.asarray(counts, dtype=np.int64)
        )
        self.output_path: Path | None = None
        self.output_bytes: int | None = None
        #: The decoded pixels of a lossy file written by :meth:`save`, which the measures
        #: then describe; None otherwise.
        self.written: np.ndarray | None = None

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
        if self._color_table is not None:
            return self._color_table
        colors, entries, counts = self._pair_table
        return colors, counts, entries

    @cached_property
    def _pair_table(self):
        """Distinct (input colour, palette index) pairs, when one colour may map to
        several indices (dithering)."""
        return metrics.color_index_pairs(self._require_original(), self.indices, len(self.palette))

    @cached_property
    def mse(self) -> float:
        """Mean squared error against the original (0..255 units, all channels), of the
        file written when it was lossy (JPEG), else of the palette image."""
        original = self._require_original()
        if self.written is not None:
            return metrics.mean_squared_error(original, self.written)
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
            return metrics.mean_delta_e(original, self.written)
        colors, counts, entries = self._quality_entries()
        return metrics.mean_delta_e_from_entries(colors, counts, self.palette, entries)

    @cached_property
    def psnr(self) -> float:
        """Peak signal-to-noise ratio in dB (``inf`` when identical)."""
        return metrics.peak_signal_noise_ratio(self._require_original(), None, mse=self.mse)

    @cached_property
    def ssim(self) -> float:
        """Structural similarity to the original (mean over channels)."""
        written = self.to_array() if self.written is None else self.written
        return metrics.structural_similarity(self._require_original(), written)

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

    def save(self, path, *, truecolor: bool = False, overwrite: bool = False) -> int:
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
        n_bytes : int

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
        if io.output_format(path).lossy:
            # What is written is not the palette image: it is decoded back, and the
            # measures (and the colour count) describe it from then on.
            io.check_destination(path, overwrite=overwrite, protect=protect)
            data = self.encode(image_format, truecolor=True)
            written = io.decode_image(data)
            n_bytes = io.write_bytes_atomic(path, data, overwrite=overwrite, protect=protect)
            self._describe_written(written)
        elif truecolor or image_format not in io.PALETTE_FORMATS.values():
            n_bytes = io.save_truecolor(path, self.to_array(), overwrite=overwrite, protect=protect)
        else:
            if self.n_colors > 256:
                raise io.ImageWriteError(
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
        self.output_path = Path(path)
        self.output_bytes = n_bytes
        return n_bytes

    def file_bytes(self, image_format: str = "PNG", *, truecolor: bool = False) -> bytes:
        """The bytes :meth:`save` would write in ``image_format``, for a pipe or a store.

        As with :meth:`save`, after a lossy format (JPEG) the measures describe these
        bytes decoded back, and ``output_bytes`` is their size.
        """
        lossy = image_format in {f.name for f in io.OUTPUT_FORMATS.values() if f.lossy}
        data = self.encode(image_format, truecolor=truecolor or lossy)
        if lossy:
            self._describe_written(io.decode_image(data))
        self.output_bytes = len(data)
        return data

    def _describe_written(self, written: np.ndarray) -> None:
        """From now on, measure ``written`` (the decoded file) instead of the palette image."""
        self.written = written
        for name in ("mse", "delta_e", "psnr", "ssim"):
            self.__dict__.pop(name, None)

    @property
    def colors_written(self) -> int:
        """Distinct colours in the file written: the palette's, unless it was lossy."""
        if self.written is None:
            return self.n_colors
        from .histogram import image_histogram

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
        report = {
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


# --------------------------------------------------------------------------- preparing
class PreparedImage:
    """An image read, checked and counted once, ready to be fitted at any k.

    Attributes
    ----------
    original : (H, W, C) uint8 array
        The image as given, which the quality is measured against.
    fitted : (H, W, C) uint8 array
        The image fitted: ``original``, or a copy with alpha made binary
        (``Options.alpha_threshold``).
    source : Path or None
        The file it was read from.
    pixels : (H * W, C) uint8 array
        ``fitted`` flattened.
    histogram : ColorHistogram
        The colours of ``fitted`` (:func:`kpalette.histogram.image_histogram`).
    """

    def __init__(self, original, source, fitted):
        self.original = original
        self.source = source
        self.fitted = fitted
        self.pixels = fitted.reshape(-1, fitted.shape[-1])
        self.histogram: ColorHistogram = image_histogram(self.pixels)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)``."""
        return self.fitted.shape[:2]


def prepare(image, options: Options | None = None) -> PreparedImage:
    """Read (if a path), check and count an image once.

    Parameters
    ----------
    image : (H, W, 3|4) array, str / os.PathLike, bytes, or PreparedImage
        An array (see :func:`kpalette.histogram.as_pixels` for value ranges), a file, or
        a file's bytes (read by :func:`kpalette.io.load_image`). A PreparedImage is
        returned as is.
    options : Options, optional
        ``max_pixels`` and ``alpha_threshold`` are used.

    Returns
    -------
    PreparedImage
    """
    if isinstance(image, PreparedImage):
        return image
    options = Options() if options is None else options
    source = None
    if isinstance(image, bytes | bytearray):  # a file's bytes, read from a pipe
        image = io.load_image(bytes(image), max_pixels=options.max_pixels)
    elif isinstance(image, str | os.PathLike):
        source = Path(image)
        status(f"reading {source.name}")
        # A limit other than the default is the user's: images out of proportion to
        # their file are then read too.
        raised = options.max_pixels != io.DEFAULT_MAX_PIXELS
        image = io.load_image(
            source,
            max_pixels=options.max_pixels,
            max_expansion=None if raised else io.MAX_EXPANSION,
        )
    if np.ndim(image) != 3:
        raise ValueError(f"expected an (H, W, 3|4) image or a path, got shape {np.shape(image)}")
    pixels, leading = as_pixels(image)
    original = pixels.reshape(*leading, pixels.shape[1])
    status("counting colours")
    return PreparedImage(original, source, binary_alpha(original, options.alpha_threshold))


def from_fit(
    fit: Fit,
    prepared: PreparedImage,
    options: Options,
    *,
    start: float | None = None,
    keep_order: bool = False,
) -> QuantizedImage:
    """The quantized image of a fit: pixels mapped (dithered if asked), palette by share.

    Parameters
    ----------
    fit : Fit
        A fit of ``prepared.histogram`` (:func:`kpalette.fit_histogram`).
    prepared : PreparedImage
    options : Options
        ``dither`` and ``alpha_threshold`` are used; the result keeps them.
    start : float, optional
        ``time.perf_counter()`` when the work began (for ``seconds``).
    keep_order : bool
        Keep the fit's palette as it is, every entry in its place, used or not (a
        palette shared by many images), rather than ordered by share.
    """
    start = time.perf_counter() if start is None else start
    status(f"{'dithering' if options.dither > 0 else 'mapping'} the pixels, k={fit.n_colors}")
    tolerance = options.run_tolerance * fit.rms_error if fit.n_colors > 1 else 0.0
    if options.dither > 0 or tolerance:
        # Each pixel mapped on its own (error diffusion, or runs of a neighbour's
        # entry): a colour may take several entries, so the shares are counted from
        # the pixels, and the measures made from them too.
        if options.dither > 0:
            from .dither import dither

            labels = dither(prepared.fitted, fit.palette, strength=options.dither)
        else:
            labels = fit.pixel_labels(prepared.pixels, tolerance=tolerance, width=prepared.shape[1])
            labels = labels.reshape(prepared.shape)
        if keep_order:
            palette, indices = fit.palette, labels
            counts = np.bincount(labels.ravel(), minlength=fit.n_colors).astype(np.int64)
        else:
            palette, indices, counts, _ = sort_by_share(fit.palette, labels)
        color_table = None
    else:
        # Order the palette from the colour table (O(colours)), then map the pixels
        # once, straight to their final indices.
        colors, color_counts, entries = fit.color_table()
        entry_counts = np.bincount(entries, weights=color_counts, minlength=fit.n_colors)
        if keep_order:
            order = remap = np.arange(fit.n_colors)
        else:
            order, remap = order_by_share(entry_counts.astype(np.int64))
        palette = fit.palette[order]
        counts = entry_counts[order].astype(np.int64)
        indices = fit.pixel_labels(prepared.pixels, remap).reshape(prepared.shape)
        # The table maps the fitted image's colours: it measures only that image.
        measured = prepared.fitted is prepared.original
        color_table = (colors, color_counts, remap[entries]) if measured else None
    if options.alpha_threshold is not None and palette.shape[1] == 4:
        palette = binary_alpha(palette[None], options.alpha_threshold)[0]
    return QuantizedImage(
        palette,
        indices,
        counts=counts,
        original=prepared.original,
        source=prepared.source,
        seconds=time.perf_counter() - start,
        color_table=color_table,
        options=options.replace(k=fit.n_colors) if options.choice else options,
        inertia=fit.inertia,
        keep_order=keep_order,
    )


def _options(options, k, changes) -> Options:
    if k is not None:
        changes["k"] = k
    return Options.of(options, **changes)


def quantize(image, k=None, *, options: Options | None = None, **changes) -> QuantizedImage:
    """Reduce an image to k colours with K-means.

    Parameters
    ----------
    image : (H, W, 3|4) array, or str / os.PathLike
        An image array (uint8; whole numbers in 0..255; or floats in [0, 1]) or a
        file path.
    k : int or "auto", optional
        Number of colours (default 16), or "auto" to choose it (:func:`choose_k`).
    options : Options, optional
        Every setting at once; ``k`` and keyword arguments override its fields.
    **changes
        Any field of :class:`Options`: ``color_space``, ``dither``, ``seed``,
        ``n_init``, ``max_iter``, ``tol``, ``alpha_threshold``, ``max_pixels``,
        ``target_psnr``, ``max_bytes``.

    Returns
    -------
    QuantizedImage
        Palette sorted by share, index map, metrics, ``save()``. When k was chosen,
        its ``choice`` says how.

    Raises
    ------
    ImageReadError
        The file cannot be read as an image.
    ValueError
        An option out of range (the message quotes it), or a target that cannot be
        met.

    Examples
    --------
    >>> import numpy as np, kpalette
    >>> image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    >>> kpalette.quantize(image, 8).n_colors
    8
    """
    start = time.perf_counter()
    options = _options(options, k, changes)
    if options.choice is not None:
        from .choose import choose_k

        return choose_k(image, options=options).result
    prepared = prepare(image, options)
    status(f"fitting k={options.n_colors}")
    fit = fit_histogram(prepared.histogram, options)
    return from_fit(fit, prepared, options, start=start)


def quantize_many(image, ks, *, options: Options | None = None, **changes) -> list[QuantizedImage]:
    """:func:`quantize` for several numbers of colours, counting the colours once.

    Parameters
    ----------
    image : (H, W, 3|4) array, or str / os.PathLike
    ks : iterable of int
        Numbers of colours, e.g. ``range(2, 11)``.
    options, **changes
        As for :func:`quantize` (``k`` is taken from ``ks``).

    Returns
    -------
    list of QuantizedImage
        One per k, in the order of ``ks``; ``seconds`` is each fit's own time.
    """
    options = Options.of(options, **changes)
    prepared = prepare(image, options)
    results = []
    for k in ks:
        start = time.perf_counter()
        at_k = options.replace(k=k)
        status(f"fitting k={k}")
        results.append(
            from_fit(fit_histogram(prepared.histogram, at_k), prepared, at_k, start=start)
        )
    return results


def quantize_for(
    image, output_format, *, truecolor: bool = False, options: Options | None = None, **changes
) -> QuantizedImage:
    """:func:`quantize` for a file of ``output_format``: a palette without translucency
    for a format that has none (GIF), and a size target measured in that format.

    Parameters
    ----------
    image
        As for :func:`quantize`.
    output_format : kpalette.io.OutputFormat
        From :func:`kpalette.io.output_format` or ``io.OUTPUT_FORMATS``.
    truecolor : bool
        The file is written in full colour (no palette).
    options, **changes
        As for :func:`quantize`; a way of choosing k is run by :func:`choose_k`.
    """
    options = Options.of(options, **changes)
    if output_format.palette and not truecolor and output_format.alpha == "binary":
        options = options.replace(alpha_threshold=io.GIF_ALPHA_THRESHOLD)
    if options.choice is None:
        return quantize(image, options=options)
    from .choose import choose_k

    return choose_k(
        image, options=options, image_format=output_format.name, truecolor=truecolor
    ).result


def fit_palette(images, k=None, *, options: Options | None = None, **changes) -> np.ndarray:
    """One palette for many images: their colour histograms summed, then fitted once.

    Histograms are additive, so each image is read and counted once, on its own, and
    memory is bounded by the number of distinct colours, not of images.

    Parameters
    ----------
    images : iterable of arrays or paths
    k, options, **changes
        As for :func:`quantize` (``k`` a number).

    Returns
    -------
    (k, 3) uint8 array
        The palette, most used colour first (opaque: transparent pixels are left out
        of the fit and get an entry of their own when an image is mapped).
    """
    from .histogram import rgb_histogram, sum_histograms

    options = _options(options, k, changes)
    histograms = []
    for image in images:
        prepared = prepare(image, options)
        histograms.append(rgb_histogram(prepared.pixels))
    total = sum_histograms(histograms)
    if total.n_colors == 0:
        raise ValueError("the images have no visible pixels to fit a palette to")
    fit = fit_histogram(total, options)
    counts = np.bincount(fit.labels, weights=total.counts, minlength=fit.n_colors)
    order = np.argsort(-counts, kind="stable")
    return np.ascontiguousarray(fit.palette[order, :3])


def remap(image, palette, *, options: Options | None = None, **changes) -> QuantizedImage:
    """Map an image onto a given palette (as pngquant's ``--map``): no fitting.

    Parameters
    ----------
    image : (H, W, 3|4) array, or str / os.PathLike
    palette : (m, 3) uint8 array
        From :func:`fit_palette` or :func:`kpalette.palette.read_palette`.
    options, **changes
        As for :func:`quantize`: ``color_space`` (where "nearest" is measured),
        ``dither``, ``max_pixels``, ``alpha_threshold``.

    Returns
    -------
    QuantizedImage
        Its palette is ``palette`` in the given order, every entry kept (plus a
        transparent entry after them when the image has transparent pixels), so that
        images mapped onto one palette have the same palette.
    """
    from .fit import palette_fit

    start = time.perf_counter()
    palette = np.asarray(palette, dtype=np.uint8)
    options = Options.of(options, **changes).replace(k=len(palette))
    prepared = prepare(image, options)
    status(f"mapping onto {len(palette)} colours")
    fit = palette_fit(prepared.histogram, palette, options.color_space)
    return from_fit(fit, prepared, options, start=start, keep_order=True)


def binary_alpha(image: np.ndarray, threshold: int | None) -> np.ndarray:
    """``image`` with alpha below ``threshold`` made 0 (colour too) and the rest 255.

    Parameters
    ----------
    image : (H, W, C) uint8 array
    threshold : int in 1..255, or None

    Returns
    -------
    (H, W, C) uint8 array
        ``image`` itself when there is nothing to change (no threshold, no alpha, or
        alpha already 0 or 255 only), else a new array.
    """
    if threshold is None:
        return image
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 1 <= threshold <= 255:
        raise ValueError(f"alpha_threshold must be an integer in 1..255, got {threshold!r}")
    if image.shape[-1] != 4:
        return image
    alpha = image[..., 3]
    if not ((alpha > 0) & (alpha < 255)).any():
        return image
    visible = alpha >= threshold
    binary = np.where(visible[..., None], image, 0).astype(np.uint8)
    binary[..., 3] = np.where(visible, 255, 0)
    return binary
