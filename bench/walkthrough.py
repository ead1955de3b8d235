"""The walkthrough's pipeline (scikit-learn KMeans on every pixel) against kpalette.

Runs both on the same photo, side by side in one process, and prints time and MSE
(of the image each would write, centres rounded to 0..255) for each k.

    python3 bench/walkthrough.py                    # string.jpg, k = 16
    python3 bench/walkthrough.py --ks 16 64 --image ../shared/images/wood.jpg
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import kpalette

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"


def written_mse(pixels, palette, labels) -> float:
    total = 0.0
    for start in range(0, len(pixels), 1 << 20):
        chunk = slice(start, start + (1 << 20))
        diff = palette[labels[chunk]].astype(np.float64) - pixels[chunk]
        total += float((diff * diff).sum())
    return total / pixels.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=str(SHARED / "string.jpg"))
    parser.add_argument("--ks", type=int, nargs="+", default=[16])
    args = parser.parse_args()
    from sklearn.cluster import KMeans

    image = kpalette.load_image(args.image)
    pixels = image.reshape(-1, image.shape[2])
    print(f"{Path(args.image).name}: {image.shape[1]}x{image.shape[0]}, {len(pixels):,} pixels")
    kpalette.quantize(image[:64, :64], 4)  # compile / load the kernels outside the timing
    print(
        f"{'k':>4} {'sklearn s':>10} {'sklearn MSE':>12} {'kpalette s':>11} "
        f"{'kpalette MSE':>13} {'speed-up':>9} {'MSE ratio':>10}"
    )
    for k in args.ks:
        start = time.perf_counter()
        model = KMeans(n_clusters=k, random_state=42).fit(pixels)
        sk_seconds = time.perf_counter() - start
        palette = np.clip(np.rint(model.cluster_centers_), 0, 255)
        sk_mse = written_mse(pixels, palette, model.labels_)
        start = time.perf_counter()
        result = kpalette.quantize(image, k)
        kp_seconds = time.perf_counter() - start
        kp_mse = result.mse
        print(
            f"{k:>4} {sk_seconds:>10.2f} {sk_mse:>12.2f} {kp_seconds:>11.2f} {kp_mse:>13.2f} "
            f"{sk_seconds / kp_seconds:>8.1f}x {kp_mse / sk_mse:>10.4f}"
        )


if __name__ == "__main__":
    main()
