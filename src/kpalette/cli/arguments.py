"""The command line's arguments: the parser of every command, and the types that check
what is typed (a size, a whole number, a strength) with messages that name the option."""

from __future__ import annotations

import argparse
import math

from .. import __version__
from ..batch import BATCH_FORMATS
from ..colorspace import COLOR_SPACES
from ..options import TUNES
from ..palette import PALETTE_FORMATS

PROG = "kpalette"


#: Exit status when --quality MIN is not reached (as pngquant exits).
QUALITY_TOO_LOW_STATUS = 99
#: Exit status when ``--skip-if-larger`` wrote nothing (pngquant's).
SKIPPED_LARGER_STATUS = 98


class UsageError(Exception):
    """Bad arguments: reported as ``kpalette: error: ...`` with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with errors as one line, no usage dump."""

    def error(self, message):
        raise UsageError(message)


def _whole_number(option: str, minimum: int, noun: str = "a whole number"):
    """argparse type: an integer >= ``minimum``, with messages that name the option (for
    the options of the commands themselves: --jobs, --port)."""

    def parse(text: str) -> int:
        value = _integer(option, noun)(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{option} must be at least {minimum}, got {value}")
        return value

    return parse


def _read(convert, option: str, noun: str):
    """argparse type: text to a number by ``convert``; its range is
    :class:`~kpalette.Options`' to check (``commands._checked_options`` then names
    ``option``)."""

    def parse(text: str):
        try:
            return convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} must be {noun}, got {text!r}") from None

    return parse


def _integer(option: str, noun: str = "a whole number"):
    return _read(int, option, noun)


def _number(option: str, noun: str = "a number"):
    return _read(float, option, noun)


def _port(text: str) -> int:
    """argparse type: a TCP port, 0..65535."""
    value = _integer("--port")(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"--port must be in 0..65535, got {value}")
    return value


def _k_or_auto(text: str):
    if text == "auto":
        return "auto"
    return _integer("-k", "a whole number of colours or 'auto'")(text)


_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 10**6, "mb": 10**6}
_SIZE_UNITS |= {"ki": 1024, "kib": 1024, "mi": 1024**2, "mib": 1024**2}


def parse_size_option(option: str):
    """argparse type: a size of 1 byte or more as :func:`parse_size` reads it, errors
    naming ``option`` (for the commands' own sizes: --max-upload)."""

    def parse(text: str) -> int:
        try:
            size = parse_size(text)
        except argparse.ArgumentTypeError:
            size = 0
        if size < 1:
            raise argparse.ArgumentTypeError(
                f"{option} must be a size such as 200000, 200k, 1.5M or 64KiB, got {text!r}"
            )
        return size

    return parse


def parse_size(text: str) -> int:
    """Bytes from ``200000``, ``200k``/``200kB`` (x1000), ``1.5M``, ``64KiB`` (x1024); the
    range (1 byte or more) is :class:`~kpalette.Options`' to check."""
    number = text.strip().rstrip("bBiIkKmM")
    unit = text.strip()[len(number) :].lower()
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if unit not in _SIZE_UNITS or not math.isfinite(value):
        raise argparse.ArgumentTypeError(
            f"--max-bytes must be a size such as 200000, 200k, 1.5M or 64KiB, got {text!r}"
        )
    return int(value * _SIZE_UNITS[unit])


def _add_engine_options(
    parser: argparse.ArgumentParser, *, default_k: int | None, choosing: bool = False
) -> None:
    k_help = f"number of colours{'' if default_k is None else f' (default {default_k})'}"
    if choosing:
        k_help += (
            "; 'auto': the fewest colours, k=2..256, whose SSIMULACRA2 score reaches 70 "
            "(high quality; --quality 70, but 256 colours when they score under)"
        )
    parser.add_argument(
        "-k",
        "--colors",
        dest="k",
        type=_k_or_auto if choosing else _integer("-k", "a whole number of colours"),
        default=None,
        required=default_k is None,
        metavar="N",
        help=k_help,
    )
    parser.set_defaults(default_k=default_k)
    if choosing:
        parser.add_argument(
            "--target-psnr",
            type=_number("--target-psnr"),
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
        type=_integer("--n-init"),
        default=None,
        metavar="N",
        help="k-means++ starts; the best is kept (default: auto)",
    )
    parser.add_argument(
        "--max-iter",
        type=_integer("--max-iter"),
        default=300,
        metavar="N",
        help="most Lloyd iterations",
    )


