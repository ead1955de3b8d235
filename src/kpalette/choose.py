"""Choosing the number of colours: the knee of the inertia curve, a target PSNR, a size.

Every choice is made by really fitting (and, for a size, really encoding) the image:
K-means results are not monotonic in k by law, only nearly so, so each answer is
checked at its neighbour (k - 1 reaches less; k + 1 does not fit) before it is given.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

from .exceptions import QualityTooLow
from .io import LOSSY_FORMATS
from .options import Options
from .result import QuantizedImage
from .sweep import (
    DEFAULT_KNEE_KS,
    KSweep,
    knee_point,
)
from .threads import limited

__all__ = [
    "AUTO_DELTA_E",
    "AUTO_QUALITY",
    "DEFAULT_KNEE_KS",
    "KChoice",
    "KSweep",
    "choose_k",
    "knee_point",
]

#: Largest number of colours a palette image holds.
MAX_K = 256
#: The mean CIEDE2000 difference ``k="auto"`` stays under. Differences under 1 are not
#: perceptible, 1 to 2 only on close observation, 2 to 10 at a glance (Sharma's
#: reading of the scale); 2 keeps a photo's accents (a lamp's glow, a small red
#: object) that the knee of the inertia curve merges away.
AUTO_DELTA_E = 2.0
#: The SSIMULACRA2 score ``k="auto"`` reaches with the fewest colours it can (``-k auto``
#: is ``--quality 70``, but takes 256 colours, not an error, when they score under):
#: 70 is "high quality" on its scale, about where a photo's palette version stops
#: showing bands and lost accents at 1:1 (90: hard to tell apart; 50: medium).
AUTO_QUALITY = 70.0


@dataclass(frozen=True)
class KChoice:
    """What :func:`choose_k` chose and why.

    Attributes
    ----------
    k : int
        The chosen number of colours.
    method : {"quality", "delta_e", "knee", "target_psnr", "max_bytes"}
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


