"""The ``kpalette`` command: parse the arguments into :class:`~kpalette.Options`, call the
library, report.

Every error the library raises on purpose ends as one line ``kpalette: error: ...`` on
stderr and exit status 1; usage errors exit with 2.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

from . import __version__, io
from .batch import BATCH_FORMATS
from .colorspace import COLOR_SPACES
from .data import sample_image_path
from .exceptions import KPaletteError, QualityTooLow
from .options import DEFAULT_MAX_PIXELS, TUNES, Options
from .palette import PALETTE_FORMATS, read_palette
from .quantize import quantize, quantize_for

PROG = "kpalette"
#: Exit status when --quality MIN is not reached (as pngquant exits).
QUALITY_TOO_LOW_STATUS = 99


class UsageError(Exception):
    """Bad arguments: reported as ``kpalette: error: ...`` with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with errors as one line, no usage dump."""

    def error(self, message):
        raise UsageError(message)


def _whole_number(option: str, minimum: int, noun: str = "a whole number"):
    """argparse type: an integer >= ``minimum``, with messages that name the option."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} must be {noun}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{option} must be at least {minimum}, got {value}")
        return value

    return parse


def _k_or_auto(text: str):
    if text == "auto":
        return "auto"
    return _whole_number("-k", 1, "a whole number of colours or 'auto'")(text)


_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 10**6, "mb": 10**6}
_SIZE_UNITS |= {"ki": 1024, "kib": 1024, "mi": 1024**2, "mib": 1024**2}


def parse_size_option(option: str):
    """argparse type: a size as :func:`parse_size` reads it, errors naming ``option``."""

    def parse(text: str) -> int:
        try:
            return parse_size(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"{option} must be a size such as 200000, 200k, 1.5M or 64KiB, got {text!r}"
            ) from None

    return parse


def parse_size(text: str) -> int:
    """Bytes from ``200000``, ``200k``/``200kB`` (x1000), ``1.5M``, ``64KiB`` (x1024)."""
    number = text.strip().rstrip("bBiIkKmM")
    unit = text.strip()[len(number) :].lower()
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if unit not in _SIZE_UNITS or value <= 0:
        raise argparse.ArgumentTypeError(
            f"--max-bytes must be a size such as 200000, 200k, 1.5M or 64KiB, got {text!r}"
        )
    return int(value * _SIZE_UNITS[unit])


