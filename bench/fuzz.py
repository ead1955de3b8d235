"""The fuzz test's check on many more mutated files: outcomes counted by kind.

    python3 bench/fuzz.py --inputs 10000 --seed 1

Each input is a small PNG, JPEG, GIF, WebP, TIFF or BMP damaged by tests/fuzzing.py,
run through ``load_image``, ``quantize`` and ``kpalette compress`` (tests/test_fuzz.py's
``check_one``). An outcome is "read", "refused" (one ``kpalette: error:`` line, no output
left), or a violation: any other exception, a traceback, output left after a failure,
or a run over ``--timeout`` seconds (a hang). Violations are listed with their seeds.

``--web`` posts each input instead to a ``kpalette serve`` process on loopback, as the
page does (``POST /api/uploads``, then every route of the upload): "read" when it is
kept and every route answers, "refused" when the upload gets a JSON error with a 4xx
status; a 5xx, an error that is not JSON, a timeout or a server that stops answering
is a violation.

    python3 bench/fuzz.py --web --inputs 2000
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

from fuzzing import FORMATS, mutate, seed_files
from serving import answers, running_server
from test_fuzz import check_one


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


WEB_ROUTES = (
    ("preview", {"k": 5, "side": 64}),
    ("preview", {"k": 3, "dither": 1, "side": 64}),
    ("original", {"side": 64}),
    ("summary", {"k": 4, "format": "gif"}),
    ("download", {"k": 6, "format": "webp"}),
    ("palette", {"k": 4, "format": "css"}),
    ("cloud", {"k": 4}),
    ("choose", {"k": "auto"}),
)


def web_check(http, url: str, data: bytes) -> str:
    """One input through the page's path on a server: "read" or "refused", else raises."""
    created = http.post(f"{url}/api/uploads", files={"image": ("x", data, "image/png")})
    if created.status_code != 201:
        assert 400 <= created.status_code < 500, created.status_code
        assert set(created.json()) == {"error"}, created.text[:200]
        return "refused"
    base = f"{url}/api/uploads/{created.json()['id']}"
    for route, params in WEB_ROUTES:
        answer = http.get(f"{base}/{route}", params=params)
        assert answer.status_code < 500, (route, answer.status_code)
        if answer.status_code >= 400:
            assert set(answer.json()) == {"error"}, (route, answer.text[:200])
    http.delete(base)
    return "read"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=20)
    parser.add_argument("--web", action="store_true", help="through a kpalette serve process")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        http = url = None
        if args.web:
            import httpx

            url = stack.enter_context(running_server())[1].rstrip("/")
            http = stack.enter_context(httpx.Client(timeout=args.timeout))
        run(args, http, url)


def run(args, http, url) -> None:
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
                if args.web:
                    outcome = web_check(http, url, data)
                else:
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
    if args.web:
        print(f"the server still answers: {answers(url + '/')}")
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
