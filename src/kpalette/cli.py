"""The ``kpalette`` command: parse, call the library, report.

Start-up stays light: the library (NumPy, Pillow, the compiled kernels) is imported inside the
commands, so ``kpalette --help`` imports none of it. Every error the library raises
on purpose ends as one line ``kpalette: error: ...`` on stderr and exit status 1;
usage errors exit with 2.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import warnings
from pathlib import Path

from . import __version__

PROG = "kpalette"
MAX_PALETTE_COLORS = 256
PALETTE_EXTENSIONS = (".png", ".gif")
PALETTE_FORMATS = ("hex", "json", "gpl", "css", "png")
COLOR_SPACES = ("rgb", "lab", "oklab")  # kpalette.colorspace.COLOR_SPACES, without importing it


class UsageError(Exception):
    """Bad arguments: reported as ``kpalette: error: ...`` with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with errors as one line, no usage dump."""

    def error(self, message):  # noqa: D401 (argparse's name)
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
        k_help += "; 'auto': the knee of the inertia curve over k=2..16"
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
    """--seed, --colorspace, --max-pixels: shared by every command that fits a palette."""
    parser.add_argument(
        "--seed", type=_whole_number("--seed", 0), default=0, help="random seed (default 0)"
    )
    parser.add_argument(
        "--colorspace",
        choices=COLOR_SPACES,
        default="rgb",
        help="space to cluster in: rgb (lowest MSE), lab or oklab (perceptual; default rgb)",
    )
    parser.add_argument(
        "--max-pixels",
        type=_whole_number("--max-pixels", 1),
        default=None,
        metavar="N",
        help="largest image to decode (default: Pillow's decompression-bomb limit)",
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
    compress.add_argument("input", help="image file")
    _add_engine_options(compress, default_k=16, choosing=True)
    compress.add_argument(
        "-o", "--output", help="output file (default: <stem>-k<N>.png beside the input)"
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
    return parser


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


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dither",
        nargs="?",
        type=_strength,
        const=1.0,
        default=0.0,
        metavar="STRENGTH",
        help="Floyd-Steinberg error diffusion, optionally with a strength in 0..1 (default 1)",
    )
    parser.add_argument(
        "--truecolor", action="store_true", help="write full colour instead of a palette image"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


# --------------------------------------------------------------------------- commands
def _max_pixels(args) -> int:
    from .decode import DEFAULT_MAX_PIXELS

    return args.max_pixels or DEFAULT_MAX_PIXELS


def _engine_kwargs(args) -> dict:
    return {
        "n_init": "auto" if args.n_init is None else args.n_init,
        "max_iter": args.max_iter,
        "random_state": args.seed,
        "color_space": args.colorspace,
        "max_pixels": _max_pixels(args),
    }


def _check_palette_k(k: int, output: Path, truecolor: bool) -> None:
    if not truecolor and output.suffix.lower() in PALETTE_EXTENSIONS and k > MAX_PALETTE_COLORS:
        raise UsageError(
            f"-k {k} is more than a {output.suffix} palette image holds ({MAX_PALETTE_COLORS}); "
            "use --truecolor or a .webp/.tif output"
        )


def _choice_mode(args) -> str | None:
    """None for a given k, else "auto", "target_psnr" or "max_bytes"; checks conflicts."""
    asked = [
        name
        for name, given in (
            ("-k auto", args.k == "auto"),
            ("--target-psnr", args.target_psnr is not None),
            ("--max-bytes", args.max_bytes is not None),
        )
        if given
    ]
    if len(asked) > 1 or (asked and args.k not in (None, "auto")):
        given = asked if args.k in (None, "auto") else [f"-k {args.k}", *asked]
        raise UsageError(
            f"choose one of -k N, -k auto, --target-psnr, --max-bytes; got {' and '.join(given)}"
        )
    if args.k == "auto":
        return "auto"
    return asked[0].lstrip("-").replace("-", "_") if asked else None


def _compress(args, input_path: Path, default_dir: Path) -> int:
    mode = _choice_mode(args)
    k = args.k if args.k is not None else args.default_k
    if mode == "target_psnr":
        label = f"psnr{args.target_psnr:g}"
    elif mode == "max_bytes":
        label = f"max{args.max_bytes}B"
    else:
        label = "kauto" if mode == "auto" else f"k{k}"
    output = Path(args.output) if args.output else default_dir / f"{input_path.stem}-{label}.png"
    if mode is None:
        _check_palette_k(k, output, args.truecolor)
    from . import io
    from .dither import MAX_DITHER_COLORS
    from .result import quantize

    if args.dither and mode is None and k > MAX_DITHER_COLORS:
        raise UsageError(f"--dither takes at most {MAX_DITHER_COLORS} colours, got -k {k}")
    start = time.perf_counter()
    # Fail before the slow part: the output must be writable and not the input.
    image_format = io.format_for_path(output, truecolor=args.truecolor)
    io.check_destination(output, overwrite=args.force, protect=(input_path,))
    choice = None
    engine = _engine_kwargs(args)
    if image_format == "GIF" and not args.truecolor:
        engine["alpha_threshold"] = io.GIF_ALPHA_THRESHOLD  # GIF has no translucency
    if mode is None:
        result = quantize(input_path, k, dither=args.dither, **engine)
    else:
        from .choose import choose_k

        try:
            choice = choose_k(
                input_path,
                target_psnr=args.target_psnr,
                max_bytes=args.max_bytes,
                image_format=image_format,
                truecolor=args.truecolor,
                dither=args.dither,
                **engine,
            )
        except ValueError as exc:  # a target that cannot be met
            from .exceptions import KPaletteError

            raise KPaletteError(str(exc)) from None
        result, k = choice.result, choice.k
    # Measure before writing, so that nothing is left behind if measuring fails.
    _ = result.mse, result.delta_e, (result.ssim if args.json else None)
    result.save(output, truecolor=args.truecolor, overwrite=args.force)
    result.seconds = time.perf_counter() - start
    report = result.summary(with_ssim=args.json)
    report["k"] = k
    if choice is not None:
        report["choice"] = {"method": choice.method, "k": choice.k, "reason": choice.reason}
    if args.json:
        import json  # here: 1.7 ms of every start-up otherwise

        print(json.dumps(report))
    else:
        print(_human_summary(report))
    return 0


def _human_summary(report: dict) -> str:
    psnr = "inf" if report["psnr"] is None else f"{report['psnr']:.2f}"
    lines = [
        f"{report['input']} -> {report['output']}",
        f"  {report['colors']} colour{'' if report['colors'] == 1 else 's'} (k={report['k']}),"
        f" {report['width']}x{report['height']}",
    ]
    if "choice" in report:
        lines.append(f"  chose k={report['k']}: {report['choice']['reason']}")
    size = f"  size {report['input_bytes']:,} B -> {report['output_bytes']:,} B"
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


def _palette(args, input_path: Path) -> int:
    from . import io
    from .result import quantize

    output = Path(args.output) if args.output else None
    if output is not None:
        io.check_destination(output, overwrite=args.force, protect=(input_path,))
    elif args.format == "png":
        raise UsageError("--format png writes an image: give an output file with -o")
    k = args.k if args.k is not None else args.default_k
    result = quantize(input_path, k, **_engine_kwargs(args))
    text = result.palette_text(args.format)
    if output is None:
        sys.stdout.write(text)
    else:
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        io.write_bytes_atomic(output, data, overwrite=args.force, protect=(input_path,))
    return 0


def _explore(args, input_path: Path) -> int:
    output = (
        Path(args.output)
        if args.output
        else input_path.with_name(f"{input_path.stem}-explore.html")
    )
    from . import io
    from .report import build_report

    io.check_destination(output, overwrite=args.force, protect=(input_path,))
    page, facts = build_report(
        input_path,
        random_state=args.seed,
        color_space=args.colorspace,
        max_pixels=_max_pixels(args),
    )
    n_bytes = io.write_bytes_atomic(
        output, page.encode("utf-8"), overwrite=args.force, protect=(input_path,)
    )
    print(f"{input_path} -> {output} ({n_bytes / 1e6:.1f} MB, {facts['seconds']:.1f} s)")
    print(f"  suggested k={facts['suggested_k']}: {facts['reason']}")
    return 0


def run(argv=None) -> int:
    """Run the command line; returns the exit status (raises on errors)."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from .data import sample_image_path

        input_path = sample_image_path()
    else:
        input_path = Path(args.input)
    from .decode import reading_ahead

    # Every command reads one image: decoded in a thread while NumPy and the
    # library are imported here (about 80 ms; see kpalette.decode).
    with reading_ahead(input_path, _max_pixels(args)):
        if args.command == "compress":
            return _compress(args, input_path, input_path.parent)
        if args.command == "demo":
            return _compress(args, input_path, Path("."))
        if args.command == "explore":
            return _explore(args, input_path)
        return _palette(args, input_path)


