"""Translucent images: kpalette against pngquant on RGBA photos, side by side in one run.

Three RGBA images, written once as PNG into a temporary folder:

- ``flow-rgba.png`` from ../shared/images, as it is (a render: 93% of it transparent);
- ``cutout``: string.jpg (8.7 MP) inside an oval with a 20-pixel feathered edge, as a
  photo cut out of its background (a third transparent, the edge translucent);
- ``veil``: string.jpg under a smooth alpha that sweeps 0..255 across the picture, the
  hard case: most pixels translucent, 1.9M distinct colours.

For each image and k: ``kpalette compress in.png -k K -o out.png`` and
``pngquant --nofs --speed 4 K`` as fresh processes (best of ``--repeat``, alternated),
their peak RSS, the MSE of both outputs against the input (colours premultiplied by
alpha, as kpalette.metrics scores them) and the file sizes.

    python3 bench/alpha.py
    python3 bench/alpha.py --images cutout --ks 16 256 --repeat 3
"""

from __future__ import annotations

import argparse
import compileall
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import kpalette
from engine import SHARED, run_timed
from kpalette.metrics import mean_squared_error


def string_photo() -> np.ndarray:
    return np.asarray(Image.open(SHARED / "string.jpg").convert("RGB"))


def cutout() -> np.ndarray:
    photo = string_photo()
    height, width = photo.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width]
    radius = np.hypot((rows - height / 2) / (0.45 * height), (columns - width / 2) / (0.45 * width))
    alpha = np.clip((1 - radius) * 0.45 * height / 20 * 255, 0, 255).astype(np.uint8)
    return np.dstack([photo, alpha])


def veil() -> np.ndarray:
    photo = string_photo()
    height, width = photo.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width]
    wave = 0.5 + 0.5 * np.sin(columns / 300.0) * np.cos(rows / 200.0)
    alpha = np.clip(255 * wave * 1.3 - 40, 0, 255).astype(np.uint8)
    return np.dstack([photo, alpha])


IMAGES = {
    "flow-rgba.png": lambda: np.asarray(Image.open(SHARED / "flow-rgba.png").convert("RGBA")),
    "cutout": cutout,
    "veil": veil,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", default=list(IMAGES), choices=list(IMAGES))
    parser.add_argument("--ks", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    pngquant = shutil.which("pngquant")
    if pngquant is None:
        sys.exit("bench: pngquant is not installed (apt-get install pngquant)")
    work = Path(tempfile.mkdtemp(prefix="kpalette-bench-"))
    compileall.compile_dir(Path(kpalette.__file__).parent, quiet=1)  # as after pip install
    print("image k | kp s  pq s  ratio | kp MB  pq MB | kp MSE  pq MSE  kp/pq | kp kB  pq kB")
    for name in args.images:
        original = IMAGES[name]()
        png = work / (Path(name).stem + ".png")
        Image.fromarray(original).save(png, compress_level=1)
        for k in args.ks:
            kp_out, pq_out = work / f"kp{k}.png", work / f"pq{k}.png"
            kp_command = [sys.executable, "-m", "kpalette", "compress", str(png), "-k", str(k)]
            kp_command += ["-o", str(kp_out), "--force"]
            pq_command = [pngquant, "--nofs", "--speed", "4", "--force", "-o", str(pq_out)]
            pq_command += [str(k), str(png)]
            kp_runs, pq_runs = [], []
            for _ in range(args.repeat):  # alternated: both see the same moments
                kp_runs.append(run_timed(kp_command))
                pq_runs.append(run_timed(pq_command))
            kp_s, pq_s = min(r[0] for r in kp_runs), min(r[0] for r in pq_runs)
            kp_mb = max((r[1] or 0) for r in kp_runs) / 1024
            pq_mb = max((r[1] or 0) for r in pq_runs) / 1024
            kp_mse, pq_mse = (
                mean_squared_error(original, np.asarray(Image.open(out).convert("RGBA")))
                for out in (kp_out, pq_out)
            )
            print(
                f"{name} {k} | {kp_s:.2f} {pq_s:.2f} {kp_s / pq_s:.2f} | {kp_mb:.0f} {pq_mb:.0f} | "
                f"{kp_mse:.2f} {pq_mse:.2f} {kp_mse / pq_mse:.3f} | "
                f"{kp_out.stat().st_size / 1e3:.0f} {pq_out.stat().st_size / 1e3:.0f}",
                flush=True,
            )
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
