"""``kpalette serve`` under load, on loopback: latency, correctness and the server's memory.

Starts ``kpalette serve`` in a process of its own, then:

1. **load**: ``--clients`` (50) concurrent ``POST /api/quantize`` of a 2 MP JPEG at
   k = 16; every answer is checked (status 200, a PNG of at most 16 colours whose size
   is the summary's); latency p50 / p95 / max.
2. **page**: the page's path for the same number of concurrent tabs: upload the photo,
   then its first preview.
3. **slider**: a 12 MP JPEG uploaded, then the first preview (upload to first preview,
   ``--repeats`` times, each a new upload), then ``--moves`` previews at random k in
   2..256 one after the other, as a slider moved one step at a time (refit-and-preview).

4. **soak** (``--soak``, alone): ``--rounds`` (5) rounds of ``--uploads`` (60) uploads of
   a 2.3 MP photo, ``--at-once`` (8) at a time, each previewed, downloaded full-size
   and forgotten, mixed with as many damaged uploads (cut, bit-flipped), each refused
   with a 4xx; the server's resident memory (VmRSS, its children counted) after each
   round. The goal: after round 5 at most 1.5x round 1 and under 600 MB.

The photos are resizes of a shared photo (``--photo``). The server's peak memory is
its VmHWM from /proc. The anchor, timed in the same run: ``pngquant --nofs --speed 4
16`` on the 12 MP photo as a PNG (best of 3), when pngquant is installed. Writes a JSON
record to bench/out/serve.json.

    python3 bench/serve.py
    python3 bench/serve.py --clients 50 --moves 100
    python3 bench/serve.py --soak
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from serving import descendants, running_server

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"
OUT = Path(__file__).resolve().parent / "out"


def photo_bytes(source: Path, megapixels: float) -> bytes:
    """``source`` resized to ``megapixels``, as a JPEG of quality 90."""
    image = Image.open(source).convert("RGB")
    scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
    resized = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    buffer = io.BytesIO()
    resized.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def peak_memory_mb(pid: int) -> float:
    """VmHWM of a process: its resident memory at its highest, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def resident_mb(pid: int) -> float:
    """VmRSS of a process and of all its descendants, in MB (what it holds now)."""
    total = 0.0
    for current in {pid} | descendants(pid):
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def damaged(photo: bytes, rng: random.Random) -> bytes:
    """The photo cut short or with a run of flipped bytes: a file a decoder refuses
    or decodes to garbage."""
    data = bytearray(photo)
    if rng.random() < 0.5:
        return bytes(data[: rng.randrange(100, len(data) // 2)])
    start = rng.randrange(20, 400)
    for i in range(start, start + 64):
        data[i] ^= 0xFF
    return bytes(data[: len(data) * 3 // 4])


async def soak(http, url: str, photo: bytes, pid: int, args) -> dict:
    """Rounds of uploads, previews, downloads and damaged uploads; RSS after each."""
    rng = random.Random(5)
    gate = asyncio.Semaphore(args.at_once)
    statuses: dict[int, int] = {}

    async def one(number: int) -> None:
        async with gate:
            files = {"image": (f"p{number}.jpg", photo, "image/jpeg")}
            created = await http.post(f"{url}/api/uploads", files=files)
            assert created.status_code == 201, created.text[:200]
            upload = created.json()["id"]
            k = rng.choice((8, 16, 64, 256))
            preview = await http.get(f"{url}/api/uploads/{upload}/preview", params={"k": k})
            got = await http.get(f"{url}/api/uploads/{upload}/download", params={"k": k})
            assert preview.status_code == got.status_code == 200, got.text[:200]
            await http.delete(f"{url}/api/uploads/{upload}")
            files = {"image": (f"bad{number}.jpg", damaged(photo, rng), "image/jpeg")}
            refused = await http.post(f"{url}/api/uploads", files=files)
            assert refused.status_code < 500, refused.text[:200]
            statuses[refused.status_code] = statuses.get(refused.status_code, 0) + 1
            if refused.status_code == 201:
                await http.delete(f"{url}/api/uploads/{refused.json()['id']}")

    rounds = []
    idle = resident_mb(pid)
    for number in range(args.rounds):
        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(args.uploads)))
        rounds.append(
            {"rss_mb": round(resident_mb(pid), 1), "seconds": round(time.perf_counter() - start, 1)}
        )
        print(f"round {number + 1}: {rounds[-1]}", file=sys.stderr, flush=True)
    first, last = rounds[0]["rss_mb"], rounds[-1]["rss_mb"]
    return {
        "idle_rss_mb": round(idle, 1),
        "rounds": rounds,
        "last_over_first": round(last / first, 3),
        "peak_rss_mb": round(peak_memory_mb(pid), 1),
        "damaged_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "goal_met": last <= 1.5 * first and last < 600,
    }


def percentiles(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1000
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "max_ms": round(float(ms.max()), 1),
    }


def check_png(data: bytes, summary: dict, k: int) -> None:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG", image.format
    colors = image.convert("RGB").getcolors(maxcolors=1 << 24)
    assert len(colors) <= k, len(colors)
    assert summary["output_bytes"] == len(data) and summary["colors"] <= k, summary


async def load(http, url: str, photo: bytes, clients: int) -> dict:
    """``clients`` concurrent uploads to /api/quantize, each checked."""

    async def one():
        start = time.perf_counter()
        files = {"image": ("photo.jpg", photo, "image/jpeg")}
        response = await http.post(f"{url}/api/quantize", files=files, data={"k": "16"})
        seconds = time.perf_counter() - start
        assert response.status_code == 200, (response.status_code, response.text[:200])
        check_png(response.content, json.loads(response.headers["X-Kpalette-Summary"]), 16)
        return seconds

    start = time.perf_counter()
    seconds = await asyncio.gather(*(one() for _ in range(clients)))
    return percentiles(seconds) | {"wall_s": round(time.perf_counter() - start, 2)}


async def page_path(http, url: str, photo: bytes, clients: int) -> dict:
    """``clients`` tabs at once: upload, then the first preview."""

    async def one():
        start = time.perf_counter()
        files = {"image": ("photo.jpg", photo, "image/jpeg")}
        created = await http.post(f"{url}/api/uploads", files=files)
        assert created.status_code == 201, created.text[:200]
        upload = created.json()["id"]
        preview = await http.get(f"{url}/api/uploads/{upload}/preview", params={"k": 16})
        assert preview.status_code == 200, preview.text[:200]
        numbers = json.loads(preview.headers["X-Kpalette-Summary"])
        assert numbers["k"] == 16 and len(numbers["palette"]) == 16
        await http.delete(f"{url}/api/uploads/{upload}")
        return time.perf_counter() - start

    start = time.perf_counter()
    seconds = await asyncio.gather(*(one() for _ in range(clients)))
    return percentiles(seconds) | {"wall_s": round(time.perf_counter() - start, 2)}


async def slider(http, url: str, photo: bytes, repeats: int, moves: int, side: int) -> dict:
    """Upload to first preview (each a new upload), then previews at random k."""
    firsts, upload = [], None
    for _ in range(repeats):
        if upload is not None:
            await http.delete(f"{url}/api/uploads/{upload}")
        start = time.perf_counter()
        files = {"image": ("photo.jpg", photo, "image/jpeg")}
        created = await http.post(f"{url}/api/uploads", files=files)
        upload = created.json()["id"]
        params = {"k": 16, "side": side}
        before, after = await asyncio.gather(
            http.get(f"{url}/api/uploads/{upload}/original", params={"side": side}),
            http.get(f"{url}/api/uploads/{upload}/preview", params=params),
        )
        assert before.status_code == after.status_code == 200
        firsts.append(time.perf_counter() - start)
    rng = random.Random(0)
    ks = [rng.randrange(2, 257) for _ in range(moves)]
    refits = []
    for k in ks:
        start = time.perf_counter()
        response = await http.get(
            f"{url}/api/uploads/{upload}/preview", params={"k": k, "side": side}
        )
        refits.append(time.perf_counter() - start)
        assert response.status_code == 200
        assert json.loads(response.headers["X-Kpalette-Summary"])["k"] == k
    return {
        "upload_to_first_preview": percentiles(firsts),
        "refit_and_preview": percentiles(refits),
    }


def pngquant_seconds(photo: bytes, tries: int = 3) -> float | None:
    """Best time of pngquant on the photo saved as a PNG (None without pngquant)."""
    import shutil
    import tempfile

    if shutil.which("pngquant") is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "photo.png"
        Image.open(io.BytesIO(photo)).save(source, compress_level=1)
        best = float("inf")
        for _ in range(tries):
            start = time.perf_counter()
            subprocess.run(
                ["pngquant", "--nofs", "--speed", "4", "--force", "16", "-o",
                 str(Path(folder) / "out.png"), str(source)],
                check=True,
            )  # fmt: skip
            best = min(best, time.perf_counter() - start)
    return best


async def run(args) -> dict:
    source = Path(args.photo)
    if args.soak:
        import httpx

        photo = photo_bytes(source, 2.3)
        with running_server() as (process, url):
            limits = httpx.Limits(max_connections=args.at_once + 4)
            async with httpx.AsyncClient(timeout=600, limits=limits) as http:
                record = await soak(http, url.rstrip("/"), photo, process.pid, args)
        return {"photo": source.name, "bytes": len(photo), "cores": os.cpu_count()} | record
    small, large = photo_bytes(source, 2.0), photo_bytes(source, 12.0)
    with running_server() as (process, url):
        return await measure(args, source, small, large, process, url.rstrip("/"))


async def measure(args, source, small, large, process, url) -> dict:
    import httpx

    record = {
        "photo": source.name,
        "bytes_2mp": len(small),
        "bytes_12mp": len(large),
        "cores": os.cpu_count(),
        "clients": args.clients,
    }
    anchor = pngquant_seconds(large)
    record["pngquant_12mp_k16_ms"] = None if anchor is None else round(anchor * 1000, 1)
    limits = httpx.Limits(max_connections=args.clients + 4)
    async with httpx.AsyncClient(timeout=600, limits=limits) as http:
        record["idle_memory_mb"] = round(peak_memory_mb(process.pid), 1)
        record["slider"] = await slider(http, url, large, args.repeats, args.moves, args.side)
        record["memory_after_slider_mb"] = round(peak_memory_mb(process.pid), 1)
        record["load"] = await load(http, url, small, args.clients)
        record["memory_after_load_mb"] = round(peak_memory_mb(process.pid), 1)
        record["page"] = await page_path(http, url, small, args.clients)
        record["peak_memory_mb"] = round(peak_memory_mb(process.pid), 1)
        assert (await http.get(f"{url}/healthz")).status_code == 200
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photo", default=str(SHARED / "string.jpg"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--moves", type=int, default=60)
    parser.add_argument("--side", type=int, default=1024, help="the preview's longer side")
    parser.add_argument("--soak", action="store_true", help="only the soak: memory over rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--uploads", type=int, default=60, help="uploads per soak round")
    parser.add_argument("--at-once", type=int, default=8)
    args = parser.parse_args()
    record = asyncio.run(run(args))
    OUT.mkdir(exist_ok=True)
    name = "serve-soak.json" if args.soak else "serve.json"
    (OUT / name).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
