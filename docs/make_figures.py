"""Make the pictures of the docs and the README from the bundled photo.

python3 docs/make_figures.py            # needs kpalette[plot]
python3 docs/make_figures.py --page     # also the web page (kpalette[web], Playwright, Chromium)
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


def web_page(k: int = 12) -> Path:
    """A screenshot of ``kpalette serve``'s page with the bundled photo at k colours."""
    import shutil
    import sys

    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(HERE.parent / "tests"))
    from serving import running_server

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    out = HERE / "images" / "serve-page.png"
    with running_server() as (_, url), sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1100, "height": 720})
        page.goto(url)
        page.set_input_files("#file", str(kpalette.sample_image_path()))
        page.wait_for_selector("#palette .swatch", timeout=60_000)
        page.fill("#k", str(k))
        page.wait_for_function(
            f"document.querySelector('#summary').dataset.state === 'full'"
            f" && document.querySelector('#summary').dataset.k === '{k}'",
            timeout=60_000,
        )
        picture = page.screenshot()
        browser.close()
    # The picture itself is a 256-colour palette PNG, written by kpalette.
    kpalette.quantize(kpalette.load_image(picture), 256).save(out, overwrite=True)
    return out


if __name__ == "__main__":
    import sys

    print(before_after())
    if "--page" in sys.argv[1:]:
        print(web_page())
