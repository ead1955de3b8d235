"""Choosing the number of colours: the knee of the inertia curve, a target PSNR, a size.

Every choice is made by really fitting (and, for a size, really encoding) the image:
K-means results are not monotonic in k by law, only nearly so, so each answer is
checked at its neighbour (k - 1 reaches less; k + 1 does not fit) before it is given.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import metrics
from .colorspace import from_space
from .exceptions import KPaletteWarning, QualityTooLow
from .fit import Fit, fit_histogram, nearest_entries, prepare_points
from .io import OUTPUT_FORMATS
from .kmeans import grid_means, kmeans_weighted
from .mapping import from_fit
from .options import Options
from .prepare import prepare
from .progress import status
from .result import QuantizedImage
from .ssimulacra2 import sample, ssimulacra2

__all__ = ["AUTO_DELTA_E", "DEFAULT_KNEE_KS", "KChoice", "KSweep", "choose_k", "knee_point"]

#: Numbers of colours the knee is looked for among (the walkthrough looks at 2..10).
DEFAULT_KNEE_KS = tuple(range(1, 17))
#: Largest number of colours a palette image holds.
MAX_K = 256
#: The mean CIEDE2000 difference ``k="auto"`` stays under. Differences under 1 are not
#: perceptible, 1 to 2 only on close observation, 2 to 10 at a glance (Sharma's
#: reading of the scale); 2 keeps a photo's accents (a lamp's glow, a small red
#: object) that the knee of the inertia curve merges away.
AUTO_DELTA_E = 2.0
#: Pillow's names of the lossy output formats (see ``kpalette.io.OUTPUT_FORMATS``).
LOSSY_FORMATS = frozenset(fmt.name for fmt in OUTPUT_FORMATS.values() if fmt.lossy)


@dataclass(frozen=True)
class KChoice:
    """What :func:`choose_k` chose and why.

    Attributes
    ----------
    k : int
        The chosen number of colours.
    method : {"delta_e", "knee", "target_psnr", "max_bytes"}
    reason : str
        Why ``k``: what was asked, what was found (e.g. "the fewest colours reaching
        PSNR 30 dB (30.281 dB; k=17 reaches 29.999 dB)").
    result : QuantizedImage
        The image quantized with ``k`` colours (the same fit as in the search).
    curve : dict
        k -> {"inertia", "mse", "psnr"} for every k fitted on the way and, where a
        file was encoded, its size: "bytes" for the palette PNG, "bytes GIF",
        "bytes WEBP", ... (``KSweep.size_key``) for other formats.
    """

    k: int
    method: str
    reason: str
    result: QuantizedImage
    curve: dict = field(repr=False)


def knee_point(ks, values) -> int:
    """The k where a decreasing curve bends most (Kneedle on the logarithm).

    The curve is taken on a log scale (a fall from 9 to 1.6 counts as much as one
    from 90 to 16: the inertia of an image falls by factors), both axes are scaled
    to 0..1, and the knee is the point farthest below the straight line from the
    first point to the last. With a few clusters of distinct colours the inertia
    falls steeply until k reaches their number and slowly after, and that k is
    returned; on the linear scale, the last big step was missed (7 blobs
    gave 6).

    Parameters
    ----------
    ks : (n,) increasing integers, n >= 3
    values : (n,) floats, e.g. inertia for each k

    Returns
    -------
    k : int
    """
    ks = np.asarray(ks, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    positive = values[values > 0]
    values = np.log(np.maximum(values, positive.min() / 10 if len(positive) else 1.0))
    if len(ks) < 3:
        raise ValueError(f"the knee needs at least 3 values of k, got {len(ks)}")
    x = (ks - ks[0]) / (ks[-1] - ks[0])
    span = values.max() - values.min()
    if span <= 0:
        return int(ks[0])
    y = (values - values.min()) / span
    line = y[0] + (y[-1] - y[0]) * x
    return int(ks[int(np.argmax(line - y))])


def choose_k(
    image,
    *,
    options: Options | None = None,
    ks=None,
    image_format: str = "PNG",
    truecolor: bool = False,
    max_k: int = MAX_K,
    method: str = "delta_e",
    **changes,
) -> KChoice:
    """Choose the number of colours for an image.

    By ``options``: with ``target_psnr``, the fewest colours whose PSNR reaches it;
    with ``max_bytes``, the most colours (the best quality) whose file, really
    encoded in ``image_format``, fits in that many bytes; otherwise (``k="auto"``)
    the fewest colours, from 2 to ``max_k``, whose mean CIEDE2000 difference from the
    image is under :data:`AUTO_DELTA_E` (``method="delta_e"``: a difference that is
    not seen at a glance), or the knee of the inertia curve over ``ks``
    (``method="knee"``, :func:`knee_point`).

    Parameters
    ----------
    image : (H, W, 3|4) array, str / os.PathLike, or KSweep
        A :class:`KSweep` reuses its fits (its own options then apply, but for the
        target).
    options : Options, optional
        Keyword arguments override its fields, as for :func:`kpalette.quantize`.
    ks : iterable of int, optional
        Candidates for the knee (default 1..16).
    image_format : str, default="PNG"
        Format whose size ``max_bytes`` limits ("PNG", "GIF", "WEBP", "JPEG", "TIFF").
    truecolor : bool, default=False
        Measure a full-colour PNG rather than a palette one.
    max_k : int, default=256
        Most colours considered for a target.
    method : {"delta_e", "knee"}, default="delta_e"
        How ``k="auto"`` chooses.

    Returns
    -------
    KChoice
        Its ``result`` carries the choice (``QuantizedImage.choice``).

    Raises
    ------
    ValueError
        A target that cannot be met (the message says what the closest k reached).
    """
    start = time.perf_counter()
    options = Options.of(options, **changes)
    if method not in ("delta_e", "knee"):
        raise ValueError(f"method must be 'delta_e' or 'knee', got {method!r}")
    if options.max_bytes is not None and image_format in LOSSY_FORMATS:
        raise ValueError(
            f"max_bytes cannot be met by choosing colours for a lossy {image_format} output: "
            "its size does not fall with fewer colours; write .png, .gif, .webp or .tif"
        )
    search = image if isinstance(image, KSweep) else KSweep(image, options=options)
    if options.target_psnr is not None:
        choice = _for_psnr(float(options.target_psnr), search, max_k)
    elif options.quality is not None:
        low, high = options.quality
        choice = _for_quality(low, high, search, max_k)
    elif options.max_bytes is not None:
        choice = _for_size(int(options.max_bytes), search, max_k, image_format, truecolor)
    elif method == "knee":
        k, reason = search.suggest(DEFAULT_KNEE_KS if ks is None else ks)
        choice = KChoice(k, "knee", reason, search.result(k), search.curve)
    else:
        choice = _for_delta_e(AUTO_DELTA_E, search, max_k)
    return dataclasses.replace(
        choice,
        result=choice.result.replace(
            choice={"method": choice.method, "k": choice.k, "reason": choice.reason},
            seconds=time.perf_counter() - start,  # the whole search, read included
        ),
    )


class KSweep:
    """Fits of one image at several numbers of colours, from one histogram.

    The image is read and its colours counted once; each k is fitted at most once
    and kept. :func:`choose_k`, the plots and the report share one sweep.

    Parameters
    ----------
    image : (H, W, 3|4) array, str / os.PathLike, or PreparedImage
    options : Options, optional
        As for :func:`kpalette.quantize` (``k`` is set per fit); keyword arguments
        override its fields.
    max_fits, max_results : int, optional
        Most fits and most quantized images kept at once, the least recently used
        dropped first (and made again if asked for): a long-lived sweep, such as the
        web page's, stays bounded in memory. Default: all are kept.

    Attributes
    ----------
    prepared : PreparedImage
        The image read and counted once.
    options : Options
    curve : dict
        k -> {"inertia", "mse", "psnr"} for every k fitted, and each encoded size
        under :meth:`size_key` ("bytes" for the palette PNG).
    """

    def __init__(
        self,
        image,
        *,
        options: Options | None = None,
        max_fits: int | None = None,
        max_results: int | None = None,
        **changes,
    ):
        for name, value in (("max_fits", max_fits), ("max_results", max_results)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a whole number >= 1 or None, got {value!r}")
        self.options = Options.of(options, **changes)
        self.prepared = prepare(image, self.options)
        self._curve: dict[int, dict] = {}
        self.results: dict[int, QuantizedImage] = {}
        self._fits: dict[int, Fit] = {}
        self.max_fits = max_fits
        self.max_results = max_results
        self._lock = threading.Lock()
        self._coarse: tuple[np.ndarray, np.ndarray] | None = None
        # The colours' grids and search trees, kept between fits (None for histograms
        # whose fits sort their colours in place).
        self._points = prepare_points(self.prepared.histogram, self.options.color_space)
        self._estimates: dict[int, float] = {}
        self._sampled_original: np.ndarray | None = None
        self._quality_estimates: dict[int, float] = {}

    @property
    def original(self) -> np.ndarray:
        """The image as given, which the quality is measured against."""
        return self.prepared.original

    @property
    def source(self):
        """The file the image was read from, or None."""
        return self.prepared.source

    def options_at(self, k: int) -> Options:
        """The sweep's options with ``k`` colours."""
        return self.options.replace(k=int(k))

    @property
    def fitted_ks(self) -> list[int]:
        """The k of every fit kept, least recently used first."""
        with self._lock:
            return list(self._fits)

    def _cached(self, cache: dict, k: int):
        """The entry at k of a cache, marked as the most recently used (None if absent)."""
        with self._lock:
            value = cache.pop(k, None)
            if value is not None:
                cache[k] = value
            return value

    def _keep(self, cache: dict, k: int, value, limit: int | None):
        """Keep ``value`` at k, dropping the least recently used beyond ``limit``."""
        with self._lock:
            cache[k] = value
            while limit is not None and len(cache) > limit:
                del cache[next(iter(cache))]
        return value

    @property
    def curve(self) -> dict[int, dict]:
        """k -> what was measured there, a copy taken at once (other threads may be
        adding to the sweep)."""
        with self._lock:
            return {k: dict(point) for k, point in sorted(self._curve.items())}

    def _record(self, k: int, **values) -> None:
        """Add ``values`` to the point at k (each point only grows)."""
        with self._lock:
            self._curve[k] = {**self._curve.get(k, {}), **values}

    def fit(self, k: int) -> Fit:
        """The fit at k (made once, unless dropped by ``max_fits``)."""
        fit = self._cached(self._fits, k)
        if fit is None:
            status(f"fitting k={k}")
            with warnings.catch_warnings():
                # More colours than the image has: the search itself asked for them.
                warnings.simplefilter("ignore", KPaletteWarning)
                fit = fit_histogram(
                    self.prepared.histogram, self.options_at(k), prepared=self._points
                )
            self._keep(self._fits, k, fit, self.max_fits)
        return fit

    def knee(self, ks=DEFAULT_KNEE_KS) -> int:
        """:func:`knee_point` of the inertia over ``ks``."""
        return self.suggest(ks)[0]

    def suggest(self, ks=DEFAULT_KNEE_KS) -> tuple[int, str]:
        """The knee of the inertia over ``ks``, and a sentence saying why."""
        ks = sorted({int(k) for k in ks})
        inertia = [self.point(k)["inertia"] for k in ks]
        k = knee_point(ks, inertia)
        total = inertia[0] - inertia[-1]
        before = 0.0 if total == 0 else (inertia[0] - inertia[ks.index(k)]) / total
        reason = (
            f"the knee of the inertia curve over k={ks[0]}..{ks[-1]}: "
            f"{before:.0%} of its fall from k={ks[0]} to k={ks[-1]} happens by k={k}"
        )
        return k, reason

    def result(self, k: int) -> QuantizedImage:
        """The quantized image at k (pixels mapped, dithered if asked)."""
        result = self._cached(self.results, k)
        if result is None:
            start = time.perf_counter()
            fit = self.fit(k)
            result = from_fit(fit, self.prepared, self.options_at(k), start=start)
            self._keep(self.results, k, result, self.max_results)
            self._record(k, inertia=result.inertia, mse=result.mse, psnr=result.psnr)
        return result

    @property
    def _measured_by_table(self) -> bool:
        """Whether a fit's colour table measures the result: each colour mapped to its
        nearest entry (no dithering, no runs: ``Options.run_tolerance``), and the
        image fitted is the one measured."""
        options, prepared = self.options, self.prepared
        return (
            options.dither == 0
            and options.run_tolerance == 0
            and prepared.fitted is prepared.original
        )

    def point(self, k: int) -> dict:
        """Inertia, MSE and PSNR at k; from the colour table alone when it measures the
        result (:attr:`_measured_by_table`), else from the result itself."""
        if k not in self._curve:
            if not self._measured_by_table:
                self.result(k)
            else:
                fit = self.fit(k)
                colors, counts, entries = fit.color_table()
                mse = metrics.mean_squared_error_from_entries(colors, counts, fit.palette, entries)
                psnr = metrics.peak_signal_noise_ratio(None, None, mse=mse)
                self._record(k, inertia=fit.inertia, mse=mse, psnr=psnr)
        return self._curve[k]

    def delta_e_estimate(self, k: int) -> float:
        """Mean CIEDE2000 at k of a quick fit: one start on the colours merged on a
        32-level grid, every distinct colour then given its nearest entry and measured.

        Close above the full fit's (which starts more often, on every colour): used to
        search for k, each candidate in a fraction of a full fit's time. The full
        :meth:`delta_e` where the quick fit does not apply (alpha, dithering).
        """
        prepared = self.prepared
        histogram = prepared.histogram
        quick = (
            self.options.dither == 0
            and prepared.fitted is prepared.original
            and histogram.n_transparent == 0
            and histogram.colors.shape[1] == 3
        )
        if not quick:
            return self.delta_e(k)
        if k not in self._estimates:
            space = self.options.color_space
            points = histogram.coordinates(space)
            if self._coarse is None:
                self._coarse = grid_means(points, histogram.counts.astype(np.float64), 32)
            coarse_points, coarse_weights = self._coarse
            if len(coarse_points) <= k:
                return self.delta_e(k)
            status(f"trying k={k}")
            centers = kmeans_weighted(
                coarse_points, coarse_weights, k, n_init=1, max_iter=self.options.max_iter,
                tol=self.options.tol, rng=self.options.seed,
            )[0]  # fmt: skip
            palette = np.clip(np.rint(from_space(centers, space)), 0, 255).astype(np.uint8)
            entries = nearest_entries(points, palette, space)
            self._estimates[k] = metrics.mean_delta_e_from_entries(
                histogram.colors, histogram.counts, palette, entries
            )
        return self._estimates[k]

    def delta_e(self, k: int) -> float:
        """Mean CIEDE2000 difference at k (from the colour table when not dithering)."""
        point = self.point(k)
        if "delta_e" not in point:
            if not self._measured_by_table:
                point["delta_e"] = self.result(k).delta_e
            else:
                fit = self.fit(k)
                colors, counts, entries = fit.color_table()
                point["delta_e"] = metrics.mean_delta_e_from_entries(
                    colors, counts, fit.palette, entries
                )
        return point["delta_e"]

    @staticmethod
    def size_key(image_format: str = "PNG", truecolor: bool = False) -> str:
        """Key of a file size in :attr:`curve`: "bytes" for the palette PNG."""
        if image_format == "PNG" and not truecolor:
            return "bytes"
        return f"bytes {image_format}{' truecolor' if truecolor else ''}"

    def ssimulacra2(self, k: int) -> float:
        """SSIMULACRA2 score of the result at k against the image (0-100), measured on
        :func:`kpalette.ssimulacra2.sample` of both (the whole image up to half a
        megapixel), once per k."""
        point = self._curve.get(k, {})
        if "ssimulacra2" not in point:
            score = self._score(self.result(k))
            self._record(k, ssimulacra2=score)
        return self._curve[k]["ssimulacra2"]

    def ssimulacra2_estimate(self, k: int) -> float:
        """SSIMULACRA2 at k of a quick fit (one k-means++ start, the full fit's other
        settings): close to :meth:`ssimulacra2`, in a fraction of its time; what the
        search for a quality target probes with."""
        if k not in self._quality_estimates:
            options = self.options_at(k).replace(n_init=1)
            fit = fit_histogram(self.prepared.histogram, options, prepared=self._points)
            status(f"trying k={k}")
            self._quality_estimates[k] = self._score(from_fit(fit, self.prepared, options))
        return self._quality_estimates[k]

    def _score(self, result: QuantizedImage) -> float:
        if self._sampled_original is None:
            self._sampled_original = sample(self.prepared.original)
        return ssimulacra2(self._sampled_original, sample(result.to_array()))

    def size(self, k: int, image_format: str = "PNG", truecolor: bool = False) -> int:
        """Bytes of the file at k in ``image_format``, really encoded (once per format)."""
        key = self.size_key(image_format, truecolor)
        if key not in self._curve.get(k, {}):
            result = self.result(k)
            if key == "bytes":
                n_bytes = result.png_bytes  # cached on the result, shared with its report
            else:
                n_bytes = len(result.encode(image_format, truecolor=truecolor))
            self._record(k, **{key: n_bytes})
        return self._curve[k][key]


def _first_true(predicate, low: int, high: int) -> int | None:
    """Smallest k in low..high with predicate(k), assuming it stays true once true.

    Galloping from ``low`` (low, 2 low, 4 low, ...) and then halving: fits at small k
    are cheap and most answers are small, so the expensive large k are fitted only
    when the answer is near them.
    """
    previous, probe = low - 1, low
    while not predicate(probe):
        if probe >= high:
            return None
        previous, probe = probe, min(high, 2 * probe)
    low, high = previous + 1, probe
    while low < high:
        middle = (low + high) // 2
        if predicate(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _for_psnr(target: float, search: KSweep, max_k: int) -> KChoice:
    def reaches(k: int) -> bool:
        return search.point(k)["psnr"] >= target

    k = _first_true(reaches, 1, max_k)
    if k is None:
        raise ValueError(
            f"PSNR {target:g} dB is not reached with {max_k} colours, the most searched "
            f"(best {search.point(max_k)['psnr']:.2f} dB); ask for less"
        )
    # Not monotonic by law: make sure no smaller k already reaches it.
    while k > 1 and reaches(k - 1):
        k -= 1
    result = search.result(k)
    shown = "identical" if math.isinf(result.psnr) else f"{result.psnr:.3f} dB"
    below = "" if k == 1 else f"; k={k - 1} reaches {search.point(k - 1)['psnr']:.3f} dB"
    reason = f"the fewest colours reaching PSNR {target:g} dB ({shown}{below})"
    return KChoice(k, "target_psnr", reason, result, search.curve)


def _first_reaching(score, target: float, low: int, high: int) -> int | None:
    """Smallest k in low..high whose ``score(k)`` reaches ``target``, assuming scores
    rise with k: a bracketing search on log k, each probe where the two scores around
    the target would meet on a straight line (halving when that does not narrow the
    bracket enough). SSIMULACRA2 rises smoothly with log k, so a handful of probes
    find the answer where halving from the ends would take about eight."""
    probe = min(high, max(low, 32))
    below: tuple[int, float] | None = None  # (k, score) under the target
    above: tuple[int, float] | None = None  # (k, score) at or over it
    while True:
        value = score(probe)
        if value >= target:
            above = (probe, value)
        else:
            below = (probe, value)
        if above is None:
            if probe >= high:
                return None
            assert below is not None  # this probe was under the target
            step = 4 if below[1] < target - 20 else 2
            probe = min(high, probe * step)
            continue
        if below is None:
            if above[0] <= low:
                return low
            probe = max(low, above[0] // 4 if above[1] > target + 20 else above[0] // 2)
            continue
        if above[0] - below[0] <= 1:
            return above[0]
        lo_k, lo_v = below
        hi_k, hi_v = above
        share = (target - lo_v) / (hi_v - lo_v) if hi_v > lo_v else 0.5
        guess = math.exp(math.log(lo_k) + share * (math.log(hi_k) - math.log(lo_k)))
        # Lean to the upper side so that a probe often closes the bracket.
        probe = math.ceil(guess)
        span = hi_k - lo_k
        probe = min(hi_k - 1, max(lo_k + 1, probe))
        if span > 4 and not (lo_k + span // 8 <= probe <= hi_k - span // 8):
            probe = (lo_k + hi_k) // 2


def _for_quality(low: float, high: float, search: KSweep, max_k: int) -> KChoice:
    """The fewest colours whose SSIMULACRA2 score reaches ``high``; else the most
    searched, if they reach ``low``; else :class:`QualityTooLow`.

    Searched on quick fits (:meth:`KSweep.ssimulacra2_estimate`); the full fit at the
    k found decides, and a few more colours are taken when it scores under."""
    estimate = search.ssimulacra2_estimate
    found = _first_reaching(estimate, high, 2, max_k)
    k = max_k if found is None else found
    while found is not None and k > 2 and estimate(k - 1) >= high:  # not monotonic by law
        k -= 1
    while search.ssimulacra2(k) < high and k < max_k:
        k = min(max_k, k + max(1, k // 16))
    score = search.ssimulacra2(k)
    if score >= high:
        below = f"; a quick fit at k={k - 1} scores {estimate(k - 1):.1f}" if k > 2 else ""
        reason = f"the fewest colours reaching SSIMULACRA2 {high:g} ({score:.1f}{below})"
    elif score >= low:
        reason = (
            f"{k} colours, the most searched: SSIMULACRA2 {score:.1f}, under the {high:g} "
            f"asked for and over the minimum {low:g}"
        )
    else:
        raise QualityTooLow(
            f"SSIMULACRA2 {low:g} is not reached with {k} colours, the most searched "
            f"(best {score:.1f}); ask for less, or write full colour (.webp)",
            best=score,
            k=k,
        )
    return KChoice(k, "quality", reason, search.result(k), search.curve)


def _for_delta_e(target: float, search: KSweep, max_k: int) -> KChoice:
    """The fewest k whose quick fit's mean CIEDE2000 is under ``target``; the result is
    the full fit at that k, whose difference is reported."""

    def meets(k: int) -> bool:
        return search.delta_e_estimate(k) <= target

    found = _first_true(meets, 2, max_k)
    k = max_k if found is None else found
    while found is not None and k > 2 and meets(k - 1):  # not monotonic by law
        k -= 1
    result = search.result(k)
    # The quick fits guide the search; the full fit decides. Rarely it ends a little
    # above the quick one: then a few more colours.
    while found is not None and result.delta_e > target and k < max_k:
        k = min(max_k, k + max(1, k // 16))
        result = search.result(k)
    if found is None or result.delta_e > target:
        reason = (
            f"the most colours searched: mean CIEDE2000 {result.delta_e:.2f} at k={k}, "
            f"above the {target:g} that is not seen at a glance"
        )
    else:
        reason = (
            f"the fewest colours whose mean CIEDE2000 is under {target:g}, a difference not "
            f"seen at a glance ({result.delta_e:.2f}; searched on quick fits, k={k - 1} "
            f"gave {search.delta_e_estimate(k - 1):.2f})"
            if k > 2
            else f"mean CIEDE2000 {result.delta_e:.2f} with 2 colours, under {target:g}"
        )
    return KChoice(k, "delta_e", reason, result, search.curve)


def _for_size(max_bytes, search: KSweep, max_k: int, image_format: str, truecolor) -> KChoice:
    def size(k: int) -> int:
        return search.size(k, image_format, truecolor)

    def too_big(k: int) -> bool:
        return size(k) > max_bytes

    # The largest k that fits = one less than the smallest k that does not.
    first_too_big = _first_true(too_big, 1, max_k)
    if first_too_big == 1:
        raise ValueError(
            f"even 1 colour takes {size(1):,} bytes as {image_format}, "
            f"more than the {max_bytes:,} allowed"
        )
    k = max_k if first_too_big is None else first_too_big - 1
    while k > 1 and too_big(k):  # sizes are nearly, not exactly, monotonic in k
        k -= 1
    if k < max_k:
        after = f"; k={k + 1} takes {size(k + 1):,} B"
    else:
        after = f"; {max_k} colours is the most a palette holds"
    reason = f"the most colours whose {image_format} fits in {max_bytes:,} B ({size(k):,} B{after})"
    return KChoice(k, "max_bytes", reason, search.result(k), search.curve)
