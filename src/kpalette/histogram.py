"""The weighted colour histogram: distinct colours, their pixel counts, and the way back.

K-means on the pixels of an image and K-means on its distinct colours, each weighted by
how many pixels have it, minimise the same objective; a photo of 9 million pixels has a
few hundred thousand distinct colours at most, so clustering the histogram is the
cheap way to do the same job.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ._kernels.labels import count_rgb, lookup_rgb, lookup_rgba
from .colorspace import to_space

__all__ = [
    "ColorHistogram",
    "as_pixels",
    "color_histogram",
    "image_histogram",
    "labels_for_pixels",
    "read_only",
    "rgb_histogram",
    "sum_histograms",
    "pack_colors",
    "unpack_colors",
]


def read_only(array, dtype=None) -> np.ndarray:
    """A read-only view of ``array`` (as ``dtype`` if given), the caller's array itself
    left writeable: how the package's values (histograms, fits, results) hold theirs."""
    view = np.asarray(array, dtype=dtype).view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, eq=False)
class ColorHistogram:
    """Distinct colours of a set of pixels and how often each occurs.

    Attributes
    ----------
    colors : (n, C) uint8 array
        The distinct colours (C = 3 for RGB, 4 for RGBA), sorted by packed code.
    counts : (n,) int64 array
        Number of pixels of each colour.
    codes : (n,) int64 array
        Each colour packed into one integer (``r << 16 | g << 8 | b`` for RGB,
        ``r << 24 | g << 16 | b << 8 | a`` for RGBA), ascending.
    n_transparent : int
        Fully transparent pixels (alpha 0) left out of ``colors``: they get a palette
        entry of their own, whatever their hidden colour.
    channels : int
        Channels of the pixels counted (3 or 4). Opaque RGBA pixels are counted as
        RGB colours, so ``colors`` may have fewer.
    """

    colors: np.ndarray
    counts: np.ndarray
    codes: np.ndarray
    n_transparent: int = 0
    channels: int = 0
    _coordinates: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A value: its arrays are read-only views, shared safely by fits and threads.
        for name in ("colors", "counts", "codes"):
            object.__setattr__(self, name, read_only(getattr(self, name)))
        if not self.channels:
            object.__setattr__(self, "channels", self.colors.shape[1])

    @property
    def n_colors(self) -> int:
        """Number of distinct colours."""
        return len(self.codes)

    @property
    def n_pixels(self) -> int:
        """Number of pixels counted, the fully transparent ones included."""
        return int(self.counts.sum()) + self.n_transparent

    def coordinates(self, color_space: str) -> np.ndarray:
        """(n, d) float64 coordinates of ``colors`` in ``color_space``, computed once.

        A sweep over k fits the same colours many times; they are converted once.
        """
        if color_space not in self._coordinates:
            coordinates = to_space(self.colors, color_space)
            coordinates.flags.writeable = False
            # setdefault: of two threads converting at once, both get the first kept.
            return self._coordinates.setdefault(color_space, coordinates)
        return self._coordinates[color_space]

    def with_transparent(self) -> ColorHistogram:
        """The same pixels with the fully transparent ones as one RGBA colour (0, 0, 0, 0).

        Returns ``self`` when there are none. Used when one palette entry serves all
        the pixels (k = 1), so that the transparent ones take part in its mean.
        """
        if not self.n_transparent:
            return self
        colors = self.colors
        if colors.shape[1] == 3:
            colors = np.column_stack([colors, np.full(len(colors), 255, np.uint8)])
        colors = np.vstack([np.zeros((1, 4), np.uint8), colors])
        counts = np.concatenate([[self.n_transparent], self.counts]).astype(np.int64)
        return ColorHistogram(colors, counts, pack_colors(colors), 0, self.channels)


def as_pixels(X) -> tuple[np.ndarray, tuple[int, ...]]:
    """Validate an image or pixel array and flatten it to pixels.

    Parameters
    ----------
    X : (H, W, C) or (N, C) array, C = 3 or 4
        uint8 colours; integer or float arrays holding whole numbers in 0..255; or
        floats in [0, 1] (as ``matplotlib.pyplot.imread`` returns for PNG files),
        which are scaled to 0..255.

    Returns
    -------
    pixels : (N, C) uint8 array
    leading_shape : tuple
        ``(H, W)`` or ``(N,)``: the shape of one label per pixel.

    Raises
    ------
    ValueError
        For any other shape, or values outside the ranges above.
    """
    X = np.asarray(X)
    if X.ndim not in (2, 3) or X.shape[-1] not in (3, 4):
        raise ValueError(
            "expected an (H, W, 3|4) image or an (N, 3|4) pixel array, "
            f"got an array of shape {X.shape}"
        )
    if X.size == 0:
        raise ValueError(f"expected at least one pixel, got an array of shape {X.shape}")
    if X.dtype != np.uint8:
        if X.dtype.kind not in "iuf" and X.dtype != np.bool_:
            raise ValueError(f"expected numeric colour values, got dtype {X.dtype}")
        values = X.astype(np.float64)
        if not np.isfinite(values).all():
            raise ValueError("colour values must be finite, got NaN or infinity")
        low, high = values.min(), values.max()
        if X.dtype.kind == "f" and low >= 0.0 and high <= 1.0:
            values = np.rint(values * 255.0)
        elif low < 0.0 or high > 255.0 or not np.array_equal(values, np.rint(values)):
            raise ValueError(
                "expected colour values as whole numbers in 0..255 or floats in [0, 1], "
                f"got values from {low:g} to {high:g} of dtype {X.dtype}"
            )
        X = values.astype(np.uint8)
    leading = X.shape[:-1]
    return np.ascontiguousarray(X.reshape(-1, X.shape[-1])), leading


