"""``KSweep``: one image fitted at many numbers of colours, from one histogram.

The image is read and its colours counted once; each k is fitted at most once and
kept, with what was measured there (the curve). :func:`kpalette.choose_k`, the plots,
the report and the web page share one sweep; it is safe across threads."""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np

from . import metrics
from .colorspace import from_space
from .exceptions import KPaletteWarning
from .fit import Fit, fit_histogram, nearest_entries, prepare_points
from .kmeans import grid_means, kmeans_weighted
from .mapping import from_fit
from .options import Options
from .prepare import PreparedImage, prepare
from .progress import status
from .result import QuantizedImage
from .ssimulacra2 import Reference, sample, ssimulacra2
from .threads import limited

__all__ = ["DEFAULT_KNEE_KS", "KSweep", "knee_point"]


#: Numbers of colours the knee is looked for among (the walkthrough looks at 2..10).
DEFAULT_KNEE_KS = tuple(range(1, 17))


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
        self._reference: Reference | None = None  # the sample of the image, scored against
        self._sample: PreparedImage | None = None  # the same pixels, mapped by the probes
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
            with warnings.catch_warnings(), limited(self.options.threads):
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
            with limited(self.options.threads):
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
        """SSIMULACRA2 score of the result at k against the image (0-100), of the whole
        image (the ``ssimulacra2`` package's score of the file), once per k."""
        point = self._curve.get(k, {})
        if "ssimulacra2" not in point:
            result = self.result(k)
            if self.sampled:
                score = ssimulacra2(self.prepared.original, result.to_array())
            else:  # small: the sample is the image, and its reference is kept
                score = self._score(result)
            self._record(k, ssimulacra2=score)
        return self._curve[k]["ssimulacra2"]

    @property
    def sampled(self) -> bool:
        """Whether the image is larger than the sample the quality probes score."""
        return self._sampled() is not self.prepared

    def ssimulacra2_estimate(self, k: int) -> float:
        """SSIMULACRA2 at k of a quick fit (one k-means++ start, the full fit's other
        settings; the whole image's colours fitted, only the sampled pixels mapped and
        scored): close to :meth:`ssimulacra2` on images up to the sample's size, and
        off by an offset that changes slowly with k on larger ones (scores of a
        mosaic of tiles read above the whole image's), in a fraction of its time;
        what the search for a quality target probes with."""
        if k not in self._quality_estimates:
            options = self.options_at(k).replace(n_init=1)
            fit = fit_histogram(self.prepared.histogram, options, prepared=self._points)
            status(f"trying k={k}")
            self._quality_estimates[k] = self._score(from_fit(fit, self._sampled(), options))
        return self._quality_estimates[k]

    @property
    def quality_estimates(self) -> dict[int, float]:
        """k -> :meth:`ssimulacra2_estimate` for every k probed so far."""
        return dict(self._quality_estimates)

    def _sampled(self) -> PreparedImage:
        """The image's :func:`kpalette.ssimulacra2.sample`, prepared (itself when
        small): the pixels a probe maps, and the reference of every score."""
        if self._sample is None:
            original = self.prepared.original
            mosaic = sample(original)
            self._sample = self.prepared if mosaic is original else prepare(mosaic, self.options)
            self._reference = Reference(mosaic)
        return self._sample

    def _score(self, result: QuantizedImage) -> float:
        """SSIMULACRA2 of a result (of the whole image, or of its sample) on the sample."""
        self._sampled()
        assert self._reference is not None  # made with the sample
        return self._reference.score(sample(result.to_array()))

    def size(self, k: int, image_format: str = "PNG", truecolor: bool = False) -> int:
        """Bytes of the file at k in ``image_format``, really encoded (once per format)."""
        key = self.size_key(image_format, truecolor)
        if key not in self._curve.get(k, {}):
            result = self.result(k)
            with limited(self.options.threads):
                if key == "bytes":
                    n_bytes = result.png_bytes  # cached on the result, shared with its report
                else:
                    n_bytes = len(result.encode(image_format, truecolor=truecolor))
            self._record(k, **{key: n_bytes})
        return self._curve[k][key]
