"""Process-level settings against a plain run: does each pay for itself?

Runs ``kpalette compress`` as fresh processes on a photo, alternating a plain run
with runs that set one environment variable each (the settings a command line could
make for itself before NumPy and the compiled loops load), best of N each:

- ``OPENBLAS_NUM_THREADS=1``: no busy-waiting BLAS threads beside the kernels' own;
- ``GOMP_SPINCOUNT=10000``: OpenMP's idle threads sleep sooner between loops;
- Python's cycle collector off for the run, and what is left frozen before exit.

A setting earns a place in the command line only if it saves more than 5% of the run.

    python3 bench/startup.py ../shared/images/retina.jpg -k 256 --repeat 11
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = {
    "plain": {},
    "OPENBLAS_NUM_THREADS=1": {"OPENBLAS_NUM_THREADS": "1"},
    "GOMP_SPINCOUNT=10000": {"GOMP_SPINCOUNT": "10000"},
    "no cycle collector": {"collector": "off"},
    "no cycle collector after the imports": {"collector": "after"},
}
#: The command line run with the cycle collector off and its objects frozen at exit:
#: from the start, or once the modules are imported.
NO_COLLECTOR = {
    "off": "import gc, sys; gc.disable(); from kpalette.cli import main; "
    "status = main(sys.argv[1:]); gc.freeze(); sys.exit(status)",
    "after": "import gc, sys; from kpalette.cli import main; gc.disable(); "
    "status = main(sys.argv[1:]); gc.freeze(); sys.exit(status)",
}


def run_once(photo: Path, k: int, extra: dict, out: Path) -> float:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("OPENBLAS_NUM_THREADS", "GOMP_SPINCOUNT", "MKL_NUM_THREADS")
    }
    extra = dict(extra)
    collector = extra.pop("collector", None)
    runner = ["-c", NO_COLLECTOR[collector]] if collector else ["-m", "kpalette"]
    env.update(extra)
    command = [sys.executable, *runner, "compress", str(photo), "-k", str(k)]
    start = time.perf_counter()
    subprocess.run([*command, "-o", str(out), "--force"], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("photo", type=Path)
    parser.add_argument("-k", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=11)
    args = parser.parse_args()
    times = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "out.png"
        run_once(args.photo, args.k, {}, out)  # warm the file cache
        for _ in range(args.repeat):
            for name, extra in VARIANTS.items():
                times[name].append(run_once(args.photo, args.k, extra, out))
    plain = min(times["plain"])
    print(f"{args.photo.name} at k = {args.k}, best of {args.repeat} fresh processes")
    print("| setting | best s | median s | saves |")
    print("| --- | --- | --- | --- |")
    for name, values in times.items():
        values.sort()
        saved = 1 - values[0] / plain
        print(f"| {name} | {values[0]:.3f} | {values[len(values) // 2]:.3f} | {saved:+.1%} |")


if __name__ == "__main__":
    main()
