"""The fuzz test's check on many more mutated files: outcomes counted by kind.

    python3 bench/fuzz.py --inputs 10000 --seed 1

Each input is a small PNG, JPEG, GIF, WebP, TIFF or BMP damaged by tests/fuzzing.py,
run through ``load_image``, ``quantize`` and ``kpalette compress`` (tests/test_fuzz.py's
``check_one``). An outcome is "read", "refused" (one ``kpalette: error:`` line, no output
left), or a violation: any other exception, a traceback, output left after a failure,
or a run over ``--timeout`` seconds (a hang). Violations are listed with their seeds.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzzing import FORMATS, mutate, seed_files  # noqa: E402
from test_fuzz import check_one  # noqa: E402


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=20)
    args = parser.parse_args()
    seeds = seed_files()
    outcomes = collections.Counter()
    by_kind = collections.defaultdict(collections.Counter)
    violations = []
    signal.signal(signal.SIGALRM, _alarm)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        for number in range(args.inputs):
            kind = FORMATS[number % len(FORMATS)]
            seed = args.seed * 1_000_003 + number
            data = mutate(seeds[kind], random.Random(seed))
            err = io.StringIO()
            signal.alarm(args.timeout)
            try:
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    outcome = check_one(data, folder)
                if "Traceback" in err.getvalue() or err.getvalue().count("kpalette: error:") > 1:
                    outcome = "violation: stderr"
            except Hang:
                outcome = "violation: hang"
            except BaseException as exc:  # noqa: BLE001 (every other outcome is a finding)
                outcome = f"violation: {type(exc).__name__}"
            finally:
                signal.alarm(0)
            outcomes[outcome] += 1
            by_kind[kind][outcome] += 1
            if outcome.startswith("violation"):
                violations.append((kind, seed, outcome))
    seconds = time.perf_counter() - start
    print(f"{args.inputs} inputs in {seconds:.0f} s (seed {args.seed})")
    print("| kind | " + " | ".join(sorted(outcomes)) + " |")
    print("| --- |" + " --- |" * len(outcomes))
    for kind in FORMATS:
        row = " | ".join(str(by_kind[kind][name]) for name in sorted(outcomes))
        print(f"| {kind} | {row} |")
    print("| all | " + " | ".join(str(outcomes[name]) for name in sorted(outcomes)) + " |")
    for kind, seed, outcome in violations[:20]:
        print(f"{outcome}: {kind}, seed {seed}")


if __name__ == "__main__":
    main()
