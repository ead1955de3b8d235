"""Fits of one histogram at many k, each alone or sharing one ``PreparedPoints``.

A sweep over k (``KSweep``: explore's k = 1..16, choose_k's searches, the web page's
slider) fits the same colours again and again. ``fit_histogram(prepared=...)`` keeps the
grids, search trees and tolerances every fit builds first. For each photo: the fits at
k = 1..16, and at 40 random k in 2..256, alone and shared, alternated, best of
``--rounds``; the palettes are checked to be identical.

    python3 bench/sweep.py
    python3 bench/sweep.py ../shared/images/string.jpg --rounds 5
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np

from kpalette import Options, fit_histogram, load_image
from kpalette.fit import prepare_points
from kpalette.histogram import image_histogram

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"


def timed(histogram, ks, prepared) -> tuple[float, list]:
    start = time.perf_counter()
    palettes = [fit_histogram(histogram, Options(k=k), prepared=prepared).palette for k in ks]
    return time.perf_counter() - start, palettes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "photos", nargs="*", default=[str(SHARED / n) for n in ("string.jpg", "retina.jpg")]
    )
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sweeps = {
        "k = 1..16": list(range(1, 17)),
        "40 random k": random.Random(0).sample(range(2, 257), 40),
    }
    print("| photo | colours | fits | alone (s) | shared (s) | shared / alone |")
    print("| --- | --- | --- | --- | --- | --- |")
    for photo in args.photos:
        image = load_image(photo)
        histogram = image_histogram(image.reshape(-1, image.shape[-1]))
        for name, ks in sweeps.items():
            best = {"alone": float("inf"), "shared": float("inf")}
            for _ in range(args.rounds):
                alone, first = timed(histogram, ks, None)
                shared, second = timed(histogram, ks, prepare_points(histogram, "rgb"))
                assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
                best["alone"] = min(best["alone"], alone)
                best["shared"] = min(best["shared"], shared)
            print(
                f"| {Path(photo).name} | {histogram.n_colors:,} | {name} | {best['alone']:.2f} "
                f"| {best['shared']:.2f} | {best['shared'] / best['alone']:.2f} |"
            )


if __name__ == "__main__":
    main()
