"""``compress`` and ``palette`` of an animation (GIF, APNG, WebP): every frame kept,
one palette (through :func:`kpalette.quantize_animation`)."""

from __future__ import annotations

import json
from pathlib import Path

from .. import io
from ..animation import ANIMATION_DITHER, ANIMATION_FORMATS, quantize_animation
from ..options import Options
from .arguments import SKIPPED_LARGER_STATUS, UsageError
from .output import _skipped_as_larger

#: The extension an animation's output gets by default: its own where it can be
#: written again, else GIF.
DEFAULT_SUFFIX = {".gif": ".gif", ".png": ".png", ".apng": ".png", ".webp": ".webp"}


def is_animation(args, input_path: Path, options: Options) -> bool:
    """Whether ``compress`` writes every frame: the input has several and the output
    (given, or by default) is a GIF, PNG or WebP palette image."""
    if getattr(args, "truecolor", False):
        return False
    if args.output and io.output_format(args.output).name not in ANIMATION_FORMATS:
        return False  # a JPEG or TIFF output: the first frame, with a warning
    return (
        io.frame_count(
            input_path, max_pixels=options.max_pixels, max_expansion=options.max_expansion
        )
        > 1
    )


def compress_animation(args, input_path: Path, default_dir: Path, options: Options, palette):
    """Write ``input_path``'s frames over one palette; returns the summary printed."""
    if options.choice is not None:
        raise UsageError(
            f"{input_path} is an animation: give -k N or --palette FILE (choosing k by a "
            "target is for still images)"
        )
    colours = min(options.n_colors, 255) if palette is None else len(palette)
    if args.output:
        output = Path(args.output)
    else:
        suffix = DEFAULT_SUFFIX.get(input_path.suffix.lower(), ".gif")
        output = default_dir / f"{input_path.stem}-k{colours}{suffix}"
    io.check_destination(output, overwrite=args.force, protect=(input_path,))
    if args.dither is None:
        options = options.replace(dither=ANIMATION_DITHER)
    result = quantize_animation(input_path, palette=palette, options=options)
    image_format = io.output_format(output).name
    if getattr(args, "skip_if_larger", False):
        size = len(result.encode(image_format))
        if _skipped_as_larger(args, output, input_path, size, SKIPPED_LARGER_STATUS):
            return ""
    result = result.save(output, overwrite=args.force)
    report = result.summary()
    report["dither"] = options.dither
    report["color_space"] = options.color_space
    return (json.dumps(report) if args.json else _human_summary(report)) + "\n"


def palette_of_animation(input_path: Path, options: Options, fmt: str):
    """The palette ``compress`` gives all of an animation's frames, in ``fmt``."""
    return quantize_animation(input_path, options=options.replace(dither=0.0)).palette_text(fmt)


def _human_summary(report: dict) -> str:
    before = "" if report["input_bytes"] is None else f"{report['input_bytes']:,} B -> "
    size = f"  size {before}{report['output_bytes']:,} B"
    if report["input_bytes"]:
        ratio = report["input_bytes"] / report["output_bytes"]
        size += f" ({ratio:.2f}x smaller)" if ratio >= 1 else f" ({1 / ratio:.2f}x larger)"
    psnr = "inf" if report["psnr"] == float("inf") else f"{report['psnr']:.2f}"
    plays = "looped for ever" if report["plays"] == 0 else f"played {report['plays']}x"
    return "\n".join(
        [
            f"{report['input']} -> {report['output']}",
            f"  {report['frames']} frames of {report['width']}x{report['height']}, one palette of "
            f"{report['colors']} colours, {sum(report['durations_ms']) / 1000:.2f} s {plays}",
            size,
            f"  PSNR {psnr} dB, MSE {report['mse']:.2f} over every frame "
            f"({report['color_space']}{', dithered' if report['dither'] else ''}), "
            f"{report['seconds']:.2f} s",
        ]
    )
