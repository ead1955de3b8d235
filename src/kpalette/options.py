"""One frozen set of options for every way into kpalette.

:class:`Options` says how many colours (or how to choose them), in which colour space
to cluster, whether to dither, the seed and the engine's limits. It is validated once,
when it is made, and used by :func:`kpalette.quantize`, :func:`kpalette.quantize_many`,
:func:`kpalette.choose_k`, :class:`kpalette.KSweep`, :func:`kpalette.fit_histogram` and
the command line.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

from .colorspace import COLOR_SPACES
from .dither import MAX_DITHER_COLORS

__all__ = [
    "DEFAULT_K",
    "DEFAULT_MAX_PIXELS",
    "MAX_EXPANSION",
    "OptionError",
    "Options",
    "RUN_TOLERANCE",
    "TUNES",
]

#: Number of colours when neither ``k`` nor a way of choosing it is given.
DEFAULT_K = 16
#: Pillow's decompression-bomb limit (its default ``Image.MAX_IMAGE_PIXELS``), the
#: default largest image kpalette decodes.
DEFAULT_MAX_PIXELS = 89_478_485
#: Most decoded bytes (4 a pixel) per byte of the file before an image of more than
#: 4 MP is refused as out of proportion: deflate, PNG's compression, packs at most
#: 1,032 bytes into one, so a PNG that declares more is damaged or a bomb; flat images
#: in other formats (WebP, GIF) can pack more, and are read when ``max_expansion`` is
#: raised (or None).
MAX_EXPANSION = 1100.0
#: What a result is tuned for, and the colour space each clusters in by default.
TUNES = {"eye": "oklab", "mse": "rgb"}
#: With ``tune="eye"``, how much farther than a pixel's nearest palette entry a
#: neighbour's entry may be for the pixel to take it (:meth:`kpalette.Fit.pixel_labels`),
#: as a fraction of the fit's root-mean-square error (:attr:`kpalette.Fit.rms_error`):
#: longer runs of one index, which deflate finds, for an error of the size the fit
#: already makes. Relative, so that it shrinks as k grows and a large palette keeps
#: its detail. Chosen on rate-distortion curves of photos (bench/rd.py,
#: docs/benchmarks.md).
RUN_TOLERANCE = 0.8


class OptionError(ValueError):
    """One option out of its range, with what it takes and what it got, as data.

    The message is the library's (``dither must be a strength in 0..1 or a bool, got 2``);
    the command line and the web page say it again with their own name for the option
    from ``field``, ``requirement`` and ``value``, so that the range is checked here
    only.

    Parameters
    ----------
    field : str
        The :class:`Options` field, ``"max_iter"``.
    requirement : str
        What any caller may give, ``"a whole number >= 1"``.
    value : object
        What was received.
    also : str, default=""
        What only Python callers may give besides, ``" or None"``: in the message,
        not in :attr:`requirement`.
    """

    def __init__(self, field: str, requirement: str, value: Any, *, also: str = "") -> None:
        self.field = field
        self.requirement = requirement
        self.value = value
        super().__init__(f"{field} must be {requirement}{also}, got {value!r}")


def _quality_range(value) -> tuple[float, float]:
    """``(min, max)`` from a pair, a number, or text such as "60-80" or "70"."""
    text = value
    if isinstance(value, str):
        parts = value.split("-")
        try:
            numbers_given = [float(part) for part in parts]
        except ValueError:
            numbers_given = []
        value = numbers_given if 1 <= len(numbers_given) <= 2 else None
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = [value]
    elif isinstance(value, tuple | list) and len(value) == 2:
        value = list(value)
    else:
        value = None
    if value is not None and len(value) == 1:
        value = [0.0, value[0]]
    if (
        value is None
        or any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in value)
        or not 0 <= value[0] <= value[1] <= 100
    ):
        raise OptionError(
            "quality",
            "MIN-MAX or MAX on the SSIMULACRA2 scale, 0 <= MIN <= MAX <= 100",
            text,
        )
    return float(value[0]), float(value[1])


def _whole(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise OptionError(name, f"a whole number >= {minimum}", value)
    return int(value)


@dataclass(frozen=True)
class Options:
    """How to quantize: the number of colours or how to choose it, and the engine's settings.

    Parameters
    ----------
    k : int, "auto" or None, default=None
        Number of colours (1 or more); ``"auto"`` chooses it (:func:`kpalette.choose_k`);
        None means :data:`DEFAULT_K` unless ``target_psnr`` or ``max_bytes`` is given.
    target_psnr : float, optional
        Choose the fewest colours whose PSNR reaches this many dB.
    max_bytes : int, optional
        Choose the most colours whose encoded file fits in this many bytes.
    quality : (min, max), "min-max", number or str, optional
        A perceptual target with pngquant's meaning, on the SSIMULACRA2 scale (0-100,
        :mod:`kpalette.ssimulacra2`): the fewest colours whose score reaches ``max``;
        when even 256 colours stay under ``min``, :func:`kpalette.choose_k` raises
        :class:`kpalette.QualityTooLow`. One number Q is ``(0, Q)``. Stored as a
        ``(min, max)`` tuple of floats.
    tune : {"eye", "mse"}, default="eye"
        What the result is best at. "eye": the best-looking file for its bytes, as
        SSIMULACRA2 and butteraugli judge it: colours clustered in OKLab, and each
        pixel may take a neighbour's entry when it is barely farther than its
        nearest (:data:`RUN_TOLERANCE`), so the file deflates smaller. "mse": the lowest
        RGB mean squared error at every k (clustered in RGB, each pixel its nearest
        entry), as scikit-learn's ``KMeans`` on the pixels would aim for.
    color_space : {"rgb", "lab", "oklab"}, optional
        Space the colours are clustered in (default: the tune's, ``TUNES``): "rgb"
        minimises the MSE, "lab" and "oklab" a perceptual difference (lower mean
        CIEDE2000). Set, it is kept when the tune changes.
    dither : bool or float, default=0.0
        Floyd-Steinberg error diffusion strength in [0, 1]; ``True`` is 1. Stored as a
        float.
    seed : int, None or numpy.random.Generator, default=0
        Seed of the k-means++ draws; the same seed gives the same result. None draws
        a fresh seed.
    n_init : "auto" or int, default="auto"
        k-means++ starts; ``"auto"`` chooses by k.
    max_iter : int, default=300
        Most Lloyd iterations per start.
    tol : float, default=1e-4
        Relative convergence tolerance (as in scikit-learn).
    alpha_threshold : int in 1..255, optional
        Fit a palette without translucency (for GIF): alpha below it becomes
        transparent and the rest opaque before fitting.
    max_pixels : int or None, default=DEFAULT_MAX_PIXELS
        Largest image read from a file (a decompression-bomb guard); None: no limit.
    max_expansion : float or None, default=MAX_EXPANSION
        The other half of that guard: an image of more than 4 MP whose decoded size is
        more than this many times its file's is refused; None: no such check. Each
        half is raised, lowered or turned off only by its own setting.
    threads : int, optional
        Most threads of the compiled loops (default: :func:`kpalette.threads.
        default_threads`, ``OMP_NUM_THREADS`` or the CPUs this process may use). The
        result does not depend on it.

    Raises
    ------
    OptionError
        For any value out of its range (a :class:`ValueError`); the message quotes
        what was received.
    ValueError
        For more than one way of choosing k, or dithering with more colours than it
        takes.

    Examples
    --------
    >>> Options(k=32, color_space="lab").n_colors
    32
    >>> Options(target_psnr=35).choice
    'target_psnr'
    """

    k: int | str | None = None
    target_psnr: float | None = None
    max_bytes: int | None = None
    quality: Any = None
    tune: str = "eye"
    # None when made: the tune's space, set in __post_init__ (a str from then on).
    color_space: str = None  # type: ignore[assignment]
    dither: float = 0.0
    seed: Any = 0
    n_init: int | str = "auto"
    max_iter: int = 300
    tol: float = 1e-4
    alpha_threshold: int | None = None
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    max_expansion: float | None = MAX_EXPANSION
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.k is not None and self.k != "auto":
            _whole(self.k, "k", 1)
        asked = [
            name
            for name, given in (
                ("k='auto'", self.k == "auto"),
                ("target_psnr", self.target_psnr is not None),
                ("max_bytes", self.max_bytes is not None),
                ("quality", self.quality is not None),
            )
            if given
        ]
        if self.k not in (None, "auto") and asked:
            asked.insert(0, f"k={self.k}")
        if len(asked) > 1:
            raise ValueError(
                "choose one of k, k='auto', target_psnr, max_bytes and quality; got "
                + " and ".join(asked)
            )
        if self.target_psnr is not None:
            value = self.target_psnr
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not 0 < value < math.inf
            ):
                raise OptionError("target_psnr", "a positive number of dB", value)
        if self.max_bytes is not None:
            _whole(self.max_bytes, "max_bytes", 1)
        if self.quality is not None:
            object.__setattr__(self, "quality", _quality_range(self.quality))
        if self.tune not in TUNES:
            raise OptionError("tune", f"one of {', '.join(TUNES)}", self.tune)
        if self.color_space is None:
            object.__setattr__(self, "color_space", TUNES[self.tune])
        if self.color_space not in COLOR_SPACES:
            raise OptionError("color_space", f"one of {', '.join(COLOR_SPACES)}", self.color_space)
        dither = self.dither
        if dither is True:
            dither = 1.0
        elif dither is False or dither is None:
            dither = 0.0
        if not isinstance(dither, numbers.Real) or not 0.0 <= float(dither) <= 1.0:
            raise OptionError("dither", "a strength in 0..1", self.dither, also=" or a bool")
        object.__setattr__(self, "dither", float(dither))
        if self.dither > 0 and isinstance(self.k, numbers.Integral) and self.k > MAX_DITHER_COLORS:
            raise ValueError(f"dithering takes at most {MAX_DITHER_COLORS} colours, got k={self.k}")
        seed = self.seed
        if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed < 0:
            raise OptionError("seed", "a whole number >= 0", seed)
        if isinstance(seed, bool | str | float):
            raise OptionError("seed", "a whole number", seed, also=", None or a Generator")
        if self.n_init != "auto" and (
            isinstance(self.n_init, bool)
            or not isinstance(self.n_init, numbers.Integral)
            or self.n_init < 1
        ):
            raise OptionError("n_init", "'auto' or a whole number >= 1", self.n_init)
        _whole(self.max_iter, "max_iter", 1)
        if isinstance(self.tol, bool) or not isinstance(self.tol, numbers.Real) or self.tol < 0:
            raise OptionError("tol", "a number >= 0", self.tol)
        if self.alpha_threshold is not None and not (
            isinstance(self.alpha_threshold, numbers.Integral)
            and not isinstance(self.alpha_threshold, bool)
            and 1 <= self.alpha_threshold <= 255
        ):
            raise OptionError("alpha_threshold", "a whole number in 1..255", self.alpha_threshold)
        if self.max_pixels is not None:
            _whole(self.max_pixels, "max_pixels", 1)
        if self.max_expansion is not None:
            value = self.max_expansion
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
                raise OptionError("max_expansion", "a number > 0", value, also=" or None")
            object.__setattr__(self, "max_expansion", float(value))
        if self.threads is not None:
            _whole(self.threads, "threads", 1)

    @property
    def run_tolerance(self) -> float:
        """How much farther a neighbour's entry may be for a pixel to take it, as a
        fraction of the fit's root-mean-square error (0: each pixel its nearest
        entry): :data:`RUN_TOLERANCE` with ``tune="eye"`` and no dithering, else 0."""
        if self.tune != "eye" or self.dither > 0:
            return 0.0
        return RUN_TOLERANCE

    @property
    def choice(self) -> str | None:
        """How k is chosen: None for a given k, else "auto", "target_psnr", "max_bytes"
        or "quality"."""
        if self.k == "auto":
            return "auto"
        if self.target_psnr is not None:
            return "target_psnr"
        if self.max_bytes is not None:
            return "max_bytes"
        if self.quality is not None:
            return "quality"
        return None

    @property
    def n_colors(self) -> int:
        """The number of colours to fit.

        Raises
        ------
        ValueError
            When k is to be chosen (``choice`` is not None): choose it first.
        """
        if self.choice is not None:
            raise ValueError(f"k is to be chosen ({self.choice}); choose it with choose_k()")
        return DEFAULT_K if self.k is None else int(self.k)

    def replace(self, **changes) -> Options:
        """A copy with ``changes`` (validated again); ``k=N`` clears any way of choosing k."""
        if "k" in changes and changes["k"] not in (None, "auto"):
            changes.setdefault("target_psnr", None)
            changes.setdefault("max_bytes", None)
            changes.setdefault("quality", None)
        # A colour space that was the old tune's default follows the new tune.
        follows = self.color_space == TUNES.get(self.tune)
        if "tune" in changes and "color_space" not in changes and follows:
            changes["color_space"] = None
        return dataclasses.replace(self, **changes)

    @classmethod
    def of(cls, options: Options | None = None, **changes) -> Options:
        """``options`` (default: ``Options()``) with ``changes`` applied.

        The functions that take an ``options`` argument and keyword overrides, such as
        :func:`kpalette.quantize`, build theirs with this.
        """
        base = cls() if options is None else options
        if not isinstance(base, Options):
            raise TypeError(f"options must be an Options, got {type(base).__name__}")
        changes = dict(changes.items())
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise TypeError(
                f"unknown option{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}"
            )
        return base.replace(**changes) if changes else base