def choose_k(
    image,
    *,
    options: Options | None = None,
    ks=None,
    image_format: str = "PNG",
    truecolor: bool = False,
    max_k: int = MAX_K,
    method: str = "quality",
    **changes,
) -> KChoice:
    """Choose the number of colours for an image.

    By ``options``: with ``target_psnr``, the fewest colours whose PSNR reaches it;
    with ``max_bytes``, the most colours (the best quality) whose file, really
    encoded in ``image_format``, fits in that many bytes; with ``quality``, the
    fewest whose SSIMULACRA2 score reaches it; otherwise (``k="auto"``) the fewest
    colours, from 2 to ``max_k``, whose SSIMULACRA2 score reaches
    :data:`AUTO_QUALITY` (``method="quality"``, the default; ``max_k`` when none
    does), or whose mean CIEDE2000 difference from the image is under
    :data:`AUTO_DELTA_E` (``method="delta_e"``), or the knee of the inertia curve
    over ``ks`` (``method="knee"``, :func:`knee_point`).

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
    method : {"quality", "delta_e", "knee"}, default="quality"
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
    if method not in ("quality", "delta_e", "knee"):
        raise ValueError(f"method must be 'quality', 'delta_e' or 'knee', got {method!r}")
    if options.max_bytes is not None and image_format in LOSSY_FORMATS:
        raise ValueError(
            f"max_bytes cannot be met by choosing colours for a lossy {image_format} output: "
            "its size does not fall with fewer colours; write .png, .gif, .webp or .tif"
        )
    with limited(options.threads):
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
        elif method == "delta_e":
            choice = _for_delta_e(AUTO_DELTA_E, search, max_k)
        else:
            choice = _for_quality(-math.inf, AUTO_QUALITY, search, max_k, auto=True)
    return dataclasses.replace(
        choice,
        result=choice.result.replace(
            choice={"method": choice.method, "k": choice.k, "reason": choice.reason},
            seconds=time.perf_counter() - start,  # the whole search, read included
        ),
    )


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


def _first_reaching(score, target: float, low: int, high: int, start: int = 32) -> int | None:
    """About the smallest k in low..high whose ``score(k)`` reaches ``target``,
    assuming scores rise with k: within :func:`_close_enough` of it (a few percent of
    k, a fraction of a point of the score; the file's size grows more slowly still).

    A secant search on log k: SSIMULACRA2 rises smoothly with log k, so each probe is
    put where the line through the last two probes meets the target (at most four
    times farther than the last probe when the answer is not yet bracketed; kept well
    inside a bracket, or halved, so that the bracket always narrows), the first at
    ``start``. A handful of probes find the answer where halving from the ends would
    take about eight."""
    seen: dict[int, float] = {}
    order: list[int] = []  # the probes, the latest last
    probe = min(high, max(low, start))
    while True:
        seen[probe] = score(probe)
        order.append(probe)
        below = [k for k in seen if seen[k] < target]
        above = [k for k in seen if seen[k] >= target]
        lo_k = max(below) if below else None
        hi_k = min(above) if above else None
        if hi_k is not None and (hi_k <= low or (lo_k is not None and _close_enough(lo_k, hi_k))):
            return hi_k
        if hi_k is None and max(seen) >= high:
            return None
        if lo_k is not None and hi_k is not None:
            # The line through the last two probes (not the bracket's ends: on a curve
            # that flattens, an end far below would hold every guess too high).
            a, b = order[-2], order[-1]
            if seen[a] == seen[b] or a == b:
                a, b = lo_k, hi_k
            guess = _secant((a, seen[a]), (b, seen[b]), target)
            span = hi_k - lo_k
            probe = min(hi_k - 1, max(lo_k + 1, math.ceil(guess)))
            if span > 4 and not (lo_k + span // 8 <= probe <= hi_k - span // 8):
                probe = (lo_k + hi_k) // 2
            continue
        # Not bracketed: extrapolate from the two probes nearest (one: a step of 2 or 4).
        side = sorted(below)[-2:] if hi_k is None else sorted(above)[:2]
        last = side[-1] if hi_k is None else side[0]
        if len(side) == 2 and seen[side[1]] > seen[side[0]]:
            guess = _secant((side[0], seen[side[0]]), (side[1], seen[side[1]]), target)
        else:
            far = abs(seen[last] - target) > 20
            guess = last * (4 if far else 2) if hi_k is None else last / (4 if far else 2)
        if hi_k is None:
            probe = min(high, max(last + 1, min(4 * last, math.ceil(guess * 1.05))))
        else:
            probe = max(low, min(last - 1, max(last // 4, math.floor(guess / 1.05))))


def _secant(a: tuple[int, float], b: tuple[int, float], target: float) -> float:
    """Where the line through two (k, score) points, on log k, reaches ``target``."""
    (k0, v0), (k1, v1) = a, b
    if v1 == v0:
        return math.sqrt(k0 * k1)
    share = (target - v0) / (v1 - v0)
    return math.exp(math.log(k0) + share * (math.log(k1) - math.log(k0)))


def _close_enough(below: int, above: int) -> bool:
    """Whether a bracket is narrow enough to stop: the k above at most 2% (and at
    least one) over the k below."""
    return above - below <= max(1, above // 50)


def _for_quality(
    low: float, high: float, search: KSweep, max_k: int, *, auto: bool = False
) -> KChoice:
    """The fewest colours whose SSIMULACRA2 score reaches ``high``; else the most
    searched, if they reach ``low``; else :class:`QualityTooLow`.

    Searched on quick fits (:meth:`KSweep.ssimulacra2_estimate`); the full fit at the
    k found, scored on the whole image, decides: fewer colours while it still reaches
    the target, more while it does not."""
    estimate = search.ssimulacra2_estimate
    found = _first_reaching(estimate, high, 2, max_k)
    k = max_k if found is None else found
    if search.sampled and found is not None:
        # The probes score a mosaic of the image, which reads above the whole image's
        # score by an offset that changes slowly with k: the whole score at k gives
        # it, and the probes search again for the target plus it (their earlier
        # probes reused), at most twice; a whole score over the target then stands
        # (each costs about 0.3 s a megapixel).
        for _ in range(2):
            whole = search.ssimulacra2(k)
            if high <= whole <= high + 1:
                break
            again = _first_reaching(estimate, high + estimate(k) - whole, 2, max_k, start=k)
            again = max_k if again is None else again
            if again == k:
                break
            k = again
    # The quick fits guide; the full fit at k decides: fewer colours while it still
    # reaches the target (it often scores a little over its quick fit), more while not.
    settled = search.sampled and high <= search.ssimulacra2(k) <= high + 1
    while found is not None and not settled and k > 2 and search.ssimulacra2(k) >= high:
        fewer = max(2, k - max(1, k // 32))
        if search.ssimulacra2(fewer) < high:
            break
        k = fewer
    while search.ssimulacra2(k) < high and k < max_k:
        k = min(max_k, k + max(1, k // 32))
    score = search.ssimulacra2(k)
    if score >= high:
        fuller = [
            (j, point["ssimulacra2"])
            for j, point in search.curve.items()
            if j < k and point.get("ssimulacra2", high) < high
        ]
        quick = [(j, v) for j, v in search.quality_estimates.items() if j < k and v < high]
        below = ""
        if fuller:
            j, v = max(fuller)
            below = f"; k={j} scores {v:.1f}"
        elif quick and not search.sampled:
            j, v = max(quick)
            below = f"; a quick fit at k={j} scores {v:.1f}"
        reason = f"the fewest colours reaching SSIMULACRA2 {high:g} ({score:.1f}{below})"
        if auto:
            reason += ", high quality (-k auto's target)"
    elif auto:
        reason = (
            f"{k} colours, the most searched: SSIMULACRA2 {score:.1f}, under the "
            f"{high:g} of -k auto (high quality; full colour would reach it)"
        )
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

    # The largest k that fits = one less than the smallest k that does not; at least
    # 2 colours (a 1-colour image is no picture), unless the image has only one.
    fewest = min(2, max_k)
    first_too_big = _first_true(too_big, fewest, max_k)
    if first_too_big == fewest:
        colours = "1 colour takes" if fewest == 1 else "2 colours take"
        raise ValueError(
            f"even {colours} {size(fewest):,} bytes as {image_format}, "
            f"more than the {max_bytes:,} allowed"
        )
    k = max_k if first_too_big is None else first_too_big - 1
    while k > fewest and too_big(k):  # sizes are nearly, not exactly, monotonic in k
        k -= 1
    if k < max_k:
        after = f"; k={k + 1} takes {size(k + 1):,} B"
    else:
        after = f"; {max_k} colours is the most a palette holds"
    reason = f"the most colours whose {image_format} fits in {max_bytes:,} B ({size(k):,} B{after})"
    return KChoice(k, "max_bytes", reason, search.result(k), search.curve)
