"""Peak memory of the CLI on string.jpg and on a synthetic 100 MP photo.

The large image is string.jpg tiled 4 x 3 (105 MP), each tile flipped or not and shifted
in colour by a few levels, so that it has many more distinct colours than the source;
it is written once as PNG into a temporary folder. Each run is a fresh
``kpalette compress`` process under ``/usr/bin/time -v``.

    python3 bench/memory.py
    python3 bench/memory.py --ks 16 256
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"


def synthetic_photo(path: Path, rows: int = 3, columns: int = 4, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    tile = np.asarray(Image.open(SHARED / "string.jpg").convert("RGB"))
    height, width = tile.shape[:2]
    big = np.empty((rows * height, columns * width, 3), dtype=np.uint8)
    for r in range(rows):
        for c in range(columns):
            shifted = tile.astype(np.int16) + rng.integers(-6, 7, size=3)
            if (r + c) % 2:
                shifted = shifted[:, ::-1]
            big[r * height : (r + 1) * height, c * width : (c + 1) * width] = np.clip(
                shifted, 0, 255
            )
    Image.fromarray(big).save(path, compress_level=1)
    return big.shape, len(np.unique(big.reshape(-1, 3)[::97], axis=0))


def peak_rss_mb(command: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    kilobytes = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    return kilobytes / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", nargs="+", type=int, default=[16, 256])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        big = folder / "big.png"
        shape, sampled = synthetic_photo(big)
        print(f"synthetic photo {shape[1]}x{shape[0]} = {shape[0] * shape[1] / 1e6:.0f} MP")
        print("| image | k | peak RSS MB | seconds |")
        print("| --- | --- | --- | --- |")
        for image in (SHARED / "string.jpg", big):
            for k in args.ks:
                out = folder / f"out-{k}.png"
                command = [sys.executable, "-m", "kpalette", "compress", str(image), "-k", str(k)]
                command += ["-o", str(out), "--force", "--max-pixels", "200000000"]
                rss, seconds = peak_rss_mb(command)
                print(f"| {image.name} | {k} | {rss:.0f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
