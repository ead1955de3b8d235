"""Animations: quality and bytes of one-palette GIFs against gifsicle, ImageMagick
and gifski, measured side by side in one run.

Each animation is a 26-frame pan (a 480x320 window moving 11 pixels a frame, 80 ms
a frame, looped) over a photo. Every tool gets the same frames:

- ``kpalette``: ``kpalette compress pan.png -k 64 -o out.gif`` (the APNG of the
  frames, lossless), with the defaults for animations (dithering 0.75), and the same
  at ``--dither 0``; a curve over k = 32, 64, 128, 255 too;
- ``gifsicle``: ``gifsicle -O3 --colors 64`` of ImageMagick's plain GIF of the frames
  (each frame's own 256 colours), and the same with ``--dither``;
- ``imagemagick``: ``convert -delay 8 FRAMES -colors 64 -layers optimize out.gif``,
  and with ``+dither``;
- ``gifski``: ``gifski --fps 12.5 --quality Q`` for Q = 50, 70, 80, 90, 100 (the
  npm package ``gifski`` ships the Linux binary).

Every output is decoded by Pillow frame by frame (as a viewer composites them) and
judged against the frame given with SSIMULACRA2 (the ``ssimulacra2`` package); the
score of a file is the mean over frames. The goal (docs/benchmarks.md, "Animations"):
kpalette at k = 64 at least 2 points above the best 64-colour gifsicle or ImageMagick
file, at no more than 1.1x the bytes of the smallest file of any peer (gifski's
qualities included) that scores at least as well.

    python3 bench/animation.py                 # 4 photos of ../shared/cq100
    python3 bench/animation.py --photos ../shared/cq100/*.png --limit 8 --gifski PATH
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
DEFAULT_PHOTOS = ("ball_caps.png", "chili_peppers.png", "coloring_pencils.png", "calaveras.png")
FRAMES, WIDTH, HEIGHT, STEP, DELAY_MS = 26, 480, 320, 11, 80
GIFSKI_QUALITIES = (50, 70, 80, 90, 100)
KPALETTE_KS = (32, 64, 128, 255)


def pan(photo: Path) -> np.ndarray:
    """(26, 320, 480, 3): the window moving right over the photo (scaled to fit)."""
    img = Image.open(photo).convert("RGB")
    need = WIDTH + STEP * (FRAMES - 1)
    if img.width < need or img.height < HEIGHT:
        scale = max(need / img.width, HEIGHT / img.height)
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
    pixels = np.asarray(img)
    top = (pixels.shape[0] - HEIGHT) // 2
    return np.stack(
        [pixels[top : top + HEIGHT, i * STEP : i * STEP + WIDTH] for i in range(FRAMES)]
    )


def decoded_frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as img:
        out = []
        for number in range(img.n_frames):
            img.seek(number)
            out.append(np.asarray(img.convert("RGB")))
        return out


def score(frames: np.ndarray, path: Path, work: Path) -> float:
    """Mean SSIMULACRA2 over frames (the ``ssimulacra2`` package)."""
    from ssimulacra2 import compute_ssimulacra2

    shown = decoded_frames(path)
    if len(shown) != len(frames):
        raise RuntimeError(f"{path.name} has {len(shown)} frames, not {len(frames)}")
    scores = []
    for number, (given, got) in enumerate(zip(frames, shown, strict=True)):
        a, b = work / f"ref{number}.png", work / f"out{number}.png"
        Image.fromarray(given).save(a)
        Image.fromarray(got).save(b)
        scores.append(float(compute_ssimulacra2(str(a), str(b))))
    return float(np.mean(scores))


def run(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def one_animation(photo: Path, gifski: str | None, work: Path) -> dict:
    frames = pan(photo)
    frame_files = []
    for number, frame in enumerate(frames):
        path = work / f"frame{number:03d}.png"
        Image.fromarray(frame).save(path)
        frame_files.append(str(path))
    source = work / "pan.png"
    images = [Image.fromarray(f) for f in frames]
    images[0].save(source, save_all=True, append_images=images[1:], duration=DELAY_MS, loop=0)
    plain = work / "plain.gif"
    run(["convert", "-delay", str(DELAY_MS // 10), *frame_files, "-loop", "0", str(plain)])
    outputs: dict[str, tuple[list[str], bool]] = {}  # name -> (command, counts as a 64-colour peer)
    kp = [sys.executable, "-m", "kpalette", "compress", str(source), "--quiet", "--force"]
    outputs["kpalette k=64"] = ([*kp, "-k", "64", "-o", "{out}"], False)
    outputs["kpalette k=64 --dither 0"] = ([*kp, "-k", "64", "--dither", "0", "-o", "{out}"], False)
    for k in KPALETTE_KS:
        if k != 64:
            outputs[f"kpalette k={k}"] = ([*kp, "-k", str(k), "-o", "{out}"], False)
    outputs["gifsicle -O3 --colors 64"] = (
        ["gifsicle", "-O3", "--colors", "64", str(plain), "-o", "{out}"],
        True,
    )
    outputs["gifsicle -O3 --colors 64 --dither"] = (
        ["gifsicle", "-O3", "--colors", "64", "--dither", str(plain), "-o", "{out}"],
        True,
    )
    delay = ["-delay", str(DELAY_MS // 10)]
    outputs["imagemagick -colors 64"] = (
        ["convert", *delay, *frame_files, "-colors", "64", "-layers", "optimize", "{out}"],
        True,
    )
    outputs["imagemagick -colors 64 +dither"] = (
        [
            "convert",
            *delay,
            *frame_files,
            "+dither",
            "-colors",
            "64",
            "-layers",
            "optimize",
            "{out}",
        ],
        True,
    )
    if gifski:
        for quality in GIFSKI_QUALITIES:
            outputs[f"gifski --quality {quality}"] = (
                [
                    gifski,
                    "--fps",
                    str(1000 / DELAY_MS),
                    "--quality",
                    str(quality),
                    "--quiet",
                    "-o",
                    "{out}",
                    *frame_files,
                ],
                False,
            )
    rows = {}
    for number, (name, (command, peer64)) in enumerate(outputs.items()):
        out = work / f"out{number}.gif"
        seconds = run([part.replace("{out}", str(out)) for part in command])
        judge = work / "judge"
        judge.mkdir(exist_ok=True)
        rows[name] = {
            "bytes": out.stat().st_size,
            "ssimulacra2": score(frames, out, judge),
            "seconds": seconds,
            "peer64": peer64,
        }
        print(
            f"  {name}: {rows[name]['bytes']:,} B, SSIMULACRA2 {rows[name]['ssimulacra2']:.1f}, "
            f"{seconds:.2f} s",
            file=sys.stderr,
            flush=True,
        )
    return {"photo": photo.name, "rows": rows, "verdict": verdict(rows)}


def verdict(rows: dict) -> dict:
    ours = rows["kpalette k=64"]
    peers = {n: r for n, r in rows.items() if not n.startswith("kpalette")}
    best64 = max((r["ssimulacra2"] for r in peers.values() if r["peer64"]), default=None)
    as_good = [r["bytes"] for r in peers.values() if r["ssimulacra2"] >= ours["ssimulacra2"]]
    smallest = min(as_good, default=None)
    return {
        "margin_over_best_64": None if best64 is None else ours["ssimulacra2"] - best64,
        "bytes_over_smallest_as_good": None if smallest is None else ours["bytes"] / smallest,
        "met": (best64 is None or ours["ssimulacra2"] >= best64 + 2)
        and (smallest is None or ours["bytes"] <= 1.1 * smallest),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--photos", nargs="+", default=[str(SHARED / "cq100" / p) for p in DEFAULT_PHOTOS]
    )
    parser.add_argument("--limit", type=int)
    parser.add_argument("--gifski", default=shutil.which("gifski"), help="the gifski binary")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "animation.json")
    args = parser.parse_args(argv)
    for tool in ("gifsicle", "convert"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not on PATH (Debian: gifsicle, imagemagick)")
    records = []
    for photo in [Path(p) for p in args.photos][: args.limit]:
        print(photo.name, file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as work:
            records.append(one_animation(photo, args.gifski, Path(work)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"records": records}, indent=1))
    print(
        "| photo | kpalette k=64 | best 64-colour peer | margin | smallest peer as good "
        "| bytes ratio | met |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for record in records:
        rows, v = record["rows"], record["verdict"]
        ours = rows["kpalette k=64"]
        best = max((r for n, r in rows.items() if r["peer64"]), key=lambda r: r["ssimulacra2"])
        best_name = next(n for n, r in rows.items() if r is best)
        good = [
            (r["bytes"], n)
            for n, r in rows.items()
            if not n.startswith("kpalette") and r["ssimulacra2"] >= ours["ssimulacra2"]
        ]
        small = f"{min(good)[1]} ({min(good)[0]:,} B)" if good else "none"
        ratio = v["bytes_over_smallest_as_good"]
        print(
            f"| {record['photo']} | {ours['ssimulacra2']:.1f} at {ours['bytes']:,} B "
            f"| {best_name}: {best['ssimulacra2']:.1f} at {best['bytes']:,} B "
            f"| {v['margin_over_best_64']:+.1f} | {small} "
            f"| {'-' if ratio is None else f'{ratio:.2f}'} | {'yes' if v['met'] else 'no'} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
