"""``kpalette explore``: one self-contained HTML page about an image's colours.

The page holds the original, the k-grid, the palette swatches, the 3-D colour cloud
coloured by pixel and by cluster (with centroids), the elbow chart, a table of k
against size and quality, and the suggested k. Everything is inline (images as data
URIs, Plotly's JavaScript once), so the page works offline and can be mailed around.
"""

from __future__ import annotations

import base64
import html
import io as _io
import math
import time

import numpy as np
from PIL import Image

from . import io, metrics
from .exceptions import require_extra
from .options import OptionError, Options
from .plot import (
    cloud_points,
    color_cloud,
    elbow,
    k_grid,
    original_facts,
    preview,
    swatches,
)
from .progress import status
from .sweep import DEFAULT_KNEE_KS, KSweep

__all__ = ["build_report", "REPORT_CLOUD_POINTS"]

#: Dots per 3-D cloud in the report (two clouds; keeps the page light and fluid).
REPORT_CLOUD_POINTS = 30_000
#: Longer side of the pictures shown in the page.
PREVIEW_SIDE = 1200

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.facts { color: #555; }
.suggested { background: #fff4e5; border-left: 4px solid #e65100; padding: 0.6em 1em; }
img { max-width: 100%; height: auto; }
#original { background: repeating-conic-gradient(#ccc 0 25%, #fff 0 50%) 0 0 / 24px 24px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 0.25em 0.8em; text-align: right; border-bottom: 1px solid #eee; }
th { background: #f5f5f5; }
tr.chosen td { background: #fff4e5; font-weight: bold; }
.clouds { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.note { color: #666; font-size: 0.9em; }
"""


def _png_data_uri(figure_or_bytes, *, dpi: int = 90) -> str:
    if isinstance(figure_or_bytes, bytes):
        data, mime = figure_or_bytes, "image/png"
    else:
        buffer = _io.BytesIO()
        figure_or_bytes.savefig(buffer, format="png", dpi=dpi)
        data, mime = buffer.getvalue(), "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _picture_data_uri(image: np.ndarray) -> str:
    """JPEG for an opaque preview (small); PNG when it has alpha (kept, not flattened)."""

    buffer = _io.BytesIO()
    if image.shape[2] == 4:
        Image.fromarray(image).save(buffer, format="PNG")
        mime = "image/png"
    else:
        Image.fromarray(image).save(buffer, format="JPEG", quality=88)
        mime = "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def _table_rows(sweep: KSweep, ks, suggested: int, input_bytes: int | None) -> list[dict]:
    height, width = sweep.original.shape[:2]
    rows = []
    for k in ks:
        result = sweep.result(k)
        n_bytes = sweep.size(k, "PNG")
        rows.append(
            {
                "k": k,
                "colors": result.n_colors,
                "bytes": n_bytes,
                "ratio": None if not input_bytes else input_bytes / n_bytes,
                "bits_per_pixel": metrics.bits_per_pixel(n_bytes, width * height),
                "mse": result.mse,
                "psnr": result.psnr,
                "ssim": result.ssim,
                "delta_e": result.delta_e,
                "chosen": k == suggested,
            }
        )
    return rows


def _format_table(rows: list[dict]) -> str:
    head = (
        "<tr><th>k</th><th>colours</th><th>bytes (palette PNG)</th><th>ratio</th>"
        "<th>bits/pixel</th><th>MSE</th><th>PSNR (dB)</th>"
        "<th>SSIM</th><th>mean CIEDE2000</th></tr>"
    )
    body = []
    for row in rows:
        psnr = "&infin;" if math.isinf(row["psnr"]) else f"{row['psnr']:.2f}"
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}&times;"
        chosen = " class='chosen'" if row["chosen"] else ""
        body.append(
            f"<tr{chosen}><td>{row['k']}</td>"
            f"<td>{row['colors']}</td><td>{row['bytes']:,}</td><td>{ratio}</td>"
            f"<td>{row['bits_per_pixel']:.3f}</td><td>{row['mse']:.2f}</td><td>{psnr}</td>"
            f"<td>{row['ssim']:.4f}</td><td>{row['delta_e']:.2f}</td></tr>"
        )
    note = (
        "<p class='note'>MSE, PSNR, SSIM and CIEDE2000 on every pixel. "
        "Bytes: the palette PNG really encoded.</p>"
    )
    return f"<table id='k-table'>{head}{''.join(body)}</table>{note}"


#: The page's k-grid: the counts that matter for photos and graphics, from a poster's
#: few colours to a palette image's 256 (the walkthroughs' 2..10 are a ``grid_ks``).
REPORT_GRID_KS = (2, 4, 8, 16, 32, 64, 128, 256)


def build_report(
    image,
    *,
    grid_ks=REPORT_GRID_KS,
    knee_ks=DEFAULT_KNEE_KS,
    options: Options | None = None,
    title: str | None = None,
    **changes,
) -> tuple[str, dict]:
    """The explore page of an image, as HTML text.

    Parameters
    ----------
    image : (H, W, C) array or path
    grid_ks : iterable of int, default 2, 4, 8, ..., 256
        Panels of the k-grid and rows of the table (each in 1..256; else
        :class:`~kpalette.OptionError`).
    knee_ks : iterable of int, default 1..16
        Where the suggested k (the knee of the inertia curve) is looked for, and the
        x axis of the elbow chart.
    options : Options, optional
        ``seed``, ``color_space``, ``max_pixels``, ... as for :func:`kpalette.quantize`;
        keyword arguments override its fields.
    title : str, optional

    Returns
    -------
    page : str
        A complete HTML document with everything inline.
    facts : dict
        ``suggested_k``, ``reason``, ``rows`` (the table), ``seconds``.
    """
    require_extra("matplotlib", "plot")
    require_extra("plotly", "plot")

    start = time.perf_counter()
    options = Options.of(options, **changes)
    grid_ks = sorted({int(k) for k in grid_ks})
    if not grid_ks or not 1 <= grid_ks[0] <= grid_ks[-1] <= 256:  # before the slow part
        raise OptionError("grid_ks", "numbers of colours in 1..256", grid_ks)
    color_space, seed = options.color_space, options.seed
    sweep = KSweep(image, options=options)
    knee_ks = sorted({int(k) for k in knee_ks})
    suggested, reason = sweep.suggest(knee_ks)
    chosen = sweep.result(suggested)
    source = sweep.source
    name = title or (source.name if source is not None else "image")
    height, width = sweep.original.shape[:2]
    input_bytes = io.file_size(source) if source is not None else None
    table_ks = sorted(set(grid_ks) | {suggested})
    rows = _table_rows(sweep, table_ks, suggested, input_bytes)
    picture = preview(sweep.original, PREVIEW_SIDE)
    # The sweep has counted an RGB image's colours already.
    rgb = sweep.original.shape[-1] == 3
    n_distinct = sweep.prepared.histogram.n_colors if rgb else None

    status("drawing the colour clouds")
    dots = cloud_points(sweep.original, max_points=REPORT_CLOUD_POINTS, random_state=seed)
    by_pixel = color_cloud(sweep.original, result=chosen, color_by="pixel", points=dots)
    by_cluster = color_cloud(sweep.original, result=chosen, color_by="cluster", points=dots)
    plot_config = {"responsive": True, "displaylogo": False}
    cloud_pixel_html = by_pixel.to_html(
        full_html=False, include_plotlyjs=True, config=plot_config, div_id="cloud-pixel"
    )
    cloud_cluster_html = by_cluster.to_html(
        full_html=False, include_plotlyjs=False, config=plot_config, div_id="cloud-cluster"
    )
    status("drawing the k-grid and the elbow chart")
    grid_picture = _png_data_uri(k_grid(sweep, grid_ks))
    elbow_picture = _png_data_uri(elbow(sweep, knee_ks))
    sections = [
        f"<h1>{html.escape(name)}</h1>",
        f"<p class='facts'>{width}&times;{height} pixels, "
        f"{html.escape(original_facts(sweep.original, source, n_distinct))}; "
        f"colours clustered in {color_space.upper()}, seed {seed}</p>",
        f"<p class='suggested' id='suggested'>Suggested: <b>k={suggested}</b>, "
        f"{html.escape(reason)}.</p>",
        "<h2>Original</h2>",
        f"<img id='original' alt='original' src='{_picture_data_uri(picture)}'>",
        f"<h2>k = {', '.join(str(k) for k in grid_ks)}</h2>",
        f"<img id='k-grid' alt='k-grid' src='{grid_picture}'>",
        f"<h2>Palette at the suggested k={suggested}</h2>",
        f"<img id='swatches' alt='swatches' src='{_png_data_uri(swatches(chosen))}'>",
        "<h2>Colours in 3-D</h2>",
        "<p class='note'>Drag to turn, scroll to zoom. Diamonds: the centroids "
        f"(palette) at k={suggested}.</p>",
        f"<div class='clouds'><div>{cloud_pixel_html}</div><div>{cloud_cluster_html}</div></div>",
        "<h2>Choosing k</h2>",
        f"<img id='elbow' alt='elbow chart' src='{elbow_picture}'>",
        _format_table(rows),
    ]
    seconds = time.perf_counter() - start
    sections.append(
        f"<p class='note'>Made by kpalette in {seconds:.1f} s. "
        "K-means on the weighted colour histogram.</p>"
    )
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>kpalette: {html.escape(name)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(sections)}</body></html>"
    )
    facts = {"suggested_k": suggested, "reason": reason, "rows": rows, "seconds": seconds}
    return page, facts
