"""Pictures of a quantization: before/after, swatches, the k-grid, 3-D colour clouds, elbow.

The walkthrough's figures, each one call. matplotlib (static figures) and Plotly (the
interactive 3-D cloud) are imported when a function is called, never at
``import kpalette``. The matplotlib functions return a ``matplotlib.figure.Figure``
made without pyplot (no GUI backend needed; a notebook shows it once, as a PNG);
:func:`color_cloud` returns a ``plotly.graph_objects.Figure``.
"""

from __future__ import annotations

import io as _io
import math
import os
from pathlib import Path

import numpy as np

from . import io
from .colorspace import check_color_space, to_space
from .exceptions import require_extra
from .fit import nearest_entries
from .histogram import color_histogram
from .io import load_image
from .palette import to_hex
from .quantize import quantize
from .result import QuantizedImage
from .sweep import DEFAULT_KNEE_KS, KSweep, knee_point

__all__ = [
    "DEFAULT_GRID_KS",
    "original_facts",
    "preview",
    "cloud_points",
    "color_cloud",
    "compare",
    "elbow",
    "k_grid",
    "swatches",
]

#: The walkthrough's grid: k = 2 .. 10.
DEFAULT_GRID_KS = tuple(range(2, 11))
#: Most points drawn in a 3-D cloud (a 9 MP photo stays responsive).
MAX_CLOUD_POINTS = 50_000


_FIGURE_CLASS = None


def _figure_class():
    """``matplotlib.figure.Figure`` that a notebook shows by itself, made on first use.

    Figures made without pyplot have no picture in a notebook unless pyplot's inline
    backend was loaded; ``_repr_png_`` gives them one, and they are shown once (pyplot
    would also show them at the end of the cell).
    """
    global _FIGURE_CLASS
    if _FIGURE_CLASS is None:
        require_extra("matplotlib", "plot")
        from matplotlib.figure import Figure

        class NotebookFigure(Figure):
            def _repr_png_(self) -> bytes:

                buffer = _io.BytesIO()
                self.savefig(buffer, format="png", dpi=80)
                return buffer.getvalue()

        _FIGURE_CLASS = NotebookFigure
    return _FIGURE_CLASS


def _figure(width: float, height: float):
    return _figure_class()(figsize=(width, height), layout="constrained")


def _as_sweep(image, sweep_options) -> KSweep:
    return image if isinstance(image, KSweep) else KSweep(image, **sweep_options)


def preview(image: np.ndarray, max_side: int = 1200) -> np.ndarray:
    """Every n-th pixel so that the longer side is at most ``max_side`` (for display)."""
    step = max(1, math.ceil(max(image.shape[:2]) / max_side))
    return image[::step, ::step]