def pack_colors(pixels: np.ndarray, dtype=np.int64) -> np.ndarray:
    """Pack (N, 3) or (N, 4) uint8 colours into one code per colour, of ``dtype``
    (an integer type of 8 bits per channel or more: ``np.uint32`` holds RGBA)."""
    pixels = np.asarray(pixels)
    if pixels.shape[1] == 4 and np.dtype(dtype) == np.uint32 and pixels.dtype == np.uint8:
        # Each row's four bytes read as one big-endian word are the code: one pass
        # (a tenth of the time of the shifts).
        return np.ascontiguousarray(pixels).view(">u4").reshape(-1).astype(np.uint32)
    codes = np.zeros(len(pixels), dtype=dtype)
    for channel in range(pixels.shape[1]):
        codes <<= 8
        codes |= pixels[:, channel]
    return codes


def unpack_colors(codes: np.ndarray, n_channels: int) -> np.ndarray:
    """The (N, n_channels) uint8 colours of codes made by :func:`pack_colors`: the low
    ``n_channels`` bytes of each code, most significant first (any integer type;
    ``n_channels`` at most 8)."""
    if not 1 <= n_channels <= 8:
        raise ValueError(f"a code holds 1 to 8 channels, got n_channels={n_channels}")
    # Each code written as one big-endian word: its last n_channels bytes are the
    # channels. One (N,) copy, where shifts make two (N, n_channels) int64
    # temporaries (a translucent photo has millions of distinct colours).
    width = 4 if n_channels <= 4 else 8
    words = np.asarray(codes).astype(f">u{width}")
    return np.ascontiguousarray(words.view(np.uint8).reshape(-1, width)[:, width - n_channels :])


#: Distinct colours handled at a time by the per-colour computations that make float
#: copies of a colour table (the NumPy quality measures of tables that the compiled
#: sums do not take: float colours, or output colours rather than palette entries).
COLORS_PER_CHUNK = 1 << 18


def color_chunks(n_colors: int) -> list[slice]:
    """Slices of at most ``COLORS_PER_CHUNK`` rows covering ``range(n_colors)``: float
    copies of a few MB at a time (a translucent photo has millions of distinct
    colours, and whole-table copies of them raised the peak memory of a run by half)."""
    return [
        slice(start, min(start + COLORS_PER_CHUNK, n_colors))
        for start in range(0, n_colors, COLORS_PER_CHUNK)
    ]


def color_histogram(
    pixels: np.ndarray, n_channels: int | None = None, *, skip_transparent: bool = False
) -> ColorHistogram:
    """Distinct colours of ``pixels`` with their counts.

    Parameters
    ----------
    pixels : (N, 3) or (N, 4) uint8 array
    n_channels : {3, 4}, optional
        Channels that make a colour, the first ones (default: all): 3 counts the RGB
        of RGBA pixels without a copy of them.
    skip_transparent : bool
        Leave out the pixels whose alpha (fourth channel) is 0.

    Returns
    -------
    ColorHistogram
        With ``n_channels`` channels per colour.
    """
    pixels = _as_pixels(pixels)
    n_channels = pixels.shape[1] if n_channels is None else n_channels
    if n_channels not in (3, 4) or n_channels > pixels.shape[1]:
        raise ValueError(
            f"n_channels must be 3 or 4 of the pixels' {pixels.shape[1]}, got {n_channels}"
        )
    if skip_transparent and pixels.shape[1] != 4:
        raise ValueError(f"skip_transparent needs RGBA pixels, got {pixels.shape[1]} channels")
    if n_channels == 3:
        codes, counts = count_rgb(pixels, skip_transparent)
    else:
        # 32-bit codes: NumPy sorts them three times as fast as int64, and a run
        # count is cheaper than np.unique's; the histogram keeps int64 codes.
        codes = pack_colors(pixels, np.uint32)
        if skip_transparent:  # alpha is the low byte
            codes = codes[(codes & np.uint32(255)) != 0]
        codes.sort()
        run_starts = np.empty(len(codes), dtype=bool)
        run_starts[:1] = True
        np.not_equal(codes[1:], codes[:-1], out=run_starts[1:])
        firsts = np.flatnonzero(run_starts)
        counts = np.diff(firsts, append=len(codes)).astype(np.int64)
        codes = codes[firsts].astype(np.int64)
    return ColorHistogram(colors=unpack_colors(codes, n_channels), counts=counts, codes=codes)


