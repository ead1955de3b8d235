"""``kpalette batch`` against pngquant over a folder of photos, side by side.

Makes a folder of ``--count`` photos of 0.3-2 MP (crops and resizes of the shared
photos), then, for each k: ``kpalette batch`` with ``--jobs 1`` (OMP_NUM_THREADS=1)
and ``--jobs 2``, and pngquant on the same files two at a time (``xargs -P 2``);
throughput in megapixels per second, the mean MSE of the outputs and their total bytes.

    python3 bench/batch.py --count 200 --ks 16 256
    python3 bench/batch.py --count 200 --ks 16 --cluster   # also a 2-worker LocalCluster

``--cluster`` adds ``kpalette batch --scheduler`` on a LocalCluster of two worker
processes of one thread each, on loopback. ``--s3`` adds ``kpalette batch
s3://bench/in/ -o s3://bench/out/ --jobs 2`` against moto's S3 server on loopback
(the photos uploaded first): the cost of the object-storage layer (listing, a GET and
a PUT a photo through s3fs) beside the same batch on local files; a real bucket adds
its network's latency and bandwidth.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"
PHOTOS = ["string.jpg", "wood.jpg", "retina.jpg", "hubble_deep_field.jpg", "china.jpg",
          "flower.jpg", "rocket.jpg", "astronaut.png", "chelsea.png", "coffee.png"]  # fmt: skip


def make_folder(folder: Path, count: int, seed: int = 0, size=(0.3, 2.0)) -> float:
    """``count`` PNG photos of ``size`` MP (a range); returns their megapixels."""
    rng = random.Random(seed)
    sources = [Image.open(SHARED / name).convert("RGB") for name in PHOTOS]
    total = 0
    for number in range(count):
        image = rng.choice(sources)
        megapixels = rng.uniform(*size)
        # Enlarged when the source is smaller than asked (the sizes are the point here).
        scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5 * 1.3
        scale = scale if size[0] > 1.0 else min(1.0, scale)
        resized = image.resize(
            (max(64, int(image.width * scale)), max(64, int(image.height * scale)))
        )
        width = min(resized.width, int((megapixels * 1e6) ** 0.5 * rng.uniform(0.8, 1.25)))
        height = min(resized.height, int(megapixels * 1e6 / max(width, 1)))
        left = rng.randrange(resized.width - width + 1)
        top = rng.randrange(resized.height - height + 1)
        crop = resized.crop((left, top, left + width, top + height))
        crop.save(folder / f"photo{number:04d}.png", compress_level=1)
        total += crop.width * crop.height
    return total / 1e6


def mse_and_bytes(folder: Path, outputs: Path, pattern: str) -> tuple[float, int]:
    errors, total = [], 0
    for source in sorted(folder.glob("photo????.png")):
        output = outputs / pattern.format(stem=source.stem)
        original = np.asarray(Image.open(source).convert("RGB"), dtype=np.float64)
        written = np.asarray(Image.open(output).convert("RGB"), dtype=np.float64)
        errors.append(float(((original - written) ** 2).mean()))
        total += output.stat().st_size
    return float(np.mean(errors)), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument(
        "--megapixels",
        type=float,
        nargs=2,
        default=[0.3, 2.0],
        metavar=("LOW", "HIGH"),
        help="the photos' sizes (default 0.3 2; 2 MP photos: --count 40 --megapixels 1.8 2.2)",
    )
    parser.add_argument("--ks", type=int, nargs="+", default=[16, 256])
    parser.add_argument("--cluster", action="store_true", help="also on a 2-worker LocalCluster")
    parser.add_argument("--s3", action="store_true", help="also on moto's S3 server (loopback)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of each tool, alternated; the best is shown"
    )
    args = parser.parse_args()
    cluster = None
    if args.cluster:
        from distributed import LocalCluster

        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            env={"OMP_NUM_THREADS": "1"},
        )
    s3_env = _start_s3() if args.s3 else None
    pngquant = shutil.which("pngquant")
    if pngquant is None:
        sys.exit("bench: pngquant is not installed (apt-get install pngquant)")
    work = Path(tempfile.mkdtemp(prefix="kpalette-batch-"))
    folder = work / "in"
    folder.mkdir()
    megapixels = make_folder(folder, args.count, size=tuple(args.megapixels))
    if s3_env is not None:
        _upload(folder, s3_env)
    print(f"{args.count} photos, {megapixels:.0f} MP in all, {os.cpu_count()} cores")
    print("| k | run | s | MP/s | mean MSE | total MB |")
    print("| --- | --- | --- | --- | --- | --- |")
    kpalette = [sys.executable, "-m", "kpalette", "batch", str(folder), "--quiet"]
    for k in args.ks:
        runs = {
            "kpalette --jobs 1 (1 thread)": (
                [*kpalette, "-o", str(work / f"j1-{k}"), "-k", str(k), "--jobs", "1"],
                {"OMP_NUM_THREADS": "1"}, work / f"j1-{k}", "{stem}-k" + str(k) + ".png",
            ),
            "kpalette --jobs 1": (
                [*kpalette, "-o", str(work / f"j1d-{k}"), "-k", str(k), "--jobs", "1"],
                {}, work / f"j1d-{k}", "{stem}-k" + str(k) + ".png",
            ),
            "kpalette --jobs 2": (
                [*kpalette, "-o", str(work / f"j2-{k}"), "-k", str(k), "--jobs", "2"],
                {}, work / f"j2-{k}", "{stem}-k" + str(k) + ".png",
            ),
            "pngquant, xargs -P 2": (
                ["sh", "-c", f"ls {folder}/photo????.png | xargs -P 2 -n 1 {pngquant} "
                 f"--nofs --speed 4 --force --ext -pq{k}.png {k}"],
                {}, folder, "{stem}-pq" + str(k) + ".png",
            ),
        }  # fmt: skip
        if cluster is not None:
            runs["kpalette, 2-worker LocalCluster"] = (
                [*kpalette, "-o", str(work / f"c-{k}"), "-k", str(k), "--scheduler",
                 cluster.scheduler_address],
                {}, work / f"c-{k}", "{stem}-k" + str(k) + ".png",
            )  # fmt: skip
        if s3_env is not None:
            runs["kpalette --jobs 2, s3:// to s3:// (moto)"] = (
                [sys.executable, "-m", "kpalette", "batch", "s3://bench/in/", "--quiet", "-o",
                 f"s3://bench/out-{k}/", "-k", str(k), "--jobs", "2", "--force"],
                s3_env, None, None,
            )  # fmt: skip
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(args.rounds):  # alternated, so that each sees the machine's swings
            for name, (command, env, outputs, _pattern) in runs.items():
                if outputs is not None and outputs != folder:
                    shutil.rmtree(outputs, ignore_errors=True)
                start = time.perf_counter()
                subprocess.run(command, env={**os.environ, **env}, check=False, capture_output=True)
                best[name] = min(best[name], time.perf_counter() - start)
        for name, (_command, _env, outputs, pattern) in runs.items():
            seconds = best[name]
            if outputs is None:  # in the bucket: the same bytes as the local run's
                print(f"| {k} | {name} | {seconds:.1f} | {megapixels / seconds:.1f} | - | - |")
                continue
            mse, total = mse_and_bytes(folder, outputs, pattern)
            print(
                f"| {k} | {name} | {seconds:.1f} | {megapixels / seconds:.1f} | {mse:.2f} | "
                f"{total / 1e6:.1f} |",
                flush=True,
            )
        for leftover in folder.glob("*-pq*.png"):
            leftover.unlink()
    shutil.rmtree(work)
    if cluster is not None:
        cluster.close()


def _start_s3() -> dict:
    """moto's S3 server on loopback (for the life of this process) and its environment."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line a request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(env)
    return env


def _upload(folder: Path, env: dict) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir("bench")
    for path in sorted(folder.iterdir()):
        fs.pipe_file(f"bench/in/{path.name}", path.read_bytes())


if __name__ == "__main__":
    main()