def _positive_number(option: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{option} must be a positive number, got {text!r}")
        return value

    return parse


def _add_engine_options(
    parser: argparse.ArgumentParser, *, default_k: int | None, choosing: bool = False
) -> None:
    k_help = f"number of colours{'' if default_k is None else f' (default {default_k})'}"
    if choosing:
        k_help += (
            "; 'auto': the fewest colours, k=2..256, whose mean CIEDE2000 difference is "
            "under 2 (not seen at a glance)"
        )
    parser.add_argument(
        "-k",
        "--colors",
        dest="k",
        type=_k_or_auto if choosing else _whole_number("-k", 1, "a whole number of colours"),
        default=None,
        required=default_k is None,
        metavar="N",
        help=k_help,
    )
    parser.set_defaults(default_k=default_k)
    if choosing:
        parser.add_argument(
            "--target-psnr",
            type=_positive_number("--target-psnr"),
            metavar="DB",
            help="the fewest colours whose PSNR reaches DB",
        )
        parser.add_argument(
            "--max-bytes",
            type=parse_size,
            metavar="SIZE",
            help="the most colours whose output file fits in SIZE (200000, 200k, 1.5M, 64KiB)",
        )
        parser.add_argument(
            "--quality",
            metavar="MIN-MAX",
            help="a perceptual target on the SSIMULACRA2 scale (0-100; 70 is high quality), "
            "as pngquant's: the fewest colours whose score reaches MAX; if even 256 colours "
            "stay under MIN, nothing is written and the exit status is 99. "
            "One number Q means 0-Q",
        )
    _add_fit_options(parser)
    parser.add_argument(
        "--n-init",
        type=_whole_number("--n-init", 1),
        default=None,
        metavar="N",
        help="k-means++ starts; the best is kept (default: auto)",
    )
    parser.add_argument(
        "--max-iter",
        type=_whole_number("--max-iter", 1),
        default=300,
        metavar="N",
        help="most Lloyd iterations",
    )


def _add_fit_options(parser: argparse.ArgumentParser) -> None:
    """--seed, --tune, --colorspace, --max-pixels: shared by every command that fits a
    palette."""
    parser.add_argument(
        "--seed", type=_whole_number("--seed", 0), default=0, help="random seed (default 0)"
    )
    parser.add_argument(
        "--tune",
        choices=tuple(TUNES),
        default="eye",
        help="eye (default): the best-looking file for its bytes (clustered in OKLab, "
        "pixels may share a neighbour's colour where the eye cannot tell, so the file "
        "deflates smaller); mse: the lowest RGB mean squared error at every k",
    )
    parser.add_argument(
        "--colorspace",
        choices=COLOR_SPACES,
        default=None,
        help="space to cluster in: rgb (lowest MSE), lab or oklab (perceptual); "
        "default: the tune's (oklab for eye, rgb for mse)",
    )
    parser.add_argument(
        "--max-pixels",
        type=_whole_number("--max-pixels", 1),
        default=None,
        metavar="N",
        help="largest image to decode (default: Pillow's decompression-bomb limit)",
    )
    parser.add_argument(
        "--max-expansion",
        type=float,  # checked by Options, as every option is
        default=None,
        metavar="X",
        help="refuse images over 4 MP that decode to more than X times their file's bytes "
        "(default 1100: more than deflate packs; a bomb or damaged)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Reduce the colours of images with K-means: smaller files, measured quality.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    compress = commands.add_parser(
        "compress",
        help="quantize an image and write it",
        description="Quantize an image to N colours and write it (format by extension: "
        ".png and .gif as palette images; .webp, .jpg, .tif in full colour).",
    )
    compress.add_argument("input", help="image file, or '-' for standard input")
    _add_engine_options(compress, default_k=16, choosing=True)
    compress.add_argument(
        "-o",
        "--output",
        help="output file (default: <stem>-k<N>.png beside the input); '-': standard output",
    )
    compress.add_argument(
        "--format",
        choices=("png", "gif", "webp", "jpg", "tif"),
        default=None,
        help="the format of -o - (standard output; default png)",
    )
    _add_output_options(compress)

    demo = commands.add_parser(
        "demo",
        help="compress the photo bundled with kpalette",
        description="Compress the bundled CC0 photo (coffee.png) into the current folder.",
    )
    _add_engine_options(demo, default_k=16, choosing=True)
    demo.add_argument("-o", "--output", help="output file (default: ./coffee-k<N>.png)")
    _add_output_options(demo)

    explore = commands.add_parser(
        "explore",
        help="write an HTML page about an image's colours",
        description="Write one self-contained HTML page (works offline): the original, the "
        "k-grid for k=2..10, the palette, 3-D colour clouds, the elbow chart, a table of "
        "k against size and quality, and the suggested k.",
    )
    explore.add_argument("input", help="image file")
    explore.add_argument(
        "-o", "--output", help="the page (default: <stem>-explore.html beside the input)"
    )
    _add_fit_options(explore)
    explore.add_argument("--force", action="store_true", help="overwrite an existing output")
    _add_quiet(explore)

    palette = commands.add_parser(
        "palette",
        help="print or write an image's palette",
        description="Fit N colours and print them, most used first, with each one's share.",
    )
    palette.add_argument("input", help="image file")
    _add_engine_options(palette, default_k=8)
    palette.add_argument(
        "--format", choices=PALETTE_FORMATS, default="hex", help="output format (default hex)"
    )
    palette.add_argument("-o", "--output", help="write to this file instead of printing")
    palette.add_argument("--force", action="store_true", help="overwrite an existing output")
    _add_quiet(palette)

    batch = commands.add_parser(
        "batch",
        help="compress many images, on every core",
        description="Compress files, folders (walked recursively; images recognised by "
        "their content) and glob patterns into OUT_DIR, keeping their folder layout. "
        "Existing outputs are skipped unless --force: a batch run again finishes the rest.",
    )
    batch.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders, patterns")
    batch.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output folder")
    _add_engine_options(batch, default_k=16, choosing=True)
    batch.add_argument(
        "--format", choices=BATCH_FORMATS, default="png", help="output format (default png)"
    )
    _add_dither(batch)
    batch.add_argument(
        "-j",
        "--jobs",
        type=_whole_number("--jobs", 1),
        default=None,
        metavar="N",
        help="images compressed at once, each in a process of its own (default: every core)",
    )
    batch.add_argument("--report", metavar="FILE", help="one row per input, .csv or .jsonl")
    batch.add_argument("--force", action="store_true", help="replace existing outputs")
    batch.add_argument(
        "--skip-if-larger", action="store_true", help="do not write outputs larger than inputs"
    )
    batch.add_argument(
        "--shared-palette",
        action="store_true",
        help="one palette for every image (their colour histograms summed)",
    )
    batch.add_argument(
        "--palette",
        metavar="FILE",
        help="map every image onto this palette (.gpl, .json, .hex/.txt, or an image)",
    )
    batch.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a Dask cluster (tcp://HOST:PORT); the paths must be the same on its "
        "workers (needs kpalette[dask])",
    )
    _add_quiet(batch)

    serve = commands.add_parser(
        "serve",
        help="a local web page: drop an image, choose the colours, download",
        description=(
            "Serve kpalette's web page and HTTP API (needs kpalette[web]): drop an image "
            "on the page, slide k, compare before and after, download the result and its "
            "palette. Uploads are kept in memory only."
        ),
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    serve.add_argument(
        "--port", type=_whole_number("--port", 0), default=8000, help="port (default 8000)"
    )
    serve.add_argument("--open", action="store_true", help="open the page in a browser")
    serve.add_argument(
        "--max-upload",
        type=parse_size_option("--max-upload"),
        default=None,
        metavar="SIZE",
        help="largest upload (default 50M)",
    )
    serve.add_argument(
        "--max-pixels",
        type=_whole_number("--max-pixels", 1),
        default=None,
        metavar="N",
        help="largest image to decode (default: Pillow's decompression-bomb limit)",
    )
    serve.set_defaults(quiet=True)
    return parser


def _add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no status line while working (shown on a terminal for work over a second)",
    )


def _strength(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--dither strength must be a number in 0..1, got {text!r}"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"--dither strength must be in 0..1, got {text}")
    return value


def _add_dither(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dither",
        nargs="?",
        type=_strength,
        const=1.0,
        default=0.0,
        metavar="STRENGTH",
        help="Floyd-Steinberg error diffusion, optionally with a strength in 0..1 (default 1)",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    _add_dither(parser)
    parser.add_argument(
        "--truecolor", action="store_true", help="write full colour instead of a palette image"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    _add_quiet(parser)


# --------------------------------------------------------------------------- commands
def _options(args, **fields) -> Options:
    """The library's options from the parsed arguments; a bad combination is a usage error."""
    given = {
        "seed": args.seed,
        "tune": args.tune,
        "color_space": args.colorspace,
    }
    for name in ("max_pixels", "max_expansion"):  # the library's defaults, unless given
        if getattr(args, name, None) is not None:
            given[name] = getattr(args, name)
    for name, field in (("n_init", "n_init"), ("max_iter", "max_iter"), ("dither", "dither")):
        if getattr(args, name, None) is not None:
            given[field] = getattr(args, name)
    for name in ("target_psnr", "max_bytes", "quality"):
        if getattr(args, name, None) is not None:
            given[name] = getattr(args, name)
    if getattr(args, "k", None) is not None:
        given["k"] = args.k
    elif not {"target_psnr", "max_bytes", "quality"} & set(given) and hasattr(args, "default_k"):
        given["k"] = args.default_k
    given.update(fields)
    try:
        return Options(**given)
    except ValueError as exc:
        raise UsageError(_option_names(str(exc))) from None


def _option_names(message: str) -> str:
    """A library message with the command line's names of the options."""
    for library, option in (
        ("k='auto'", "-k auto"),
        ("target_psnr", "--target-psnr"),
        ("max_expansion", "--max-expansion"),
        ("max_bytes", "--max-bytes"),
        ("quality must", "--quality must"),
        (" and quality;", " and --quality;"),
        ("k=", "-k "),
        ("choose one of k,", "choose one of -k N,"),
    ):
        message = message.replace(library, option)
    return message


def _default_output(input_path: Path, folder: Path, k: int) -> Path:
    """``<stem>-k<N>.png`` in ``folder``: N the number of colours, chosen or given."""
    return folder / f"{input_path.stem}-k{k}.png"


def _compress(args, input_path: Path, default_dir: Path) -> str:
    options = _options(args)
    if str(input_path) == "-" or args.output == "-":
        return _compress_piped(args, input_path, options)
    named = args.output is None and options.choice is not None  # named once k is chosen
    if args.output:
        output = Path(args.output)
    else:
        output = _default_output(input_path, default_dir, 0 if named else options.n_colors)
    # Fail before the slow part: the output must be writable and not the input.
    fmt = io.output_format(output)
    io.format_for_path(output, truecolor=args.truecolor)  # refuses --truecolor for a GIF
    palette_image = fmt.palette and not args.truecolor
    if palette_image and options.choice is None and options.n_colors > io.MAX_PALETTE_COLORS:
        raise UsageError(
            f"-k {options.n_colors} is more than a {output.suffix} palette image holds "
            f"({io.MAX_PALETTE_COLORS}); use --truecolor or a .webp/.tif output"
        )
    _refuse_lossy_targets(fmt, options)
    if named:  # the folder, now; the name once k is chosen
        io.check_destination(output, overwrite=True, protect=(input_path,))
    else:
        io.check_destination(output, overwrite=args.force, protect=(input_path,))
    result = quantize_for(input_path, fmt, truecolor=args.truecolor, options=options)
    # Measured before writing (the measures are cached), so that nothing is left
    # behind if measuring fails; the summary after it has the file's size.
    _ = result.mse, result.delta_e, (result.ssim if args.json else None)
    if named:
        output = _default_output(input_path, default_dir, result.n_colors)
    result = result.save(output, truecolor=args.truecolor, overwrite=args.force)
    report = result.summary(with_ssim=args.json)
    return (json.dumps(report) if args.json else _human_summary(report)) + "\n"


def _refuse_lossy_targets(fmt, options: Options) -> None:
    """A quality or size target cannot be met through a lossy output: a usage error."""
    if fmt.lossy and options.choice in ("target_psnr", "max_bytes", "quality"):
        option = {
            "target_psnr": "--target-psnr",
            "max_bytes": "--max-bytes",
            "quality": "--quality",
        }[options.choice]
        raise UsageError(
            f"{option} cannot be met through a lossy {fmt.name} output: its quality and size "
            "do not follow the number of colours; write .png, .gif, .webp or .tif"
        )


def _compress_piped(args, input_path: Path, options: Options) -> str:
    """``compress`` reading ``-`` (standard input) or writing ``-o -`` (standard
    output, in ``--format``); with the image on standard output, the summary goes to
    standard error."""
    if args.output is None:
        raise UsageError("reading standard input ('-') needs an output: -o FILE or -o -")
    to_stdout = args.output == "-"
    if to_stdout:
        name = f"stdout.{args.format or 'png'}"
        if args.format is None:
            name = "stdout.png"
    else:
        name = args.output
        if args.format is not None:
            raise UsageError("--format is for -o - (standard output); a file's extension names it")
    fmt = io.output_format(name)
    image_format = io.format_for_path(name, truecolor=args.truecolor)
    _refuse_lossy_targets(fmt, options)
    if not to_stdout:
        io.check_destination(args.output, overwrite=args.force)
    image = sys.stdin.buffer.read() if str(input_path) == "-" else input_path
    result = quantize_for(image, fmt, truecolor=args.truecolor, options=options)
    _ = result.mse, result.delta_e, (result.ssim if args.json else None)
    if to_stdout:
        data, result = result.encode_file(image_format, truecolor=args.truecolor or not fmt.palette)
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        result = result.save(args.output, truecolor=args.truecolor, overwrite=args.force)
    report = result.summary(with_ssim=args.json)
    text = (json.dumps(report) if args.json else _human_summary(report)) + "\n"
    if to_stdout:
        print(text, end="", file=sys.stderr)
        return ""
    return text


def _human_summary(report: dict) -> str:
    psnr = "inf" if report["psnr"] is None else f"{report['psnr']:.2f}"
    colours = f"{report['colors']:,} colour{'' if report['colors'] == 1 else 's'}"
    if report.get("lossy"):
        colours += " in the lossy file"
    lines = [
        f"{report['input'] or 'standard input'} -> {report['output'] or 'standard output'}",
        f"  {colours} (k={report['k']}), {report['width']}x{report['height']}",
    ]
    if "choice" in report:
        lines.append(f"  chose k={report['k']}: {report['choice']['reason']}")
    before = "" if report["input_bytes"] is None else f"{report['input_bytes']:,} B -> "
    size = f"  size {before}{report['output_bytes']:,} B"
    if report["ratio"] and report["ratio"] >= 1:
        size += f" ({report['ratio']:.2f}x smaller)"
    elif report["ratio"]:
        size += f" ({1 / report['ratio']:.2f}x larger)"
    lines.append(f"{size}, {report['bits_per_pixel']:.2f} bits/pixel")
    lines.append(
        f"  PSNR {psnr} dB, MSE {report['mse']:.2f}, mean CIEDE2000 {report['delta_e']:.2f}"
        f" ({report['color_space']}{', dithered' if report['dither'] else ''}),"
        f" {report['seconds']:.2f} s"
    )
    return "\n".join(lines)


def _palette(args, input_path: Path) -> str:
    output = Path(args.output) if args.output else None
    if output is not None:
        io.check_destination(output, overwrite=args.force, protect=(input_path,))
    elif args.format == "png":
        raise UsageError("--format png writes an image: give an output file with -o")
    result = quantize(input_path, options=_options(args))
    text = result.palette_text(args.format)
    if output is None:
        return text
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    io.write_bytes_atomic(output, data, overwrite=args.force, protect=(input_path,))
    return ""


def _batch(args) -> str:
    """``kpalette batch``: every input a row; failures reported and counted, not fatal."""
    from . import batch

    start = time.perf_counter()
    if args.shared_palette and args.palette:
        raise UsageError("give --shared-palette or --palette, not both")
    options = _options(args)
    if args.palette and options.choice is not None:
        raise UsageError("--palette gives the colours: it takes no -k auto or target")
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"the output {str(out_dir)!r} is a file, not a folder")
    if not out_dir.exists():
        if not out_dir.parent.is_dir():
            raise UsageError(f"the output folder's parent does not exist: {str(out_dir.parent)!r}")
        out_dir.mkdir()
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise UsageError(f"the output folder is not writable: {str(out_dir)!r}")
    try:
        found, not_images = batch.discover(args.inputs, out_dir)
        jobs = batch.plan(found, out_dir, args.format)
        palette = read_palette(args.palette) if args.palette else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    workers = max(1, min(args.jobs or cores, len(jobs) or 1))
    client = _dask_client(args.scheduler) if args.scheduler else None
    if args.shared_palette and jobs:
        palette = batch.shared_palette(jobs, options, workers=workers, client=client)
    settings = batch.Settings(
        extension=args.format,
        force=args.force,
        skip_if_larger=args.skip_if_larger,
        palette=palette,
        measure=args.report is not None,
    )
    counts = {"ok": 0, "skipped": 0, "skipped-larger": 0, "failed": 0}
    bytes_in = bytes_out = 0
    megapixels = 0.0
    bar = _batch_bar(len(jobs), enabled=not args.quiet and _stderr_is_terminal())
    with _report_writer(args.report) as write_row:
        for row in batch.run(jobs, options, settings, workers=workers, client=client):
            counts[row.status] += 1
            write_row(row.as_dict())
            if row.status == "failed":
                _error_line(f"{row.input}: {row.error}", bar)
            if row.status == "ok":
                bytes_in += row.input_bytes or 0
                bytes_out += row.output_bytes or 0
                megapixels += (row.width or 0) * (row.height or 0) / 1e6
            if bar is not None:
                elapsed = max(time.perf_counter() - start, 1e-9)
                bar.set_postfix_str(f"{megapixels / elapsed:.1f} MP/s, {counts['failed']} failed")
                bar.update(1)
    if bar is not None:
        bar.close()
    args.status = 1 if counts["failed"] else 0
    if args.quiet:
        return ""
    skipped = counts["skipped"] + counts["skipped-larger"]
    return (
        f"{counts['ok']} done, {skipped} skipped, {counts['failed']} failed"
        f"{f', {not_images} not images' if not_images else ''}; "
        f"{bytes_in:,} B -> {bytes_out:,} B; {time.perf_counter() - start:.1f} s\n"
    )


def _serve(args) -> str:
    """``kpalette serve``: the web app under uvicorn until interrupted."""
    from .exceptions import require_extra

    for module in ("starlette", "uvicorn", "multipart"):
        require_extra(module, "web")
    import uvicorn

    from .serve import DEFAULT_MAX_UPLOAD, create_app

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        _warn_line(
            f"serving on {args.host}: other machines can reach the page and upload to it; "
            "the default is 127.0.0.1 (this machine only)"
        )
    app = create_app(
        max_upload=args.max_upload or DEFAULT_MAX_UPLOAD,
        max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,  # the library's default
    )
    url = f"http://{args.host}:{args.port}/"
    print(f"{PROG}: serving on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    if args.open:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return ""


def _dask_client(address: str):
    """A client of the Dask cluster at ``address``; the extra to install if missing."""
    from .exceptions import require_extra

    require_extra("distributed", "dask")
    from distributed import Client

    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise KPaletteError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


def _batch_bar(total: int, *, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, unit="file", leave=False, desc=PROG)


def _error_line(message: str, bar) -> None:
    text = f"{PROG}: error: {' '.join(message.split())}"
    if bar is None:
        print(text, file=sys.stderr, flush=True)
    else:
        bar.write(text, file=sys.stderr)


@contextlib.contextmanager
def _report_writer(path):
    """A function writing one report row as each input finishes (flushed at once, so a
    killed batch leaves a valid report of what it finished); nothing without a path."""
    if path is None:
        yield lambda row: None
        return
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise UsageError(f"--report must end in .csv or .jsonl, got {str(path)!r}")
    import csv

    from .batch import Row

    with open(path, "w", newline="", encoding="utf-8") as handle:
        if suffix == ".csv":
            writer = csv.DictWriter(handle, fieldnames=list(Row(input="").as_dict()))
            writer.writeheader()

            def write(row: dict) -> None:
                writer.writerow(row)
                handle.flush()

        else:

            def write(row: dict) -> None:
                handle.write(json.dumps(row) + "\n")
                handle.flush()

        yield write


def _explore(args, input_path: Path) -> str:
    from .explore import build_report

    output = (
        Path(args.output)
        if args.output
        else input_path.with_name(f"{input_path.stem}-explore.html")
    )
    io.check_destination(output, overwrite=args.force, protect=(input_path,))
    page, facts = build_report(input_path, options=_options(args))
    n_bytes = io.write_bytes_atomic(
        output, page.encode("utf-8"), overwrite=args.force, protect=(input_path,)
    )
    return (
        f"{input_path} -> {output} ({n_bytes / 1e6:.1f} MB, {facts['seconds']:.1f} s)\n"
        f"  suggested k={facts['suggested_k']}: {facts['reason']}\n"
    )


def run(argv=None) -> int:
    """Run the command line; returns the exit status (raises on errors)."""
    return _execute(build_parser().parse_args(argv))


def _execute(args) -> int:
    with _status_line(enabled=not args.quiet and args.command != "batch" and _stderr_is_terminal()):
        text = _run_command(args)
    sys.stdout.write(text)  # once the status line is gone
    return getattr(args, "status", 0)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def _status_line(*, enabled: bool):
    """While the block runs, what the library says it is doing (kpalette.progress), on
    one line of the standard error that tqdm rewrites in place, from the first second on,
    and clears at the end."""
    if not enabled:
        yield
        return
    from tqdm import tqdm

    from .progress import reporting

    started = time.monotonic()
    line = None

    def show(message: str) -> None:
        nonlocal line
        if line is None:
            if time.monotonic() - started < STATUS_AFTER:
                return
            line = tqdm(total=None, file=sys.stderr, leave=False, bar_format=STATUS_FORMAT)
        line.set_description_str(message)

    try:
        with reporting(show):
            yield
    finally:
        if line is not None:
            line.close()


#: Seconds of work before the status line shows, and what it shows.
STATUS_AFTER = 1.0
STATUS_FORMAT = f"{PROG}: {{desc}} ({{elapsed}})"


def _run_command(args) -> str:
    """The command's work; returns what it prints on the standard output."""
    if args.command == "demo":
        return _compress(args, sample_image_path(), Path("."))
    if args.command == "batch":
        return _batch(args)
    if args.command == "serve":
        return _serve(args)
    input_path = Path(args.input)
    if args.command == "compress":
        return _compress(args, input_path, input_path.parent)
    if args.command == "explore":
        return _explore(args, input_path)
    return _palette(args, input_path)


#: The commands that run once and end: only they hold back the standard error and pause
#: the garbage collector. ``serve`` runs for hours and ``batch`` for many files, and
#: each keeps the process as it found it.
SHORT_COMMANDS = frozenset({"demo", "compress", "palette", "explore"})


def main(argv=None) -> int:
    """Entry point: errors become one line on stderr and an exit status.

    ``argv`` None means the process's own arguments: this process is the command line.
    """
    held: list[str] = []
    try:
        args = build_parser().parse_args(argv)
        short = args.command in SHORT_COMMANDS
        with warnings.catch_warnings(record=args.command != "serve") as caught:
            warnings.simplefilter("default")
            with (
                _held_stderr(held) if short else contextlib.nullcontext(),
                _collector_paused(process=argv is None) if short else contextlib.nullcontext(),
            ):
                status = _execute(args)
        for warning in caught or ():
            _warn_line(str(warning.message))
        for line in held:
            _warn_line(line)
    except UsageError as exc:
        return _fail(exc, 2)
    except QualityTooLow as exc:  # pngquant's status for a quality under the minimum
        return _fail(exc, QUALITY_TOO_LOW_STATUS)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
        return 1
    except MemoryError as exc:  # refused before the allocation, or out of memory in it
        return _fail(str(exc) or "out of memory (try a smaller image or --max-pixels)", 1)
    except (KPaletteError, ValueError) as exc:
        # ValueError: a choice of k that cannot be met (the message says what was reached).
        return _fail(exc, 1)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{where}", 1)
    except Exception as exc:  # noqa: BLE001 (a bug: still one line, no traceback)
        return _fail(f"internal error ({type(exc).__name__}: {exc}); please report it", 70)
    sys.stdout.flush()
    return status


@contextlib.contextmanager
def _collector_paused(*, process: bool):
    """The cycle collector off for a short command: it finds nothing to free in one run
    but walks every object the imports made (docs/benchmarks.md, "Process settings").
    When the command is the process (``process``), what is left is frozen as it ends."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if process:
            gc.freeze()
        if collecting:
            gc.enable()


def _warn_line(message: str) -> None:
    """A warning as one line, like errors, without the source line that raised it."""
    text = " ".join(str(message).split())
    if text:
        print(f"{PROG}: warning: {text}", file=sys.stderr)


@contextlib.contextmanager
def _held_stderr(lines: list[str]):
    """The process's standard error (file descriptor 2) into a temporary file for the
    block; its lines are appended to ``lines`` after it. Python's own ``sys.stderr``
    is left as it is."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no descriptor 2 (embedded interpreters): nothing held
        yield
        return
    python_stderr = sys.stderr
    try:
        on_descriptor_2 = python_stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # a stream of its own (a test's capture)
        on_descriptor_2 = False
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            if on_descriptor_2:  # Python's own writes still reach the terminal
                sys.stderr = os.fdopen(os.dup(saved), "w", closefd=True)
            yield
        finally:
            if on_descriptor_2:
                with contextlib.suppress(Exception):
                    sys.stderr.flush()
                    sys.stderr.close()
            sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines.extend(held.read().decode("utf-8", "replace").splitlines())


def _fail(message, status: int) -> int:
    text = " ".join(str(message).split())
    print(f"{PROG}: error: {text}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main", "run"]
