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

__all__ = ["DEFAULT_K", "DEFAULT_MAX_PIXELS", "Options"]

#: Number of colours when neither ``k`` nor a way of choosing it is given.
DEFAULT_K = 16
#: Pillow's decompression-bomb limit (its default ``Image.MAX_IMAGE_PIXELS``), the
#: default largest image kpalette decodes.
DEFAULT_MAX_PIXELS = 89_478_485


def _whole(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
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
    color_space : {"rgb", "lab", "oklab"}, default="rgb"
        Space the colours are clustered in: "rgb" minimises the MSE, "lab" and "oklab"
        a perceptual difference (lower mean CIEDE2000).
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

    Raises
    ------
    ValueError
        For any value out of its range, or more than one way of choosing k; the
        message quotes what was received.

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
    color_space: str = "rgb"
    dither: float = 0.0
    seed: Any = 0
    n_init: int | str = "auto"
    max_iter: int = 300
    tol: float = 1e-4
    alpha_threshold: int | None = None
    max_pixels: int | None = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if self.k is not None and self.k != "auto":
            _whole(self.k, "k", 1)
        asked = [
            name
            for name, given in (
                ("k='auto'", self.k == "auto"),
                ("target_psnr", self.target_psnr is not None),
                ("max_bytes", self.max_bytes is not None),
            )
            if given
        ]
        if self.k not in (None, "auto") and asked:
            asked.insert(0, f"k={self.k}")
        if len(asked) > 1:
            raise ValueError(
                f"choose one of k, k='auto', target_psnr and max_bytes; got {' and '.join(asked)}"
            )
        if self.target_psnr is not None:
            value = self.target_psnr
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not 0 < value < math.inf
            ):
                raise ValueError(f"target_psnr must be a positive number of dB, got {value!r}")
        if self.max_bytes is not None:
            _whole(self.max_bytes, "max_bytes", 1)
        if self.color_space not in COLOR_SPACES:
            raise ValueError(
                f"color_space must be one of {', '.join(COLOR_SPACES)}, got {self.color_space!r}"
            )
        dither = self.dither
        if dither is True:
            dither = 1.0
        elif dither is False or dither is None:
            dither = 0.0
        if not isinstance(dither, numbers.Real) or not 0.0 <= float(dither) <= 1.0:
            raise ValueError(f"dither must be a strength in 0..1 or a bool, got {self.dither!r}")
        object.__setattr__(self, "dither", float(dither))
        if self.dither > 0 and isinstance(self.k, numbers.Integral) and self.k > MAX_DITHER_COLORS:
            raise ValueError(f"dithering takes at most {MAX_DITHER_COLORS} colours, got k={self.k}")
        seed = self.seed
        if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed < 0:
            raise ValueError(f"seed must be 0 or more, got {seed!r}")
        if isinstance(seed, bool | str | float):
            raise ValueError(f"seed must be a whole number, None or a Generator, got {seed!r}")
        if self.n_init != "auto" and (
            isinstance(self.n_init, bool)
            or not isinstance(self.n_init, numbers.Integral)
            or self.n_init < 1
        ):
            raise ValueError(f"n_init must be 'auto' or a whole number >= 1, got {self.n_init!r}")
        _whole(self.max_iter, "max_iter", 1)
        if isinstance(self.tol, bool) or not isinstance(self.tol, numbers.Real) or self.tol < 0:
            raise ValueError(f"tol must be a number >= 0, got {self.tol!r}")
        if self.alpha_threshold is not None and not (
            isinstance(self.alpha_threshold, numbers.Integral)
            and not isinstance(self.alpha_threshold, bool)
            and 1 <= self.alpha_threshold <= 255
        ):
            raise ValueError(
                f"alpha_threshold must be a whole number in 1..255, got {self.alpha_threshold!r}"
            )
        if self.max_pixels is not None:
            _whole(self.max_pixels, "max_pixels", 1)

    @property
    def choice(self) -> str | None:
        """How k is chosen: None for a given k, else "auto", "target_psnr" or "max_bytes"."""
        if self.k == "auto":
            return "auto"
        if self.target_psnr is not None:
            return "target_psnr"
        if self.max_bytes is not None:
            return "max_bytes"
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
        changes = {name: value for name, value in changes.items()}
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise TypeError(
                f"unknown option{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}"
            )
        return base.replace(**changes) if changes else base