#: Environment variables that size the thread pool of NumPy's BLAS (OpenBLAS in
#: NumPy's wheels, MKL in some distributions). See :func:`_one_blas_thread`.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _one_blas_thread() -> None:
    """Give NumPy's BLAS one thread in this process, unless the user chose a number.

    kpalette's parallel loops are its own (OpenMP, in ``_kernels``) and it keeps BLAS
    out of its hot paths, so BLAS threads only cost: OpenBLAS starts one per core
    when NumPy is imported, and they busy-wait for a while before sleeping, on the
    cores the kernels' threads need. Measured with 2 cores, the first parallel
    count of a 0.3 MP photo took 6-40 ms with them and 4.5 ms without, and whole
    runs of ``kpalette compress`` on photos of 0.1-2 MP took 15-35 ms less (of
    0.2-0.4 s); large photos were unchanged. Only before NumPy is imported can this
    be set, hence here, at the command line's entry, and not in the library.
    """
    if "numpy" not in sys.modules:
        for name in BLAS_THREAD_VARIABLES:
            os.environ.setdefault(name, "1")


#: Busy-wait iterations of an idle OpenMP thread (libgomp's) before it sleeps, in
#: the command line's processes: see :func:`_short_openmp_spin`.
OPENMP_SPIN_COUNT = "10000"