def _show(axes, picture: np.ndarray) -> None:
    """``imshow``, over a grey checkerboard when the picture has alpha (as image tools do)."""
    if picture.shape[-1] == 4:
        height, width = picture.shape[:2]
        cell = max(4, max(height, width) // 48)
        rows, columns = np.indices((height, width)) // cell
        board = np.where((rows + columns) % 2 == 0, 204, 255).astype(np.uint8)
        axes.imshow(np.repeat(board[..., None], 3, axis=2))
    axes.imshow(picture)


def _kilobytes(n_bytes: int) -> str:
    return f"{n_bytes / 1000:,.1f} kB"


def original_facts(original, source, n_colors: int | None = None) -> str:
    """ "<size>, <n> colours" of an original; ``n_colors`` when already counted."""

    if source is not None:
        size = f"{_kilobytes(io.file_size(source) or 0)} ({source.suffix.lstrip('.').upper()})"
    else:
        size = f"{_kilobytes(len(io.encode_truecolor(original, 'PNG')))} as PNG"
    if n_colors is None:
        n_colors = color_histogram(original.reshape(-1, original.shape[-1])).n_colors
    return f"{size}, {n_colors:,} colours"


def _quantized_title(result: QuantizedImage) -> str:
    n_bytes = result.output_bytes if result.output_bytes is not None else result.png_bytes
    psnr = "identical" if math.isinf(result.psnr) else f"PSNR {result.psnr:.1f} dB"
    return f"{_kilobytes(n_bytes)}, {result.n_colors} colours, {psnr}"


def compare(original, quantized: QuantizedImage):
    """The original and the quantized image side by side.

    Parameters
    ----------
    original : (H, W, C) array, path, or None
        None takes the original kept by ``quantized``.
    quantized : QuantizedImage

    Returns
    -------
    matplotlib.figure.Figure
        Two panels; each title gives the size in kB (the file for the original, the
        palette PNG or the written file for the result), the number of colours and,
        for the result, the PSNR.
    """
    if original is None:
        if quantized.original is None:
            raise ValueError("no original image was kept by the result; pass it as original")
        original, source = quantized.original, quantized.source
    elif isinstance(original, str | os.PathLike):
        source = Path(original)
        original = load_image(source, max_pixels=None)
    else:
        original, source = np.asarray(original), None
    height, width = original.shape[:2]
    figure = _figure(11, 11 * height / (2 * width) + 0.8)
    left, right = figure.subplots(1, 2)
    _show(left, preview(original))
    left.set_title(f"original\n{original_facts(original, source)}")
    _show(right, quantized.palette[preview(quantized.indices)])
    right.set_title(f"k={quantized.n_colors}\n{_quantized_title(quantized)}")
    for axes in (left, right):
        axes.set_axis_off()
    return figure


def _readable_on(color) -> str:
    """Black or white, whichever reads better on ``color`` (seen over light grey if translucent)."""
    rgb = np.asarray(color[:3], dtype=float)
    if len(color) == 4:
        alpha = color[3] / 255.0
        rgb = rgb * alpha + 230.0 * (1.0 - alpha)
    r, g, b = (rgb / 255.0) ** 2.2
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.18 else "white"


def swatches(palette, shares=None, *, columns: int | None = None):
    """The palette as colour swatches labelled with hex code and share.

    Parameters
    ----------
    palette : QuantizedImage or (k, 3|4) uint8 array
        A QuantizedImage brings its own shares.
    shares : (k,) array, optional
        Fraction of the pixels of each colour.
    columns : int, optional
        Swatches per row (default: up to 8).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.patches import Rectangle

    if isinstance(palette, QuantizedImage):
        palette, shares = palette.palette, palette.shares if shares is None else shares
    palette = np.asarray(palette, dtype=np.uint8)
    if palette.ndim != 2 or palette.shape[1] not in (3, 4) or len(palette) == 0:
        raise ValueError(f"expected a (k, 3|4) palette, got shape {palette.shape}")
    k = len(palette)
    columns = columns or min(k, 8)
    rows = math.ceil(k / columns)
    figure = _figure_class()(figsize=(1.3 * columns, 1.3 * rows))
    axes = figure.add_axes((0, 0, 1, 1))
    codes = to_hex(palette)
    for i, color in enumerate(palette):
        row, column = divmod(i, columns)
        face = tuple(color[:3] / 255.0) + ((color[3] / 255.0,) if len(color) == 4 else ())
        if len(color) == 4 and color[3] < 255:  # a checkerboard shows through
            for dx, dy in ((0, 0), (0.47, 0.47)):
                axes.add_patch(
                    Rectangle((column + dx, -row - 1 + dy), 0.47, 0.47, facecolor="#cccccc")
                )
        axes.add_patch(Rectangle((column, -row - 1), 0.94, 0.94, facecolor=face))
        text = codes[i] if shares is None else f"{codes[i]}\n{shares[i]:.1%}"
        axes.text(
            column + 0.47,
            -row - 0.53,
            text,
            ha="center",
            va="center",
            fontsize=9,
            family="monospace",
            color=_readable_on(color),
        )
    axes.set_xlim(-0.03, columns)
    axes.set_ylim(-rows - 0.03, 0)
    axes.set_aspect("equal")
    axes.set_axis_off()
    return figure


def k_grid(image, ks=DEFAULT_GRID_KS, *, columns: int = 3, **sweep_options):
    """The image quantized at each k, in a grid titled ``k=2`` ... ``k=10``.

    Parameters
    ----------
    image : (H, W, C) array, path, or KSweep
        The colours are counted once and every k is fitted on that histogram.
    ks : iterable of int, default 2..10
    columns : int, default=3
    **sweep_options
        ``seed``, ``color_space``, ``dither``, ... as for :class:`KSweep`.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per k; each title gives k, the palette PNG size and the PSNR.
    """
    sweep = _as_sweep(image, sweep_options)
    ks = [int(k) for k in ks]
    rows = math.ceil(len(ks) / columns)
    height, width = sweep.original.shape[:2]
    panel = 11 / columns
    figure = _figure(11, rows * (panel * height / width + 0.45))
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes in grid.ravel():
        axes.set_axis_off()
    for axes, k in zip(grid.ravel(), ks, strict=False):
        result = sweep.result(k)
        _show(axes, result.palette[preview(result.indices, 800)])
        psnr = "" if math.isinf(result.psnr) else f", {result.psnr:.1f} dB"
        axes.set_title(f"k={k}", fontsize=12, fontweight="bold", loc="left")
        axes.set_title(f"{_kilobytes(result.png_bytes)}{psnr}", fontsize=9, loc="right")
    return figure


def cloud_points(image, *, max_points: int = MAX_CLOUD_POINTS, random_state=0):
    """A weighted sample of the distinct colours of an image, for a 3-D cloud.

    When the image has more distinct colours than ``max_points``, that many are
    drawn without replacement with probability proportional to their pixel counts,
    so the cloud's density follows the image's. Fully transparent pixels are left
    out; alpha is dropped.

    Returns
    -------
    colors : (m, 3) uint8 array
    counts : (m,) int64 array
        Pixels of each drawn colour.
    n_distinct : int
        Distinct colours in the image.
    """

    pixels = np.asarray(image).reshape(-1, np.shape(image)[-1])
    if pixels.shape[1] == 4:
        pixels = pixels[pixels[:, 3] > 0]
    histogram = color_histogram(np.ascontiguousarray(pixels[:, :3]))
    colors, counts = histogram.colors, histogram.counts
    if len(colors) > max_points:
        rng = np.random.default_rng(random_state)
        chosen = rng.choice(len(colors), size=max_points, replace=False, p=counts / counts.sum())
        chosen.sort()
        colors, counts = colors[chosen], counts[chosen]
    return colors, counts, histogram.n_colors


_AXES = {
    "rgb": ("red", "green", "blue"),
    "lab": ("L*", "a*", "b*"),
    "oklab": ("L (OKLab)", "a (OKLab)", "b (OKLab)"),
}


def _css(colors: np.ndarray) -> list[str]:
    return [f"rgb({r},{g},{b})" for r, g, b in colors[:, :3].tolist()]


def color_cloud(
    image,
    *,
    color_by: str = "pixel",
    centroids: bool = True,
    n_colors: int = 8,
    result: QuantizedImage | None = None,
    space: str | None = None,
    max_points: int = MAX_CLOUD_POINTS,
    marker_size: float = 2.0,
    random_state=0,
    points=None,
):
    """The image's colours as an interactive 3-D scatter, as in the walkthrough.

    Parameters
    ----------
    image : (H, W, C) array or path
    color_by : {"pixel", "cluster"}
        Draw each dot in its own colour, or in the colour of its cluster's centroid.
    centroids : bool
        Add the palette colours as large outlined markers.
    n_colors : int, default=8
        Clusters fitted when no ``result`` is given (and ``centroids`` or
        ``color_by="cluster"`` needs them).
    result : QuantizedImage, optional
        A quantization of this image to show instead of fitting one.
    space : {"rgb", "lab", "oklab"}, optional
        Axes of the plot; default the result's colour space (else RGB).
    max_points : int
        Most dots (:func:`cloud_points`).
    marker_size : float
    random_state : int
    points : tuple, optional
        What :func:`cloud_points` returned for this image: several clouds of one
        image (by pixel, by cluster) then show the same dots, sampled once.

    Returns
    -------
    plotly.graph_objects.Figure
        Trace 0 holds the colour dots (``marker.color`` as ``"rgb(r,g,b)"``), trace
        1, if any, the centroids.
    """
    require_extra("plotly", "plot")
    import plotly.graph_objects as go

    if color_by not in ("pixel", "cluster"):
        raise ValueError(f"color_by must be 'pixel' or 'cluster', got {color_by!r}")
    original = result.original if result is not None and image is None else image
    if isinstance(original, str | os.PathLike):
        original = load_image(original, max_pixels=None)
    original = np.asarray(original)
    if result is None and (centroids or color_by == "cluster"):
        result = quantize(original, n_colors, seed=random_state)
    space = check_color_space(space or (result.color_space if result is not None else "rgb"))
    if points is None:
        points = cloud_points(original, max_points=max_points, random_state=random_state)
    colors, counts, n_distinct = points
    coordinates = to_space(colors, space)
    names = _AXES[space]
    if color_by == "cluster":
        assert result is not None  # quantized above
        palette = result.palette[:, :3]
        visible = palette if result.palette.shape[1] == 3 else palette[result.palette[:, 3] > 0]
        labels = nearest_entries(to_space(colors, result.color_space), visible, result.color_space)
        dot_colors = _css(visible[labels])
    else:
        dot_colors = _css(colors)
    share = "all" if len(colors) == n_distinct else f"{len(colors):,} of"
    traces = [
        {
            "type": "scatter3d",
            "x": coordinates[:, 0],
            "y": coordinates[:, 1],
            "z": coordinates[:, 2],
            "mode": "markers",
            "name": "colours",
            "marker": {"size": marker_size, "color": dot_colors, "opacity": 0.8},
            "customdata": counts,
            "hovertemplate": "%{marker.color}<br>%{customdata} pixels<extra></extra>",
        }
    ]
    if centroids and result is not None:
        palette = result.palette[:, :3]
        if result.palette.shape[1] == 4:
            palette = palette[result.palette[:, 3] > 0]
        centre = to_space(palette, space)
        traces.append(
            {
                "type": "scatter3d",
                "x": centre[:, 0],
                "y": centre[:, 1],
                "z": centre[:, 2],
                "mode": "markers",
                "name": f"centroids (k={len(palette)})",
                "marker": {
                    "size": 11,
                    "color": _css(palette),
                    "line": {"color": "black", "width": 3},
                    "symbol": "diamond",
                },
                "hovertemplate": "centroid %{marker.color}<extra></extra>",
            }
        )
    by = "its own colour" if color_by == "pixel" else "its centroid's colour"
    # Plotly validates every colour string with a regular expression, seconds for
    # tens of thousands of dots; these are made here as "rgb(r,g,b)", so it is skipped.
    figure = go.Figure(traces, _validate=False)
    figure.update_layout(
        title={
            "text": f"Each colour in {by}<br><sup>{share} {n_distinct:,} distinct colours, "
            "drawn in proportion to their pixels</sup>",
            "font": {"size": 14},
        },
        scene={"xaxis_title": names[0], "yaxis_title": names[1], "zaxis_title": names[2]},
        margin={"l": 0, "r": 0, "t": 60, "b": 0},
        legend={"orientation": "h", "x": 0, "y": 0},
        height=600,
    )
    return figure


def elbow(image, ks=DEFAULT_KNEE_KS, *, sizes: bool = True, **sweep_options):
    """Inertia, PSNR and palette-PNG size against k, with the suggested k marked.

    Parameters
    ----------
    image : (H, W, C) array, path, or KSweep
    ks : iterable of int, default 1..16
    sizes : bool, default=True
        Encode the palette PNG at every k for the size panel (a full fit per k).
    **sweep_options
        As for :class:`KSweep`.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels sharing the k axis; the suggested k (:func:`knee_point` of the
        inertia) is a dashed line in each, named in the title.
    """
    sweep = _as_sweep(image, sweep_options)
    ks = sorted({int(k) for k in ks})
    inertia = [sweep.point(k)["inertia"] for k in ks]
    psnr = [sweep.point(k)["psnr"] for k in ks]
    suggested = knee_point(ks, inertia)
    panels = 3 if sizes else 2
    figure = _figure(7, 2.2 * panels + 0.4)
    axes = figure.subplots(panels, 1, sharex=True)
    axes[0].plot(ks, inertia, "o-", color="#1f4e79")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("inertia (log)")
    axes[1].plot(ks, psnr, "o-", color="#2e7d32")
    axes[1].set_ylabel("PSNR (dB)")
    if sizes:
        kilobytes = [sweep.size(k, "PNG") / 1000 for k in ks]
        axes[2].plot(ks, kilobytes, "o-", color="#b35900")
        axes[2].set_ylabel("palette PNG (kB)")
    for panel in axes:
        panel.axvline(suggested, color="#c62828", linestyle="--", linewidth=1.5)
        panel.grid(alpha=0.3)
    axes[0].annotate(
        f"suggested k={suggested}",
        xy=(suggested, inertia[ks.index(suggested)]),
        xytext=(8, 8),
        textcoords="offset points",
        color="#c62828",
        fontweight="bold",
    )
    axes[-1].set_xlabel("k (colours)")
    axes[-1].set_xticks(ks)
    figure.suptitle(f"Elbow: the inertia curve bends at k={suggested}")
    return figure
