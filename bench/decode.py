"""Reading PNG inputs: kpalette.decode against libspng and Pillow, and the decode hidden
behind NumPy's import in a fresh process, side by side in one run.

The photos (``string.jpg``, ``wood.jpg``, ``retina.jpg``; with ``--large`` also the
105 MP synthetic photo of bench/memory.py) are written once as 8-bit RGB PNGs into a
temporary folder. For each, best of ``--repeat``, alternated:

- in process: ``kpalette.decode.read``, ``pyspng.load`` (libspng, when installed) and
  Pillow's ``Image.open`` + ``np.asarray``;
- fresh processes, until the pixels are a NumPy array: importing NumPy and kpalette
  and then ``load_image`` (serial), against ``decode.reading_ahead`` started first,
  as the command line does (overlapped).

    python3 bench/decode.py
    python3 bench/decode.py --large --repeat 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from engine import SHARED
from kpalette import decode

PHOTOS = ("string.jpg", "wood.jpg", "retina.jpg")

SERIAL = (
    "import time; start = time.perf_counter(); import numpy, kpalette.result; "
    "from kpalette.io import load_image; load_image({path!r}, max_pixels=None); "
    "print(time.perf_counter() - start)"
)
OVERLAPPED = (
    "import time; start = time.perf_counter(); from kpalette import decode; "
    "ahead = decode.reading_ahead({path!r}, None); ahead.__enter__(); "
    "import numpy, kpalette.result; from kpalette.io import load_image; "
    "load_image({path!r}, max_pixels=None); print(time.perf_counter() - start)"
)


def best_of(repeat: int, function) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def fresh_process(code: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    return float(done.stdout.strip())


def pillow_decode(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--large", action="store_true", help="also the 105 MP photo")
    args = parser.parse_args()
    Image.MAX_IMAGE_PIXELS = None  # the 105 MP photo is no bomb
    try:
        import pyspng
    except ImportError:
        pyspng = None
    print(
        "image | kp s  libspng s  Pillow s | kp/libspng  kp/Pillow "
        "| fresh process: serial s  overlapped s  saved ms"
    )
    with tempfile.TemporaryDirectory() as folder:
        inputs = []
        for name in PHOTOS:
            path = Path(folder) / f"{Path(name).stem}.png"
            Image.open(SHARED / name).convert("RGB").save(path)
            inputs.append((name, path))
        if args.large:
            from memory import synthetic_photo

            path = Path(folder) / "big.png"
            synthetic_photo(path)
            inputs.append(("synthetic 105 MP", path))
        for name, path in inputs:
            data = path.read_bytes()
            decoded = decode.read(path, None)
            assert isinstance(decoded, decode.DecodedPNG), "not kpalette's own PNG path"
            ours = np.frombuffer(decoded.pixels, np.uint8).reshape(decoded.height, -1, 3)
            assert np.array_equal(ours, pillow_decode(path)), "decodes differ"
            del decoded, ours
            times = {"kp": float("inf"), "spng": float("inf"), "pil": float("inf")}
            for _ in range(args.repeat):  # alternated
                times["kp"] = min(times["kp"], best_of(1, lambda p=path: decode.read(p, None)))
                if pyspng is not None:
                    times["spng"] = min(times["spng"], best_of(1, lambda d=data: pyspng.load(d)))
                times["pil"] = min(times["pil"], best_of(1, lambda p=path: pillow_decode(p)))
            if pyspng is None:
                times["spng"] = float("nan")
            serial = overlapped = float("inf")
            for _ in range(args.repeat):
                serial = min(serial, fresh_process(SERIAL.format(path=str(path))))
                overlapped = min(overlapped, fresh_process(OVERLAPPED.format(path=str(path))))
            print(
                f"{name} | {times['kp']:.3f} {times['spng']:.3f} {times['pil']:.3f} "
                f"| {times['kp'] / times['spng']:.2f} {times['kp'] / times['pil']:.2f} "
                f"| {serial:.3f} {overlapped:.3f} {1000 * (serial - overlapped):.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
