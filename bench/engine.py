"""kpalette against pngquant and scikit-learn, side by side in one run.

For each photo (converted to PNG once) and each k it measures, in the same run:

- end to end, as fresh processes on the same PNG: ``kpalette compress in.png -k K -o out.png
  --tune T`` (``--tune``, default mse) against ``pngquant --nofs --speed 4 K`` (or, with
  ``--pngquant default``, ``pngquant K``) (best of ``--repeat`` runs each, the two tools
  alternated), and the MSE of both outputs against the input;
- the median MSE over ``random_state`` 0..4 of scikit-learn's ``KMeans`` fitted on the
  weighted colour histogram (``--sklearn``; slow at k = 256);
- in process: ``quantize()`` on the decoded array (after a warm-up call) against the time
  Pillow takes to decode the photo (best of 3, alternated);
- the CLI's peak RSS (from ``/usr/bin/time``, where present).

    python3 bench/engine.py                       # string.jpg, wood.jpg, retina.jpg
    python3 bench/engine.py --sklearn --ks 16 64 256
"""

from __future__ import annotations

import argparse
import compileall
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import kpalette

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"
DEFAULT_IMAGES = ["string.jpg", "wood.jpg", "retina.jpg"]  # the three largest photos


def run_timed(command: list[str]) -> tuple[float, int | None]:
    """Wall time of a fresh process, and its peak RSS in kB when /usr/bin/time exists."""
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    prefix = [timer, "-f", "%M"] if timer else []
    start = time.perf_counter()
    done = subprocess.run(prefix + command, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    rss = int(done.stderr.strip().splitlines()[-1]) if timer else None
    return seconds, rss


def best_time(action) -> float:
    """Seconds one call of ``action()`` takes."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def mse_of_file(original: np.ndarray, path: Path) -> float:
    written = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    return float(((written - original) ** 2).mean())


def sklearn_median_mse(image: np.ndarray, k: int) -> float:
    from sklearn.cluster import KMeans

    hist = kpalette.color_histogram(image.reshape(-1, 3))
    colors, counts = hist.colors.astype(np.float64), hist.counts.astype(np.float64)
    values = []
    for seed in range(5):
        model = KMeans(n_clusters=k, random_state=seed).fit(colors, sample_weight=counts)
        palette = np.clip(np.rint(model.cluster_centers_), 0, 255)
        diff = colors - palette[model.labels_]
        values.append(float(counts @ (diff * diff).sum(axis=1)) / (counts.sum() * 3))
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", default=DEFAULT_IMAGES)
    parser.add_argument("--ks", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sklearn", action="store_true", help="also the scikit-learn median")
    parser.add_argument(
        "--tune",
        choices=("eye", "mse"),
        default="mse",
        help="kpalette's tune (default mse: the MSE comparison; eye: the default's speed)",
    )
    parser.add_argument(
        "--pngquant",
        choices=("nofs", "default"),
        default="nofs",
        help="pngquant --nofs --speed 4 (default), or pngquant as it runs by default",
    )
    parser.add_argument(
        "--baseline",
        metavar="PYTHON",
        help="also time the kpalette installed for this interpreter (another version), "
        "alternated with the two others",
    )
    args = parser.parse_args()
    pngquant = shutil.which("pngquant")
    if pngquant is None:
        sys.exit("bench: pngquant is not installed (apt-get install pngquant)")
    kpalette_cli = [sys.executable, "-m", "kpalette"]
    work = Path(tempfile.mkdtemp(prefix="kpalette-bench-"))
    # The CLI runs from bytecode, as after ``pip install`` (which compiles it); an
    # editable checkout under PYTHONDONTWRITEBYTECODE would recompile every run.
    compileall.compile_dir(Path(kpalette.__file__).parent, quiet=1)
    kpalette.quantize(np.zeros((8, 8, 3), np.uint8) + 1, 1)
    print(
        "image k | kp s  pq s  ratio | kp MSE  pq MSE  kp/pq | sk median  kp/sk | "
        "quantize s  decode s  ratio | kp RSS MB | kp kB  pq kB"
    )
    for name in args.images:
        source = SHARED / name
        original = np.asarray(Image.open(source).convert("RGB"))
        png = work / (Path(name).stem + ".png")
        Image.fromarray(original).save(png, compress_level=1)
        kpalette.quantize(original, 16)  # warm-up on this image
        for k in args.ks:
            kp_out, pq_out = work / f"kp{k}.png", work / f"pq{k}.png"
            kp_command = kpalette_cli + [
                "compress",
                str(png),
                "-k",
                str(k),
                "-o",
                str(kp_out),
                "--tune",
                args.tune,
                "--force",
            ]
            pq_options = ["--nofs", "--speed", "4"] if args.pngquant == "nofs" else []
            pq_command = [pngquant, *pq_options, "--force", "-o", str(pq_out), str(k), str(png)]
            # (An older kpalette may not know --tune: its own default then.)
            base_command = (
                [args.baseline, "-m", "kpalette", "compress", str(png), "-k", str(k), "-o"]
                + [str(work / f"base{k}.png"), "--force"]
                if args.baseline
                else None
            )
            # Alternated, so that the tools see the same moments of a shared machine.
            kp_runs, pq_runs, base_runs = [], [], []
            for _ in range(args.repeat):
                kp_runs.append(run_timed(kp_command))
                pq_runs.append(run_timed(pq_command))
                if base_command:
                    base_runs.append(run_timed(base_command))
            kp_s, pq_s = min(r[0] for r in kp_runs), min(r[0] for r in pq_runs)
            kp_rss = max((r[1] or 0) for r in kp_runs) / 1024
            kp_mse, pq_mse = mse_of_file(original, kp_out), mse_of_file(original, pq_out)
            kp_kb, pq_kb = kp_out.stat().st_size / 1e3, pq_out.stat().st_size / 1e3
            decode_runs, quantize_runs = [], []
            for _ in range(3):  # alternated too
                decode_runs.append(best_time(lambda path=source: Image.open(path).convert("RGB")))
                quantize_runs.append(
                    best_time(
                        lambda image=original, k=k: kpalette.quantize(image, k, tune=args.tune)
                    )
                )
            decode_seconds, quantize_s = min(decode_runs), min(quantize_runs)
            sk = sklearn_median_mse(original, k) if args.sklearn else float("nan")
            print(
                f"{name} {k} | {kp_s:.3f} {pq_s:.3f} {kp_s / pq_s:.3f} | "
                f"{kp_mse:.2f} {pq_mse:.2f} {kp_mse / pq_mse:.3f} | {sk:.2f} {kp_mse / sk:.4f} | "
                f"{quantize_s:.2f} {decode_seconds:.3f} {quantize_s / decode_seconds:.1f} | "
                f"{kp_rss:.0f} | {kp_kb:.0f} {pq_kb:.0f}",
                flush=True,
            )
            if base_runs:
                base_s = min(r[0] for r in base_runs)
                print(
                    f"    baseline {base_s:.3f} s, ratio to pngquant {base_s / pq_s:.3f}",
                    flush=True,
                )
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
