"""Make the pictures of the docs and the README from the bundled photo.

python3 docs/make_figures.py        # needs kpalette[plot]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import kpalette

HERE = Path(__file__).resolve().parent


def before_after(k: int = 16) -> Path:
    """The bundled photo, its k-colour version and the palette, in one picture."""
    source = kpalette.sample_image_path()
    result = kpalette.quantize(source, k)
    original = kpalette.load_image(source)
    figure = Figure(figsize=(9, 3.9), layout="constrained")
    grid = figure.add_gridspec(2, 2, height_ratios=[10, 1])
    left, right = figure.add_subplot(grid[0, 0]), figure.add_subplot(grid[0, 1])
    strip = figure.add_subplot(grid[1, :])
    left.imshow(original)
    left.set_title(f"original: {source.stat().st_size:,} B")
    right.imshow(result.to_array())
    right.set_title(f"k = {k}: {result.png_bytes:,} B, PSNR {result.psnr:.2f} dB")
    strip.imshow(result.palette[None], aspect="auto", extent=(0, k, 0, 1))
    strip.set_xticks(np.arange(k) + 0.5, [f"{s:.0%}" for s in result.shares], fontsize=7)
    strip.set_yticks([])
    for axes in (left, right):
        axes.set_axis_off()
    out = HERE / "images" / f"coffee-k{k}.png"
    out.parent.mkdir(exist_ok=True)
    canvas = FigureCanvasAgg(figure)
    figure.set_dpi(80)
    canvas.draw()
    picture = np.asarray(canvas.buffer_rgba())[..., :3]
    # The picture itself is a 256-colour palette PNG, written by kpalette.
    kpalette.quantize(picture, 256).save(out, overwrite=True)
    return out


if __name__ == "__main__":
    print(before_after())
