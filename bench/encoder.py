"""The palette PNG encoder: its search against plain deflate and against oxipng.

For every image and k, the same palette and index map (``kpalette.quantize``, the
default tune) written three ways, side by side in one run:

- ``plain``: the palette as given, rows unfiltered, zlib-ng at the bit depth's level
  (``encode_palette_png(..., level=png.level_for(depth))``: the encoder before the
  search);
- ``search``: the default encoder (order and filter trials, libdeflate or zlib-ng by
  size);
- ``oxipng``: ``oxipng -o 4`` (the ``pyoxipng`` package) run on the default's output:
  what is left for a lossless optimiser to find.

It prints the sizes as ratios to ``plain`` and the encoders' times (best of
``--repeat``, alternated).

    python3 bench/encoder.py                                   # CQ100 and the shared photos
    python3 bench/encoder.py --images ../shared/images/string.jpg --ks 16 256
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import kpalette
from kpalette import png

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"


def best_time(action, repeat: int) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = action()
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--images",
        nargs="+",
        default=[str(SHARED / "cq100"), str(SHARED / "images")],
        help="files or folders (default: ../shared/cq100 and ../shared/images)",
    )
    parser.add_argument("--ks", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-oxipng", action="store_true")
    args = parser.parse_args()
    paths = []
    for name in args.images:
        path = Path(name)
        found = sorted(path.iterdir()) if path.is_dir() else [path]
        paths += [p for p in found if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
    search_ratios, oxipng_ratios = [], []
    print("image k | plain B  search/plain  oxipng/search | plain s  search s  oxipng s")
    for path in paths:
        image = kpalette.load_image(path)
        if image.shape[-1] == 4:
            image = image[..., :3].copy()
        for k in args.ks:
            result = kpalette.quantize(image, k)
            depth = png.bit_depth_for(result.n_colors)
            plain_s, plain = best_time(
                lambda r=result, d=depth: png.encode_palette_png(
                    r.palette, r.indices, level=png.level_for(d)
                ),
                args.repeat,
            )
            search_s, searched = best_time(
                lambda r=result: png.encode_palette_png(r.palette, r.indices), args.repeat
            )
            oxi_text, oxi_s = "", float("nan")
            if not args.no_oxipng:
                import oxipng

                oxi_s, optimised = best_time(
                    lambda data=searched: oxipng.optimize_from_memory(data, level=4), 1
                )
                oxipng_ratios.append(len(optimised) / len(searched))
                oxi_text = f"{len(optimised) / len(searched):.3f}"
            search_ratios.append(len(searched) / len(plain))
            print(
                f"{path.name} {k} | {len(plain)} {len(searched) / len(plain):.3f} {oxi_text} | "
                f"{plain_s:.3f} {search_s:.3f} {oxi_s:.3f}",
                flush=True,
            )
    print(
        f"median search/plain {statistics.median(search_ratios):.3f} "
        f"(best {min(search_ratios):.3f}, worst {max(search_ratios):.3f})"
    )
    if oxipng_ratios:
        print(
            f"median oxipng/search {statistics.median(oxipng_ratios):.3f} "
            f"(best {min(oxipng_ratios):.3f}, worst {max(oxipng_ratios):.3f})"
        )


if __name__ == "__main__":
    main()
