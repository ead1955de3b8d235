"""Perceptual colour spaces and dithering, measured on the shared photos.

For each photo and k: mean CIEDE2000 (and MSE) of the result fitted in RGB, CIELAB
and OKLab, and the ratio of each perceptual space's CIEDE2000 to RGB's. Then the time
of Floyd-Steinberg dithering onto a fitted palette (in process, after a warm-up)
beside the time Pillow takes to decode the same photo, in the same run.

    python3 bench/colorspace.py
    python3 bench/colorspace.py --images string.jpg --ks 16 64 256
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

import kpalette
from kpalette.dither import dither

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"
DEFAULT_IMAGES = ["string.jpg", "wood.jpg", "retina.jpg", "hubble_deep_field.jpg"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", default=DEFAULT_IMAGES)
    parser.add_argument("--ks", nargs="+", type=int, default=[16, 64, 256])
    args = parser.parse_args()

    print(
        "| image | k | dE rgb | dE lab | dE oklab | lab/rgb | oklab/rgb "
        "| MSE rgb | MSE lab | MSE oklab |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.images:
        image = kpalette.load_image(SHARED / name)
        for k in args.ks:
            results = {
                space: kpalette.quantize(image, k, color_space=space)
                for space in ("rgb", "lab", "oklab")
            }
            de = {space: r.delta_e for space, r in results.items()}
            print(
                f"| {name} {image.shape[1]}x{image.shape[0]} | {k} | {de['rgb']:.3f} | "
                f"{de['lab']:.3f} | {de['oklab']:.3f} | {de['lab'] / de['rgb']:.3f} | "
                f"{de['oklab'] / de['rgb']:.3f} | "
                + " | ".join(f"{results[s].mse:.2f}" for s in ("rgb", "lab", "oklab"))
                + " |",
                flush=True,
            )

    print("\n| image | k | decode s | dither s | dither / decode |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.images:
        start = time.perf_counter()
        with Image.open(SHARED / name) as img:
            np.asarray(img.convert("RGB"))
        decode = time.perf_counter() - start
        image = kpalette.load_image(SHARED / name)
        for k in args.ks:
            palette = kpalette.quantize(image, k).palette
            dither(image[:8, :8], palette)  # warm-up: load the compiled kernel
            start = time.perf_counter()
            dither(image, palette)
            seconds = time.perf_counter() - start
            print(f"| {name} | {k} | {decode:.3f} | {seconds:.3f} | {seconds / decode:.2f} |")


if __name__ == "__main__":
    main()