def image_histogram(pixels: np.ndarray) -> ColorHistogram:
    """The histogram K-means is fitted to: the one place an image's colours are counted.

    Fully transparent pixels of an RGBA image that also has visible ones are left out
    and counted in ``n_transparent`` (they get a palette entry of their own). When
    every counted pixel is opaque, colours are counted as RGB (alpha would add
    nothing but cost).

    Parameters
    ----------
    pixels : (N, 3) or (N, 4) uint8 array

    Returns
    -------
    ColorHistogram
        Its ``channels`` is the pixels' channel count.
    """
    pixels = _as_pixels(pixels)
    if pixels.shape[1] == 3:
        return color_histogram(pixels)
    transparent = pixels[:, 3] == 0
    n_transparent = int(np.count_nonzero(transparent))
    leave_out = 0 < n_transparent < len(pixels)
    n_opaque = int(np.count_nonzero(pixels[:, 3] == 255))
    left_out = n_transparent if leave_out else 0
    dims = 3 if n_opaque + left_out == len(pixels) else 4
    histogram = color_histogram(pixels, dims, skip_transparent=leave_out)
    return dataclasses.replace(histogram, n_transparent=left_out, channels=4)


def rgb_histogram(pixels: np.ndarray) -> ColorHistogram:
    """The RGB colours of the visible pixels (alpha 0 left out, alpha otherwise ignored):
    what a palette shared by many images is fitted to."""
    pixels = _as_pixels(pixels)
    if pixels.shape[1] == 4:
        transparent = pixels[:, 3] == 0
        if transparent.all():
            return ColorHistogram(
                np.zeros((0, 3), np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64)
            )
        return color_histogram(pixels, 3, skip_transparent=bool(transparent.any()))
    return color_histogram(pixels)


def sum_histograms(histograms) -> ColorHistogram:
    """The histogram of the pixels of several RGB histograms together (counts added):
    histograms are additive, so many images' colours are counted apart and summed.

    Parameters
    ----------
    histograms : iterable of ColorHistogram with 3-channel colours

    Returns
    -------
    ColorHistogram
    """
    codes, counts = [], []
    for histogram in histograms:
        if histogram.colors.shape[1] != 3:
            raise ValueError(f"expected RGB histograms, got {histogram.colors.shape[1]} channels")
        codes.append(np.asarray(histogram.codes, dtype=np.int64))
        counts.append(np.asarray(histogram.counts, dtype=np.int64))
    if not codes:
        raise ValueError("no histograms to sum")
    all_codes = np.concatenate(codes)
    unique, inverse = np.unique(all_codes, return_inverse=True)
    total = np.bincount(inverse.reshape(-1), weights=np.concatenate(counts), minlength=len(unique))
    return ColorHistogram(unpack_colors(unique, 3), total.astype(np.int64), unique)


def labels_for_pixels(
    pixels: np.ndarray,
    histogram: ColorHistogram,
    color_labels: np.ndarray,
    *,
    transparent_label: int | None = None,
) -> np.ndarray:
    """Spread per-colour labels back to the pixels.

    Parameters
    ----------
    pixels : (N, 3) or (N, 4) uint8 array
        Their first channels, as many as the histogram's colours have, must be one
        of its colours (transparent pixels aside, below).
    histogram : ColorHistogram
    color_labels : (n,) integer array
        A label for each distinct colour of ``histogram``.
    transparent_label : int, optional
        What the pixels whose alpha (fourth channel) is 0 get, whatever their colour.

    Returns
    -------
    labels : (N,) uint8 array when every label fits in a byte, else int32
    """
    pixels = _as_pixels(pixels)
    color_labels = np.asarray(color_labels)
    n_channels = histogram.colors.shape[1]
    if n_channels > pixels.shape[1]:
        raise ValueError(
            f"the histogram has {n_channels}-channel colours, the pixels {pixels.shape[1]}"
        )
    if transparent_label is not None and pixels.shape[1] != 4:
        raise ValueError(f"transparent_label needs RGBA pixels, got {pixels.shape[1]} channels")
    largest = max(
        int(color_labels.max()) if color_labels.size else 0,
        -1 if transparent_label is None else int(transparent_label),
    )
    dtype = np.uint8 if largest < 256 else np.int32

    labels = np.empty(len(pixels), dtype=dtype)
    # Its pages touched here, on one thread: the first write to a fresh page faults,
    # and page faults from threads of one process queue on one lock, so a parallel
    # lookup into a fresh array was slower than one thread's (docs/benchmarks.md,
    # "Threads").
    labels.fill(0)
    lookup = lookup_rgb if n_channels == 3 else lookup_rgba
    lookup(
        pixels,
        np.ascontiguousarray(histogram.codes, dtype=np.int64),
        np.ascontiguousarray(color_labels, dtype=dtype),
        labels,
        -1 if transparent_label is None else int(transparent_label),
    )
    return labels


def _as_pixels(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.ndim != 2 or pixels.shape[1] not in (3, 4) or pixels.dtype != np.uint8:
        raise ValueError(
            f"expected an (N, 3) or (N, 4) uint8 pixel array, got shape {pixels.shape} "
            f"and dtype {pixels.dtype}"
        )
    return np.ascontiguousarray(pixels)