def _short_openmp_spin() -> None:
    """Have idle OpenMP threads sleep soon, unless the user chose (``GOMP_SPINCOUNT``).

    After each parallel loop, libgomp's threads busy-wait for the next one, 300,000
    iterations by default, which here is milliseconds of a core. The deflate that
    follows the compiled quality measures runs in threads of its own (zlib-ng's,
    not OpenMP), and took 27-38 ms instead of 21 ms on 2 cores beside the spinning
    threads. 10,000 iterations (well under a millisecond) still keep the threads
    awake between the loops of one Lloyd iteration. Whole runs, best of 21 or 9,
    alternated: retina.jpg at k = 256, 211 -> 206 ms; string.jpg at k = 16, 362 ->
    357 ms; wood.jpg at k = 64, 287 -> 285 ms. libgomp reads the variable when it is
    loaded, with kpalette's compiled modules, so it is set before they are imported.
    """
    if not any(name in sys.modules for name in ("kpalette._kernels", "kpalette._scanlines")):
        os.environ.setdefault("GOMP_SPINCOUNT", OPENMP_SPIN_COUNT)


def main(argv=None) -> int:
    """Entry point: errors become one line on stderr and an exit status.

    ``argv`` None means the process's own arguments (``sys.argv``): this process is
    the command line, and ends when the command does.
    """
    _one_blas_thread()
    _short_openmp_spin()
    collecting = gc.isenabled()
    # Python's cycle collector, off for the command: every command does one image,
    # and what it makes is freed by reference counting (the collector found nothing
    # to free at the end of a run). It walked the objects that imports make, about
    # 4 ms of NumPy's import. As the process's own command line, the objects left
    # are frozen before the interpreter's exit, which otherwise walks them all in
    # its collections: 16 ms of every run, 5 ms frozen (measured on retina.jpg).
    gc.disable()
    try:
        return _reporting_errors(argv)
    finally:
        if argv is None:
            gc.freeze()
        if collecting:
            gc.enable()


def _reporting_errors(argv) -> int:
    """:func:`run`, its errors reported as one line each."""
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            status = run(argv)
    except UsageError as exc:
        return _fail(exc, 2)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
        return 1
    except MemoryError:
        return _fail("out of memory (try a smaller image or --max-pixels)", 1)
    except Exception as exc:  # noqa: BLE001 (the one place every error is reported)
        from .exceptions import KPaletteError

        if isinstance(exc, KPaletteError):
            return _fail(exc, 1)
        if isinstance(exc, OSError):
            where = f": {exc.filename}" if exc.filename else ""
            return _fail(f"{exc.strerror or exc}{where}", 1)
        raise
    sys.stdout.flush()
    return status


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings are one line each, like errors, without the source line that raised them."""
    text = " ".join(str(message).split())
    print(f"{PROG}: warning: {text}", file=sys.stderr if file is None else file)


def _fail(message, status: int) -> int:
    text = " ".join(str(message).split())
    print(f"{PROG}: error: {text}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main", "run"]
