"""Quality per byte: rate-distortion curves over k and Bjontegaard delta rates.

For every image and every k (default 16, 32, 64, 128, 256) it writes, in one run:

- ``kpalette``: ``kpalette.quantize(image, k)`` with the default tuning, saved as PNG;
- ``kpalette-mse``: the same with ``tune="mse"`` (the MSE-optimal fit);
- ``pngquant`` and ``pngquant-nofs``: ``pngquant K`` and ``pngquant --nofs K``;
- ``pngquant+oxipng`` and ``pngquant-nofs+oxipng``: each of those through
  ``oxipng -o 4`` (the ``pyoxipng`` package: same pixels, fewer bytes);
- ``pngquant-best+oxipng``: per image and judge, whichever of the two oxipng curves
  needs fewer bytes (the issue's anchor: "the best of pngquant, default or --nofs").

and judges every file against the input with SSIMULACRA2 (the ``ssimulacra2``
package; higher is better) and butteraugli (libjxl's ``butteraugli_main``, its 3-norm;
lower is better). The curves are summarised per image as the Bjontegaard delta rate of
kpalette against each anchor: the mean difference in log bytes over the quality range
both curves cover, as a percentage (negative: kpalette needs fewer bytes for the same
quality). Medians over images are printed as a table, and everything is written to
``bench/out/rd.json``; ``--plot FILE`` draws the curves of a few images.

    python3 bench/rd.py --images ../shared/cq100 --limit 12          # a quick look
    python3 bench/rd.py --images ../shared/cq100 ../shared/images --jobs 2

Needs ``pngquant`` and ``butteraugli_main`` on PATH (Debian: pngquant, libjxl-devtools)
and the Python packages ``ssimulacra2`` and ``pyoxipng``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

import kpalette

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
DEFAULT_KS = (16, 32, 64, 128, 256)
#: Judges: name -> True when higher is better.
JUDGES = {"ssimulacra2": True, "butteraugli": False}
#: The options of the MSE-optimal curve.
MSE_OPTIONS = {"tune": "mse"}
ANCHORS = (
    "pngquant",
    "pngquant-nofs",
    "pngquant+oxipng",
    "pngquant-nofs+oxipng",
    "pngquant-best+oxipng",
    "kpalette-mse",
)


# ----------------------------------------------------------------------------- BD-rate
def bd_rate(rate_a, quality_a, rate_b, quality_b) -> float | None:
    """Bjontegaard delta rate of curve B against curve A, in percent.

    Each curve is fitted as log(rate) by a cubic in quality (a lower degree when it has
    fewer distinct points), integrated over the quality range both cover; the result is
    ``exp(mean difference) - 1``: -10 means B needs 10% fewer bytes than A for the same
    quality. None when the ranges do not overlap.
    """

    def fit(rate, quality):
        quality = np.asarray(quality, dtype=np.float64)
        log_rate = np.log(np.asarray(rate, dtype=np.float64))
        order = np.argsort(quality)
        quality, log_rate = quality[order], log_rate[order]
        degree = min(3, len(np.unique(quality)) - 1)
        if degree < 1:
            return None
        return np.polyfit(quality, log_rate, degree), quality.min(), quality.max()

    fa, fb = fit(rate_a, quality_a), fit(rate_b, quality_b)
    if fa is None or fb is None:
        return None
    low, high = max(fa[1], fb[1]), min(fa[2], fb[2])
    if not high > low:
        return None
    ia, ib = np.polyint(fa[0]), np.polyint(fb[0])
    mean_a = (np.polyval(ia, high) - np.polyval(ia, low)) / (high - low)
    mean_b = (np.polyval(ib, high) - np.polyval(ib, low)) / (high - low)
    return float((math.exp(mean_b - mean_a) - 1) * 100)


# ----------------------------------------------------------------------------- judges
def ssimulacra2_score(reference: Path, distorted: Path) -> float:
    from ssimulacra2 import compute_ssimulacra2

    return float(compute_ssimulacra2(str(reference), str(distorted)))


def butteraugli_score(reference: Path, distorted: Path) -> float:
    done = subprocess.run(
        ["butteraugli_main", str(reference), str(distorted)],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in done.stdout.splitlines():
        if line.startswith("3-norm:"):
            return float(line.split(":")[1])
    raise RuntimeError(f"butteraugli_main printed no 3-norm: {done.stdout!r}")


# ----------------------------------------------------------------------------- tools
def oxipng(data: bytes) -> bytes:
    import oxipng as pyoxipng

    return pyoxipng.optimize_from_memory(data, level=4)


def pngquant(source: Path, k: int, *, nofs: bool) -> bytes:
    command = ["pngquant", "--force", "--output", "-"]
    if nofs:
        command.append("--nofs")
    done = subprocess.run([*command, str(k), str(source)], capture_output=True, check=True)
    return done.stdout


def kpalette_png(source: Path, k: int, **options) -> bytes:
    result = kpalette.quantize(str(source), k, **options)
    return result.encode("PNG") if hasattr(result, "encode") else _saved(result)


def _saved(result) -> bytes:
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "out.png"
        result.save(path)
        return path.read_bytes()


def one_image(job: tuple[str, tuple[int, ...], tuple[str, ...]]) -> dict:
    """Every tool at every k on one image: bytes and both judges' scores."""
    path_text, ks, extra = job
    path = Path(path_text)
    rows: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        reference = work / "reference.png"
        rgb = np.asarray(Image.open(path).convert("RGB"))
        Image.fromarray(rgb).save(reference)
        for k in ks:
            files: dict[str, bytes] = {
                "kpalette": kpalette_png(reference, k),
                "kpalette-mse": kpalette_png(reference, k, **MSE_OPTIONS),
                "pngquant": pngquant(reference, k, nofs=False),
                "pngquant-nofs": pngquant(reference, k, nofs=True),
            }
            for name in extra:
                label, _, spec = name.partition("=")
                files[label] = kpalette_png(reference, k, **json.loads(spec))
            scores: dict[str, dict] = {}
            for name, data in files.items():
                out = work / f"{name}.png"
                out.write_bytes(data)
                scores[name] = {
                    "ssimulacra2": ssimulacra2_score(reference, out),
                    "butteraugli": butteraugli_score(reference, out),
                }
                rows.setdefault(name, []).append({"k": k, "bytes": len(data), **scores[name]})
            for name in ("pngquant", "pngquant-nofs"):
                data = oxipng(files[name])
                rows.setdefault(f"{name}+oxipng", []).append(
                    {"k": k, "bytes": len(data), **scores[name]}
                )
    return {"image": path.name, "pixels": int(rgb.shape[0] * rgb.shape[1]), "curves": rows}