def _add_threads(parser: argparse.ArgumentParser, what: str = "") -> None:
    parser.add_argument(
        "--threads",
        type=_integer("--threads"),
        default=None,
        metavar="N",
        help="most threads of the compiled loops"
        + what
        + " (default: OMP_NUM_THREADS, else the CPUs this process may use)",
    )


def _add_fit_options(parser: argparse.ArgumentParser) -> None:
    """--seed, --tune, --colorspace, --max-pixels: shared by every command that fits a
    palette."""
    parser.add_argument(
        "--seed", type=_integer("--seed"), default=0, help="random seed (default 0)"
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
        type=_integer("--max-pixels"),
        default=None,
        metavar="N",
        help="largest image to decode (default: Pillow's decompression-bomb limit)",
    )
    _add_threads(parser)
    parser.add_argument(
        "--max-expansion",
        type=_number("--max-expansion"),
        default=None,
        metavar="X",
        help="refuse images over 4 MP that decode to more than X times their file's bytes "
        "(default 1100: more than deflate packs; a bomb or damaged)",
    )


def _k_list(text: str) -> tuple[int, ...]:
    """``2,4,8`` or ``2-10`` (or both, ``2-6,8,16``) as numbers of colours, at most 32
    of them (a grid's panels); their range is :func:`kpalette.explore.build_report`'s
    to check (``_explore`` words its refusal)."""
    ks: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            first, last = int(low), int(high or low)
            if last - first >= 32 or len(ks) > 32:  # never a set of a huge range
                ks = set(range(33))
                break
            ks.update(range(first, last + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--grid must be numbers of colours such as 2,4,8 or 2-10, got {text!r}"
        ) from None
    if len(ks) > 32:
        raise argparse.ArgumentTypeError(f"--grid must be at most 32 numbers, got {text!r}")
    return tuple(sorted(ks))


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
    compress.add_argument(
        "input",
        nargs="+",
        metavar="INPUT",
        help="image file(s), or '-' for standard input; several are each written beside "
        "themselves (no -o)",
    )
    _add_engine_options(compress, default_k=16, choosing=True)
    compress.add_argument(
        "-o",
        "--output",
        help="output file (default: <stem>-k<N>.png beside the input); '-': standard output",
    )
    compress.add_argument(
        "--skip-if-larger",
        action="store_true",
        help="write nothing when the output would not be smaller than the input "
        f"(exit status {SKIPPED_LARGER_STATUS}, as pngquant's)",
    )
    compress.add_argument(
        "--palette",
        metavar="FILE",
        help="map onto this palette instead of fitting one, as pngquant's --map "
        "(.gpl, .json, .hex/.txt, or an image of at most 256 colours)",
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
        "k-grid for k=2, 4, 8 ... 256 (--grid), the palette, 3-D colour clouds, the elbow "
        "chart, a table of k against size and quality, and the suggested k.",
    )
    explore.add_argument("input", help="image file")
    explore.add_argument(
        "--grid",
        type=_k_list,
        default=None,
        metavar="K,K,...",
        help="the k-grid's numbers of colours, as 2,4,8 or 2-10 (default 2,4,8,16,32,64,128,256)",
    )
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
        "--format",
        choices=PALETTE_FORMATS,
        default=None,
        help="output format (default: by the -o file's extension, .gpl .json .css .png "
        ".hex .txt; hex when printing)",
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
    serve.add_argument("--port", type=_port, default=8000, help="TCP port, 0..65535 (default 8000)")
    serve.add_argument("--open", action="store_true", help="open the page in a browser")
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this host name (repeatable; the loopback names "
        "and --host are answered; others are refused, against DNS rebinding; '*' for any)",
    )
    serve.add_argument(
        "--max-upload",
        type=parse_size_option("--max-upload"),
        default=None,
        metavar="SIZE",
        help="largest upload (default 50M)",
    )
    serve.add_argument(
        "--max-pixels",
        type=_integer("--max-pixels"),
        default=None,
        metavar="N",
        help="largest image to decode (default: Pillow's decompression-bomb limit)",
    )
    _add_threads(serve, " that the requests working at once share (and each pool's workers)")
    serve.set_defaults(quiet=True)
    return parser


def _add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no status line while working (shown on a terminal for work over a second)",
    )


def _add_dither(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dither",
        nargs="?",
        type=_number("--dither", "a strength in 0..1"),
        const=1.0,
        default=None,
        metavar="STRENGTH",
        help="Floyd-Steinberg error diffusion, optionally with a strength in 0..1 (default 1; "
        "without --dither, none, but 0.75 for an animation)",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    _add_dither(parser)
    parser.add_argument(
        "--truecolor", action="store_true", help="write full colour instead of a palette image"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    _add_quiet(parser)
