"""``kpalette.KMeans`` against ``sklearn.cluster.KMeans`` on a photo's pixels, side by side.

The walkthroughs' code, unchanged but for the import: ``plt.imread`` a photo, flatten
it to (N, 3) pixels, ``KMeans(n_clusters=k, random_state=42).fit(pixels)``. For each k:
the fit time of both (kpalette best of ``--repeat``, scikit-learn once), their inertia,
and the ratios. Then the walkthrough's ``cluster_image_grid`` (fit, then recolour every
pixel with its centre, for k = 2..10) with kpalette.

    python3 bench/dropin.py ../shared/images/string.jpg --ks 16
    python3 bench/dropin.py PHOTO --ks 16 --grid          # also the k = 2..10 grid
    python3 bench/dropin.py --quality ../shared/images/*.jpg ../shared/images/*.png

``--quality`` compares inertia instead, on each photo resized to about 77,000 pixels
(the walkthrough's size): kpalette's ``inertia_`` against the median of scikit-learn's
over ``random_state`` 0..4, for k from 1 to 256.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from kpalette import KMeans


def cluster_image(k, img):
    """The walkthrough's helper, as written there (with kpalette's KMeans)."""
    img_flat = img.reshape(img.shape[0] * img.shape[1], 3)
    kmeans = KMeans(n_clusters=k, random_state=42).fit(img_flat)
    new_img = img_flat.copy()
    for i in np.unique(kmeans.labels_):
        new_img[kmeans.labels_ == i, :] = kmeans.cluster_centers_[i]
    return new_img.reshape(img.shape)


QUALITY_KS = (1, 2, 3, 5, 8, 16, 32, 64, 128, 256)


def quality(photos: list[Path]) -> None:
    """The worst and median ratio of kpalette's inertia to scikit-learn's median, per photo."""
    from PIL import Image
    from sklearn.cluster import KMeans as SklearnKMeans

    print("| photo | k | kpalette / scikit-learn median |")
    print("| --- | --- | --- |")
    ratios = []
    for path in photos:
        image = Image.open(path).convert("RGB")
        scale = (77_000 / (image.width * image.height)) ** 0.5
        small = image.resize((round(image.width * scale), round(image.height * scale)))
        pixels = np.asarray(small).reshape(-1, 3)
        for k in QUALITY_KS:
            ours = KMeans(n_clusters=k, random_state=42).fit(pixels).inertia_
            theirs = [SklearnKMeans(k, random_state=s).fit(pixels).inertia_ for s in range(5)]
            ratio = ours / float(np.median(theirs)) if np.median(theirs) > 0 else 1.0
            ratios.append(ratio)
            print(f"| {path.name} | {k} | {ratio:.4f} |", flush=True)
    print(f"worst {max(ratios):.4f}, median {float(np.median(ratios)):.4f}, {len(ratios)} fits")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", type=Path, nargs="?")
    parser.add_argument("--quality", type=Path, nargs="+", metavar="PHOTO")
    parser.add_argument("--ks", type=int, nargs="+", default=[16])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--grid", action="store_true", help="time cluster_image for k = 2..10")
    parser.add_argument("--no-sklearn", action="store_true", help="kpalette only")
    args = parser.parse_args()
    if args.quality:
        quality(args.quality)
        return
    img = plt.imread(args.photo)
    pixels = img.reshape(-1, img.shape[-1])[:, :3]
    megapixels = len(pixels) / 1e6
    print(f"{args.photo.name}: {img.shape[1]}x{img.shape[0]} ({megapixels:.1f} MP), {img.dtype}")
    print("| k | kpalette s | scikit-learn s | speed-up | inertia kpalette / scikit-learn |")
    print("| --- | --- | --- | --- | --- |")
    for k in args.ks:
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            ours = KMeans(n_clusters=k, random_state=42).fit(pixels)
            times.append(time.perf_counter() - start)
        ours_s = min(times)
        if args.no_sklearn:
            print(f"| {k} | {ours_s:.3f} | | | |", flush=True)
            continue
        from sklearn.cluster import KMeans as SklearnKMeans

        start = time.perf_counter()
        theirs = SklearnKMeans(n_clusters=k, random_state=42).fit(pixels)
        theirs_s = time.perf_counter() - start
        print(
            f"| {k} | {ours_s:.3f} | {theirs_s:.2f} | {theirs_s / ours_s:.0f}x | "
            f"{ours.inertia_ / theirs.inertia_:.4f} |",
            flush=True,
        )
    if args.grid:
        start = time.perf_counter()
        for k in range(2, 11):
            cluster_image(k, img[..., :3])
        print(f"cluster_image for k = 2..10: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