def curve(rows: list[dict], judge: str) -> tuple[list[int], list[float]]:
    return [row["bytes"] for row in rows], [row[judge] for row in rows]


def image_bd_rates(record: dict, subject: str) -> dict[str, dict[str, float | None]]:
    """BD-rate of ``subject`` against each anchor, per judge, for one image."""
    curves = record["curves"]
    out: dict[str, dict[str, float | None]] = {}
    for judge, higher_is_better in JUDGES.items():
        sign = 1.0 if higher_is_better else -1.0

        def against(anchor_rows, judge=judge, sign=sign):
            rate_a, quality_a = curve(anchor_rows, judge)
            rate_b, quality_b = curve(curves[subject], judge)
            return bd_rate(
                rate_a, [sign * q for q in quality_a], rate_b, [sign * q for q in quality_b]
            )

        values = {anchor: against(curves[anchor]) for anchor in ANCHORS if anchor in curves}
        oxi = [values.get("pngquant+oxipng"), values.get("pngquant-nofs+oxipng")]
        oxi = [value for value in oxi if value is not None]
        # The anchor that needs fewer bytes is the one kpalette does worst against.
        values["pngquant-best+oxipng"] = max(oxi) if oxi else None
        for anchor, value in values.items():
            out.setdefault(anchor, {})[judge] = value
    return out


