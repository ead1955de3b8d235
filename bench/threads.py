"""The compiled loops' threads on an idle and on a busy machine: the default against one thread.

For each photo size (0.4 MP and 9 MP, resizes of ``--photo``) and k (16, 256), a fresh
process times ``kpalette.quantize`` (the image already decoded: the engine only),
median of ``--repeats``; the default and ``OMP_NUM_THREADS=1`` alternate, each in its
own process. Two modes:

- **idle**: nothing else running (as far as this bench knows);
- **loaded**: ``--busy`` (default 2) CPU-bound processes started beside it, stopped
  after (a shared CI machine, a server doing other work).

The goals: the default at most 1.1x one thread when idle and 1.2x when loaded,
and on an idle machine a 9 MP photo at k = 256 at least 1.3x faster than one thread.
Writes bench/out/threads.json.

    python3 bench/threads.py
    python3 bench/threads.py --modes loaded --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"
OUT = Path(__file__).resolve().parent / "out"

CHILD = """
import json, sys, time
import numpy as np
from PIL import Image
import kpalette
from kpalette._kernels.threads import max_threads
pixels = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
k, repeats = int(sys.argv[2]), int(sys.argv[3])
kpalette.quantize(pixels[:64, :64], 4)  # warm: imports, the OpenMP team
seconds = []
for _ in range(repeats):
    start = time.perf_counter()
    kpalette.quantize(pixels, k)
    seconds.append(time.perf_counter() - start)
print(json.dumps({"seconds": seconds, "threads": max_threads()}))
"""


def resized(source: Path, megapixels: float, folder: Path) -> Path:
    image = Image.open(source).convert("RGB")
    scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
    size = (round(image.width * scale), round(image.height * scale))
    path = folder / f"photo-{megapixels:g}mp.png"
    image.resize(size, Image.LANCZOS).save(path, compress_level=1)
    return path


def timed(path: Path, k: int, repeats: int, one_thread: bool, extra_env=()) -> dict:
    env = dict(os.environ)
    env.update(extra_env)
    if one_thread:
        env["OMP_NUM_THREADS"] = "1"
    else:
        env.pop("OMP_NUM_THREADS", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(k), str(repeats)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    record = json.loads(done.stdout.splitlines()[-1])
    record["median_s"] = statistics.median(record["seconds"])
    return record


def busy(count: int) -> list[subprocess.Popen]:
    """``count`` processes that keep one core busy each until stopped."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def measure(photos: dict, ks, repeats: int, rounds: int, extra_env=()) -> list[dict]:
    rows = []
    for name, path in photos.items():
        for k in ks:
            default, single = [], []
            for _ in range(rounds):  # alternated, so that drift hits both
                default.append(timed(path, k, repeats, one_thread=False, extra_env=extra_env))
                single.append(timed(path, k, repeats, one_thread=True))
            d = statistics.median(r["median_s"] for r in default)
            s = statistics.median(r["median_s"] for r in single)
            rows.append(
                {
                    "photo": name,
                    "k": k,
                    "default_s": round(d, 4),
                    "one_thread_s": round(s, 4),
                    "default_over_one": round(d / s, 3),
                    "threads": default[0]["threads"],
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photo", default=str(SHARED / "string.jpg"))
    parser.add_argument("--modes", default="idle,loaded")
    parser.add_argument("--busy", type=int, default=2, help="busy processes when loaded")
    parser.add_argument("--repeats", type=int, default=3, help="runs per process")
    parser.add_argument("--rounds", type=int, default=3, help="processes per setting")
    parser.add_argument("--ks", default="16,256")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set for the default's processes only (to try a setting against one thread)",
    )
    args = parser.parse_args()
    extra_env = dict(item.split("=", 1) for item in args.env)
    ks = [int(k) for k in args.ks.split(",")]
    record: dict = {
        "cpus": len(os.sched_getaffinity(0)),
        "photo": Path(args.photo).name,
        "env": extra_env,
    }
    with tempfile.TemporaryDirectory() as folder:
        photos = {f"{mp:g} MP": resized(Path(args.photo), mp, Path(folder)) for mp in (0.4, 9.0)}
        for mode in args.modes.split(","):
            burners = busy(args.busy) if mode == "loaded" else []
            try:
                time.sleep(0.5 if burners else 0)
                record[mode] = measure(photos, ks, args.repeats, args.rounds, extra_env)
            finally:
                for burner in burners:
                    burner.kill()
                    burner.wait()
    OUT.mkdir(exist_ok=True)
    (OUT / "threads.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
