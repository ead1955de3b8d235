"""Dithering: kpalette's damped error diffusion against plain Floyd-Steinberg and pngquant.

For each photo (converted to PNG once) and each k, in the same run:

- ``kpalette compress in.png -k K --dither -o out.png`` and pngquant's default, which
  dithers (``pngquant --speed 4 K``), as fresh processes on the same PNG (best of
  ``--repeat`` runs each, alternated): the time ratio;
- for kpalette's output, for plain Floyd-Steinberg onto the same palette (every error
  passed on whole: ``_kernels.dithering.floyd_steinberg`` with level 1 and no threshold) and for
  pngquant's output: the MSE, the MSE seen from afar (after a Gaussian blur of
  ``--sigma`` pixels of the error: banding and streaks of wrong colour stay, the fine
  noise of dithering goes), and the file size (plain's encoded as kpalette encodes).

    python3 bench/dither.py
    python3 bench/dither.py --images string.jpg --ks 16 64 256 --repeat 3
"""

from __future__ import annotations

import argparse
import compileall
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

import kpalette
from kpalette._kernels import dithering
from kpalette.png import encode_palette_png

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"
DEFAULT_IMAGES = [
    "string.jpg",
    "wood.jpg",
    "retina.jpg",
    "hubble_deep_field.jpg",
    "astronaut.png",
    "chelsea.png",
]


def fresh_process_seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True)
    return time.perf_counter() - start


def errors(picture: np.ndarray, original: np.ndarray, sigma: float) -> tuple[float, float]:
    """MSE, and MSE of the error blurred by a Gaussian of ``sigma`` pixels."""
    difference = picture.astype(np.float64) - original
    from_afar = gaussian_filter(difference, sigma=(sigma, sigma, 0))
    return float((difference**2).mean()), float((from_afar**2).mean())


def plain_floyd_steinberg(image: np.ndarray, palette: np.ndarray) -> np.ndarray:
    indices = np.empty(image.shape[:2], dtype=np.uint8)
    dithering.floyd_steinberg(
        image,
        palette.astype(np.float64),
        np.arange(len(palette)),
        1.0,
        0.0,
        np.inf,
        1.0,
        np.zeros(image.shape[:2], np.uint8),
        0,
        indices,
    )
    return indices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", default=DEFAULT_IMAGES)
    parser.add_argument("--ks", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sigma", type=float, default=1.0)
    args = parser.parse_args()

    # The CLI runs from bytecode, as after ``pip install`` (which compiles it); an
    # editable checkout under PYTHONDONTWRITEBYTECODE would recompile every run.
    compileall.compile_dir(Path(kpalette.__file__).parent, quiet=1)
    print(
        "image k | kp s  pq s  ratio | MSE kp  plain  pq | from afar kp  plain  pq"
        " | kB kp  plain  pq"
    )
    totals = {"mse": [], "afar": [], "size": [], "time": []}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.images:
            source = Path(tmp) / (Path(name).stem + ".png")
            Image.open(SHARED / name).convert("RGB").save(source)
            original = kpalette.load_image(source)
            reference = original.astype(np.float64)
            for k in args.ks:
                kp_out, pq_out = Path(tmp) / "kp.png", Path(tmp) / "pq.png"
                kp_command = ["kpalette", "compress", str(source), "-k", str(k), "--dither"]
                kp_command += ["-o", str(kp_out), "--force"]
                pq_command = ["pngquant", "--speed", "4", str(k), "-f", "-o", str(pq_out)]
                pq_command.append(str(source))
                kp_times, pq_times = [], []
                for _ in range(args.repeat):
                    kp_times.append(fresh_process_seconds(kp_command))
                    pq_times.append(fresh_process_seconds(pq_command))
                kp_s, pq_s = min(kp_times), min(pq_times)

                written = Image.open(kp_out)
                palette = np.asarray(written.getpalette(), dtype=np.uint8).reshape(-1, 3)
                kp_picture = np.asarray(written.convert("RGB"))
                plain = plain_floyd_steinberg(original, palette)
                plain_picture = palette[plain]
                pq_picture = np.asarray(Image.open(pq_out).convert("RGB"))

                kp_mse, kp_afar = errors(kp_picture, reference, args.sigma)
                plain_mse, plain_afar = errors(plain_picture, reference, args.sigma)
                pq_mse, pq_afar = errors(pq_picture, reference, args.sigma)
                kp_kb = kp_out.stat().st_size / 1e3
                plain_kb = len(encode_palette_png(palette, plain)) / 1e3
                pq_kb = pq_out.stat().st_size / 1e3
                totals["mse"].append(kp_mse / pq_mse)
                totals["afar"].append(kp_afar / pq_afar)
                totals["size"].append(kp_kb / pq_kb)
                totals["time"].append(kp_s / pq_s)
                print(
                    f"{name} {k} | {kp_s:.2f} {pq_s:.2f} {kp_s / pq_s:.2f}"
                    f" | {kp_mse:.2f} {plain_mse:.2f} {pq_mse:.2f}"
                    f" | {kp_afar:.3f} {plain_afar:.3f} {pq_afar:.3f}"
                    f" | {kp_kb:.0f} {plain_kb:.0f} {pq_kb:.0f}",
                    flush=True,
                )
    print("kp / pq, geometric mean [range]:")
    for key, values in totals.items():
        values = np.array(values)
        mean = float(np.exp(np.log(values).mean()))
        print(f"  {key}: {mean:.3f} [{values.min():.2f} .. {values.max():.2f}]")


if __name__ == "__main__":
    main()