def summarise(records: list[dict], subject: str) -> str:
    lines = [
        f"BD-rate of {subject} (negative: fewer bytes for the same quality), over "
        f"{len(records)} images",
        "",
        "| anchor | judge | median | mean | worst | best | images worse |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    per_image = [image_bd_rates(record, subject) for record in records]
    for anchor in ANCHORS:
        if anchor == subject:
            continue
        for judge in JUDGES:
            values = [rates[anchor][judge] for rates in per_image if anchor in rates]
            values = [value for value in values if value is not None]
            if not values:
                continue
            lines.append(
                f"| {anchor} | {judge} | {statistics.median(values):+.1f}% | "
                f"{statistics.fmean(values):+.1f}% | {max(values):+.1f}% | {min(values):+.1f}% | "
                f"{sum(value > 0 for value in values)} / {len(values)} |"
            )
    return "\n".join(lines)


def plot(records: list[dict], path: Path, names: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = [record for record in records if record["image"] in names] or records[:3]
    figure, axes = plt.subplots(
        len(JUDGES), len(chosen), figsize=(4.2 * len(chosen), 7), squeeze=False
    )
    styles = {
        "kpalette": ("C0", "-", "o"),
        "kpalette-mse": ("C0", ":", "."),
        "pngquant+oxipng": ("C3", "-", "s"),
        "pngquant-nofs+oxipng": ("C1", "-", "^"),
        "pngquant": ("C3", ":", "s"),
    }
    for column, record in enumerate(chosen):
        for row, judge in enumerate(JUDGES):
            axis = axes[row][column]
            for name, (color, line, marker) in styles.items():
                if name not in record["curves"]:
                    continue
                rate, quality = curve(record["curves"][name], judge)
                bits = [8 * size / record["pixels"] for size in rate]
                axis.plot(bits, quality, color=color, linestyle=line, marker=marker, label=name)
            axis.set_xscale("log")
            axis.set_xlabel("bits per pixel")
            axis.set_ylabel(judge + (" (higher is better)" if JUDGES[judge] else " (lower)"))
            axis.set_title(record["image"])
            axis.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=80)


def image_paths(folders: list[str], limit: int | None, max_pixels: int | None = None) -> list[Path]:
    paths: list[Path] = []
    for folder in folders:
        base = Path(folder)
        found = sorted(
            p
            for p in (base.iterdir() if base.is_dir() else [base])
            if p.suffix.lower() in (".png", ".jpg", ".jpeg")
        )
        paths.extend(found)
    if max_pixels:
        paths = [p for p in paths if _pixels(p) <= max_pixels]
    return paths[:limit] if limit else paths


def _pixels(path: Path) -> int:
    with Image.open(path) as image:
        return image.width * image.height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", nargs="+", default=[str(SHARED / "cq100")])
    parser.add_argument("--limit", type=int, help="the first N images only")
    parser.add_argument(
        "--max-pixels", type=int, default=1_500_000, help="skip larger images (default 1.5 MP)"
    )
    parser.add_argument("--ks", type=int, nargs="+", default=list(DEFAULT_KS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        help='another kpalette curve: LABEL={"option": value} (quantize keywords, JSON)',
    )
    parser.add_argument("--subject", default="kpalette", help="the curve judged (default kpalette)")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "rd.json")
    parser.add_argument("--plot", type=Path, help="draw the curves of a few images into FILE")
    parser.add_argument("--plot-images", nargs="*", default=[])
    parser.add_argument("--from-json", type=Path, help="summarise an earlier run's JSON")
    args = parser.parse_args(argv)
    if args.from_json:
        records = json.loads(args.from_json.read_text())["records"]
    else:
        for tool in ("pngquant", "butteraugli_main"):
            if shutil.which(tool) is None:
                parser.error(f"{tool} is not on PATH")
        paths = image_paths(args.images, args.limit, args.max_pixels)
        jobs = [(str(path), tuple(args.ks), tuple(args.extra)) for path in paths]
        records = []
        with ProcessPoolExecutor(args.jobs) as pool:
            for record in pool.map(one_image, jobs):
                records.append(record)
                rates = image_bd_rates(record, args.subject)["pngquant-best+oxipng"]
                print(
                    f"{record['image']}: vs best pngquant+oxipng "
                    + ", ".join(
                        f"{judge} {value:+.1f}%" if value is not None else f"{judge} n/a"
                        for judge, value in rates.items()
                    ),
                    file=sys.stderr,
                    flush=True,
                )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({"ks": args.ks, "version": kpalette.__version__, "records": records})
        )
    print(summarise(records, args.subject))
    if args.plot:
        plot(records, args.plot, args.plot_images)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
