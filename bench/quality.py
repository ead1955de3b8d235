"""``--quality`` and ``-k auto``: how close to the target, how small, how fast.

For each photo and each target (SSIMULACRA2 50, 70, 85, and ``-k auto``):

- the k chosen by ``kpalette.choose_k(quality=(0, T))`` and its score, by kpalette's
  SSIMULACRA2 and by the ``ssimulacra2`` package on the file as written;
- its file's bytes against the smallest file that ANY k in 2..256 reaches the
  target with (every k fitted and scored: the brute-force answer);
- its time (choose, encode) against a plain ``-k 16`` of the same photo (quantize,
  encode), both in this process, best of ``--repeat``, measured side by side.

    python3 bench/quality.py                     # 5 CQ100 photos and two large ones
    python3 bench/quality.py --photos A.png B.jpg --targets 60 80 --no-scan
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import kpalette
from kpalette.choose import AUTO_QUALITY

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEFAULT_PHOTOS = [
    SHARED / "cq100" / name
    for name in ("ball_caps.png", "calaveras.png", "chili_peppers.png", "adirondack_chairs.png")
] + [SHARED / "images" / name for name in ("chelsea.png", "retina.jpg", "wood.jpg", "string.jpg")]


def package_score(original: np.ndarray, written: Path) -> float:
    from ssimulacra2 import compute_ssimulacra2

    with tempfile.TemporaryDirectory() as folder:
        reference = Path(folder) / "ref.png"
        Image.fromarray(original[..., :3]).save(reference)
        return float(compute_ssimulacra2(str(reference), str(written)))


def best_time(function, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", nargs="+", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--targets", nargs="+", type=float, default=[50, 70, 85])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-scan", action="store_true", help="skip the brute-force scan")
    parser.add_argument(
        "--scan-max-pixels", type=int, default=600_000, help="scan only photos this small"
    )
    args = parser.parse_args(argv)
    print(
        "| photo | MP | target | k | score (kpalette / package) | bytes | smallest any k "
        "| size ratio | time / -k 16 |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for photo in args.photos:
        original = kpalette.load_image(photo)
        megapixels = original.shape[0] * original.shape[1] / 1e6

        def plain(photo=photo):
            kpalette.quantize(photo, 16).encode("PNG")

        plain_time = best_time(plain, args.repeat)
        scan = None
        if not args.no_scan and original.shape[0] * original.shape[1] <= args.scan_max_pixels:
            sweep = kpalette.KSweep(photo)
            scan = {k: (sweep.ssimulacra2(k), sweep.size(k)) for k in range(2, 257)}
        for target in [*args.targets, "auto"]:
            changes = {"k": "auto"} if target == "auto" else {"quality": (0, target)}
            aim = AUTO_QUALITY if target == "auto" else target
            holder = {}

            def chosen(changes=changes, holder=holder, photo=photo):
                holder["choice"] = kpalette.choose_k(photo, **changes)
                holder["data"] = holder["choice"].result.encode("PNG")

            try:
                seconds = best_time(chosen, args.repeat)
            except kpalette.QualityTooLow as exc:
                print(f"| {photo.name} | {megapixels:.2f} | {target} | - | {exc} | | | | |")
                continue
            choice, data = holder["choice"], holder["data"]
            with tempfile.TemporaryDirectory() as folder:
                written = Path(folder) / "out.png"
                written.write_bytes(data)
                theirs = package_score(original, written)
            # kpalette's score, as the search judged it (on the sample of a large photo)
            ours = choice.curve.get(choice.k, {}).get("ssimulacra2", float("nan"))
            smallest, ratio = "-", "-"
            if scan is not None:
                reaching = [size for score, size in scan.values() if score >= aim]
                if reaching:
                    smallest = f"{min(reaching):,}"
                    ratio = f"{len(data) / min(reaching):.3f}"
            print(
                f"| {photo.name} | {megapixels:.2f} | {target} | {choice.k} "
                f"| {ours:.1f} / {theirs:.1f} | {len(data):,} | {smallest} | {ratio} "
                f"| {seconds / plain_time:.2f} ({seconds:.2f} s / {plain_time:.2f} s) |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
