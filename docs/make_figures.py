"""Make the pictures of the docs and the README from the bundled photo.

python3 docs/make_figures.py            # needs kpalette[plot]
python3 docs/make_figures.py --page     # also the web page (kpalette[web], Playwright, Chromium)
python3 docs/make_figures.py --hard     # hard cases beside pngquant (pngquant, pyoxipng,
                                        # ../shared/images: public-domain and CC0 photos)
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


#: The hard cases: (what, file in ../shared/images or None for the drawn text, the
#: crop (left, top, width, height), k). Only public-domain and CC0 photos.
HARD_CASES = [
    ("sky: a smooth gradient", "rocket.jpg", (10, 10, 160, 120), 32),
    ("skin and a face", "astronaut.png", (170, 40, 160, 120), 32),
    ("small salient colours: a flag and a patch", "astronaut.png", (0, 190, 160, 120), 16),
    ("fur: fine texture", "chelsea.png", (140, 60, 160, 120), 32),
    ("text over a gradient", None, (0, 0, 160, 120), 16),
]


def _drawn_text() -> np.ndarray:
    """Dark anti-aliased text over a blue-orange gradient (drawn here, no licence)."""
    from PIL import Image, ImageDraw

    ramp = np.linspace(0, 1, 320)[None, :, None]
    colours = (1 - ramp) * np.array([40, 90, 200]) + ramp * np.array([250, 170, 60])
    image = Image.fromarray(np.repeat(colours, 240, axis=0).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for row, text in enumerate(
        ["kpalette: fewer colours,", "the same picture.", "0123456789 +-*/"]
    ):
        draw.text((8, 10 + 34 * row), text, fill=(20, 20, 30), font_size=26)
    return np.asarray(image)


def hard_cases(shared: Path | None = None) -> Path:
    """Crops of hard cases side by side at the same bytes: the original,
    ``pngquant --nofs K`` followed by ``oxipng -o 4``, and kpalette's default with the
    most colours whose file fits in as many bytes (``--max-bytes``); each titled with
    its whole file's bytes and the whole image's SSIMULACRA2."""
    import subprocess
    import tempfile

    import oxipng

    shared = shared or HERE.parents[1] / "shared" / "images"
    figure = Figure(figsize=(9, 2.4 * len(HARD_CASES)), layout="constrained")
    axes = figure.subplots(len(HARD_CASES), 3)
    for row, (what, name, (left, top, width, height), k) in enumerate(HARD_CASES):
        original = kpalette.load_image(shared / name)[..., :3] if name else _drawn_text()
        with tempfile.TemporaryDirectory() as folder:
            source = Path(folder) / "in.png"
            kpalette.io.save_truecolor(source, original)
            subprocess.run(
                ["pngquant", "--nofs", "--force", "--output", str(Path(folder) / "pq.png"),
                 str(k), str(source)],
                check=True,
            )  # fmt: skip
            theirs_data = oxipng.optimize_from_memory(
                (Path(folder) / "pq.png").read_bytes(), level=4
            )
        theirs = kpalette.load_image(theirs_data)[..., :3]
        ours = kpalette.choose_k(original, max_bytes=len(theirs_data)).result
        ours_bytes = len(ours.encode("PNG"))
        crops = [original, theirs, ours.to_array()[..., :3]]
        scores = [kpalette.ssimulacra2(original, image) for image in crops[1:]]
        titles = [
            f"{what}",
            f"pngquant --nofs {k} + oxipng: {len(theirs_data):,} B, SSIMULACRA2 {scores[0]:.1f}",
            f"kpalette k={ours.n_colors}: {ours_bytes:,} B, {scores[1]:.1f}",
        ]
        for column, (image, title) in enumerate(zip(crops, titles, strict=True)):
            crop = image[top : top + height, left : left + width]
            axes[row, column].imshow(
                crop.repeat(2, axis=0).repeat(2, axis=1), interpolation="nearest"
            )
            axes[row, column].set_title(title, fontsize=8)
            axes[row, column].set_axis_off()
    out = HERE / "images" / "hard-cases.png"
    canvas = FigureCanvasAgg(figure)
    figure.set_dpi(90)
    canvas.draw()
    picture = np.asarray(canvas.buffer_rgba())[..., :3]
    # The crops are shown as written; the figure itself is a lossless full-colour PNG
    # (a palette version of it would add its own error to what it compares).
    kpalette.io.save_truecolor(out, picture, overwrite=True)
    return out


if __name__ == "__main__":
    import sys

    print(before_after())
    if "--page" in sys.argv[1:]:
        print(web_page())
    if "--hard" in sys.argv[1:]:
        print(hard_cases())
