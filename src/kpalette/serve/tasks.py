"""What each route of the web app asks of the library: plain functions over an upload
and the request's options, each run in a worker thread by ``app.work`` (never on the
event loop). They return bytes and plain data; the routes turn them into answers.
"""

from __future__ import annotations

import io
from pathlib import PurePath

import numpy as np
from PIL import Image

from ..animation import ANIMATION_FORMATS, quantize_animation
from ..choose import choose_k
from ..io import OUTPUT_FORMATS, encode_truecolor, frame_count
from ..options import Options
from ..palette import format_palette
from ..quantize import prepare, quantize_for
from ..sweep import KSweep
from .uploads import Upload, View

__all__ = [
    "CLOUD_POINTS",
    "chosen_k",
    "cloud_data",
    "counted_upload",
    "file_name",
    "full_result",
    "original_png",
    "palette_text",
    "preview_png",
    "quantized",
]

#: Distinct colours drawn in the 3-D cloud (a sample weighted by pixels).
CLOUD_POINTS = 4000


def file_name(name: str, k: int, extension: str) -> str:
    """``<stem>-k<N>.<ext>``, as the CLI names its outputs, kept to safe characters."""
    stem = PurePath(name or "image").stem
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in stem).strip("-.")
    return f"{stem[:80] or 'image'}-k{k}.{extension}"


def quantized(data: bytes, options: Options, image_format: str) -> tuple[bytes, dict]:
    """The encoded image and its summary (``POST /api/quantize``)."""
    fmt = OUTPUT_FORMATS[image_format]
    result = quantize_for(data, fmt, options=options)
    encoded, result = result.encode_file(fmt.name, truecolor=not fmt.palette)
    summary = result.summary(with_ssim=False)
    summary["format"] = image_format
    return encoded, summary


def counted_upload(data: bytes, name: str, max_pixels: int) -> Upload:
    """An upload decoded and counted once; an animation's bytes are kept for the
    download, which has every frame (the page shows the first)."""
    prepared = prepare(data, Options(max_pixels=max_pixels))
    frames = frame_count(data, max_pixels=max_pixels)
    return Upload(
        prepared=prepared,
        name=name,
        data_bytes=len(data),
        frames=frames,
        animation=data if frames > 1 else None,
    )


def original_png(upload: Upload, view: View) -> bytes:
    """The view of the image as uploaded, as a PNG (the page's "before")."""
    return encode_truecolor(view.of(upload.prepared.original), "PNG")


def preview_png(upload: Upload, options: Options, view: View) -> tuple[bytes, dict]:
    """The view mapped at ``options.k``, as a palette PNG, and the fit's numbers.

    Encoded for speed (zlib level 1, no filter search): it only crosses loopback.
    """
    palette, indices, numbers = upload.preview(options, view)
    numbers["view"] = view.as_dict()
    image = Image.fromarray(np.ascontiguousarray(indices, dtype=np.uint8), "P")
    image.putpalette(palette[:, :3].tobytes())
    if palette.shape[1] == 4 and (palette[:, 3] < 255).any():
        image.info["transparency"] = palette[:, 3].tobytes()
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue(), numbers


def full_result(upload: Upload, options: Options, image_format: str) -> tuple[bytes, dict]:
    """The full-size result at ``options.k``, encoded, and its summary."""
    fmt = OUTPUT_FORMATS[image_format]
    result = upload.sweep_for(options).result(options.n_colors)
    # The shared result stays as it is: the value for this file is a new one, whose
    # summary reads this size rather than encode a PNG to measure one.
    encoded, result = result.encode_file(fmt.name, truecolor=not fmt.palette)
    summary = result.summary(with_ssim=False)
    if upload.animation is not None and fmt.name in ANIMATION_FORMATS:
        # The file has every frame over one palette; the measures are the first frame's.
        encoded = upload.animation_file(options, fmt.name, _animation_bytes)
        summary.update(output_bytes=len(encoded), frames=upload.frames)
    summary.update(
        input=upload.name or None,
        input_bytes=upload.data_bytes,
        ratio=round(upload.data_bytes / len(encoded), 4),
        format=image_format,
        file_name=file_name(upload.name, options.n_colors, image_format),
    )
    return encoded, summary


def _animation_bytes(data: bytes, options: Options, image_format: str) -> bytes:
    return quantize_animation(data, options=options).encode(image_format)


def palette_text(upload: Upload, options: Options, fmt: str) -> str:
    """The palette of the full-size result in ``fmt`` (gpl, json, css, hex)."""
    result = upload.sweep_for(options).result(options.n_colors)
    name = PurePath(upload.name or "kpalette").stem or "kpalette"
    return format_palette(result.palette, result.counts, fmt, name=name)


def chosen_k(upload: Upload, options: Options, image_format: str) -> dict:
    """The k of ``k=auto``, ``target_psnr`` or ``max_bytes``, and why."""
    sweep: KSweep = upload.sweep_for(options)
    fmt = OUTPUT_FORMATS[image_format]
    choice = choose_k(sweep, options=options, image_format=fmt.name)
    return {"k": choice.k, "method": choice.method, "reason": choice.reason}


def cloud_data(upload: Upload, options: Options) -> dict:
    """A sample of the image's distinct colours (weighted by pixels) and the fit's
    centroids with their shares: the 3-D cloud's data."""
    histogram = upload.prepared.histogram
    colors, counts = histogram.colors, histogram.counts
    if len(colors) > CLOUD_POINTS:
        rng = np.random.default_rng(0)
        chosen = rng.choice(len(colors), CLOUD_POINTS, replace=False, p=counts / counts.sum())
        colors, counts = colors[chosen], counts[chosen]
    fit = upload.sweep_for(options).fit(options.n_colors)
    entry_counts = fit.entry_counts()
    return {
        "colors": colors[:, :3].tolist(),
        "counts": counts.tolist(),
        "n_colors": histogram.n_colors,
        "centers": fit.palette[:, :3].tolist(),
        "shares": (entry_counts / max(int(entry_counts.sum()), 1)).round(6).tolist(),
    }
