"""The commands: each turns its parsed arguments into :class:`~kpalette.Options`, calls
the library's public functions and returns what it prints."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
import webbrowser
from pathlib import Path

from .. import batch, io, storage
from ..animation import ANIMATION_DITHER
from ..data import sample_image_path
from ..exceptions import KPaletteError, require_extra
from ..explore import build_report
from ..options import DEFAULT_MAX_PIXELS, OptionError, Options
from ..palette import read_palette
from ..quantize import quantize, quantize_for
from . import animation
from .arguments import (
    PROG,
    SKIPPED_LARGER_STATUS,
    UsageError,
)
from .output import (
    _batch_bar,
    _error_line,
    _human_summary,
    _report_writer,
    _skipped_as_larger,
    _stderr_is_terminal,
    _warn_line,
)


# --------------------------------------------------------------------------- commands
def _options(args, **fields) -> Options:
    """The library's options from the parsed arguments; a bad combination is a usage error."""
    given = {
        "seed": args.seed,
        "tune": args.tune,
        "color_space": args.colorspace,
    }
    for name in ("max_pixels", "max_expansion", "threads"):  # the library's, unless given
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
    return _checked_options(**given)


#: The command line's name for each option of :class:`~kpalette.Options` it sets.
OPTION_NAMES = {
    "k": "-k",
    "target_psnr": "--target-psnr",
    "max_bytes": "--max-bytes",
    "quality": "--quality",
    "tune": "--tune",
    "color_space": "--colorspace",
    "dither": "--dither",
    "seed": "--seed",
    "n_init": "--n-init",
    "max_iter": "--max-iter",
    "max_pixels": "--max-pixels",
    "max_expansion": "--max-expansion",
    "threads": "--threads",
}


def _checked_options(**given) -> Options:
    """``Options(**given)``, whose checks are the only ones of these ranges; what it
    refuses becomes a usage error in the command line's names."""
    try:
        return Options(**given)
    except OptionError as exc:
        value = exc.value if isinstance(exc.value, int | float) else repr(exc.value)
        option = OPTION_NAMES.get(exc.field, exc.field)
        raise UsageError(f"{option} must be {exc.requirement}, got {value}") from None
    except ValueError as exc:
        raise UsageError(_option_names(str(exc))) from None


def _option_names(message: str) -> str:
    """A library message about a combination of options, in the command line's names."""
    for library, option in (
        ("k='auto'", "-k auto"),
        ("target_psnr", "--target-psnr"),
        ("max_bytes", "--max-bytes"),
        (" and quality;", " and --quality;"),
        ("k=", "-k "),
        ("choose one of k,", "choose one of -k N,"),
    ):
        message = message.replace(library, option)
    return message


def _default_output(input_path: Path, folder: Path, k: int) -> Path:
    """``<stem>-k<N>.png`` in ``folder``: N the number of colours, chosen or given."""
    return folder / f"{input_path.stem}-k{k}.png"


def _compress_each(args) -> str:
    """``kpalette compress`` of one input, or of several, each written beside itself:
    a failed input is one error line and the others go on (exit status 1 if any
    failed, else 98 if one was skipped as larger)."""
    if len(args.input) == 1:
        return _compress(args, Path(args.input[0]), Path(args.input[0]).parent)
    if "-" in args.input:
        raise UsageError("'-' (standard input) is one input: give it alone")
    if args.output is not None:
        raise UsageError(
            "-o names one file: with several inputs each is written beside itself as "
            "<stem>-k<N>.png (or use kpalette batch INPUTS -o FOLDER)"
        )
    texts, failed, skipped = [], 0, 0
    for name in args.input:
        args.status = 0
        try:
            texts.append(_compress(args, Path(name), Path(name).parent))
        except (KPaletteError, OSError, ValueError, MemoryError) as exc:
            failed += 1
            message = " ".join(str(exc).split()) or type(exc).__name__
            _error_line(message if name in message else f"{name}: {message}", None)
        skipped += args.status == SKIPPED_LARGER_STATUS
    args.status = 1 if failed else (SKIPPED_LARGER_STATUS if skipped else 0)
    return "".join(texts)


def _compress(args, input_path: Path, default_dir: Path) -> str:
    options = _options(args)
    palette = read_palette(args.palette) if getattr(args, "palette", None) else None
    if palette is not None and options.choice is not None:
        raise UsageError("--palette gives the colours: it takes no -k auto or target")
    if str(input_path) == "-" or args.output == "-":
        return _compress_piped(args, input_path, options, palette)
    if animation.is_animation(args, input_path, options):
        return animation.compress_animation(args, input_path, default_dir, options, palette)
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
    result = quantize_for(
        input_path, fmt, truecolor=args.truecolor, palette=palette, options=options
    )
    # Measured before writing (the measures are cached), so that nothing is left
    # behind if measuring fails; the summary after it has the file's size.
    _ = result.mse, result.delta_e, (result.ssim if args.json else None)
    if named:
        output = _default_output(input_path, default_dir, result.n_colors)
    if getattr(args, "skip_if_larger", False):
        image_format = io.format_for_path(output, truecolor=args.truecolor)
        size = len(result.encode_file(image_format, truecolor=args.truecolor)[0])
        if _skipped_as_larger(args, output, input_path, size, SKIPPED_LARGER_STATUS):
            return ""
    existed = output.exists()
    result = result.save(output, truecolor=args.truecolor, overwrite=args.force)
    try:  # a lossy file is measured as written, after the write
        report = result.summary(with_ssim=args.json)
    except BaseException:
        if not existed:  # never a file left behind by a failure
            output.unlink(missing_ok=True)
        raise
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


def _compress_piped(args, input_path: Path, options: Options, palette=None) -> str:
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
    if getattr(args, "skip_if_larger", False):
        raise UsageError("--skip-if-larger compares files: it takes no '-'")
    result = quantize_for(image, fmt, truecolor=args.truecolor, palette=palette, options=options)
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


#: The palette format of an output file's extension.
PALETTE_EXTENSIONS = {
    ".gpl": "gpl",
    ".json": "json",
    ".css": "css",
    ".png": "png",
    ".hex": "hex",
    ".txt": "hex",
}


def _palette_format(given: str | None, output: Path | None) -> str:
    """``--format``, or the format the output file's extension names (hex when printed)."""
    if output is None:
        if given == "png":
            raise UsageError("--format png writes an image: give an output file with -o")
        return given or "hex"
    by_name = PALETTE_EXTENSIONS.get(output.suffix.lower())
    if given is None:
        if by_name is None:
            raise UsageError(
                f"cannot tell a palette format from {str(output)!r}: name it .gpl, .json, "
                ".css, .png, .hex or .txt, or give --format"
            )
        return by_name
    if by_name is not None and by_name != given:
        raise UsageError(
            f"-o {str(output)!r} names a {by_name} file but --format is {given}: "
            "give one or make them agree"
        )
    return given


def _palette(args, input_path: Path) -> str:
    output = Path(args.output) if args.output else None
    fmt = _palette_format(args.format, output)
    if output is not None:
        io.check_destination(output, overwrite=args.force, protect=(input_path,))
    options = _options(args)
    if (
        io.frame_count(
            input_path, max_pixels=options.max_pixels, max_expansion=options.max_expansion
        )
        > 1
    ):
        text = animation.palette_of_animation(input_path, options, fmt)
    else:
        text = quantize(input_path, options=options).palette_text(fmt)
    if output is None:
        return text
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    io.write_bytes_atomic(output, data, overwrite=args.force, protect=(input_path,))
    return ""


def _batch(args) -> str:
    """``kpalette batch``: every input a row; failures reported and counted, not fatal."""

    start = time.perf_counter()
    if args.shared_palette and args.palette:
        raise UsageError("give --shared-palette or --palette, not both")
    options = _options(args)
    if args.palette and options.choice is not None:
        raise UsageError("--palette gives the colours: it takes no -k auto or target")
    _refuse_lossy_targets(io.output_format(f"x.{args.format}"), options)
    # A bucket's prefix has nothing to make or check before the objects; a folder is
    # made absolute (on a cluster, the workers' working folder is not this one).
    remote = storage.is_url(args.output)
    out_dir = args.output.rstrip("/") + "/" if remote else _local_output_folder(args.output)
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
    # The client is closed with the batch (left open, it would try to reconnect to a
    # cluster that has gone).
    with contextlib.nullcontext() if client is None else client:
        if client is not None and jobs:
            _check_workers_see(client, jobs[0].source, out_dir)
        if not remote and not out_dir.exists():  # once it can run: a failed start leaves nothing
            out_dir.mkdir()
        if args.shared_palette and jobs:
            palette = batch.shared_palette(jobs, options, workers=workers, client=client)
        settings = batch.Settings(
            extension=args.format,
            force=args.force,
            skip_if_larger=args.skip_if_larger,
            palette=palette,
            measure=args.report is not None,
            animation_dither=ANIMATION_DITHER if args.dither is None else args.dither,
        )
        counts = {"ok": 0, "skipped": 0, "skipped-larger": 0, "failed": 0}
        bytes_in = bytes_out = 0
        megapixels = 0.0
        bar = _batch_bar(len(jobs), enabled=not args.quiet and _stderr_is_terminal())
        with _report_writer(args.report) as write_row:
            for row in batch.run(jobs, options, settings, workers=workers, client=client):
                counts[row.status] += 1
                write_row(row.as_dict())
                for warning in row.warnings:  # each naming its file
                    named = warning if row.input in warning else f"{row.input}: {warning}"
                    _error_line(named, bar, kind="warning")
                if row.status == "failed":
                    _error_line(f"{row.input}: {row.error}", bar)
                if row.status == "ok":
                    bytes_in += row.input_bytes or 0
                    bytes_out += row.output_bytes or 0
                    megapixels += (row.width or 0) * (row.height or 0) / 1e6
                if bar is not None:
                    elapsed = max(time.perf_counter() - start, 1e-9)
                    bar.set_postfix_str(
                        f"{megapixels / elapsed:.1f} MP/s, {counts['failed']} failed"
                    )
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

    for module in ("starlette", "uvicorn", "multipart"):
        require_extra(module, "web")
    from ..serve import DEFAULT_MAX_UPLOAD, LOOPBACK_HOSTS, create_app, run_server

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        _warn_line(
            f"serving on {args.host}: other machines can reach the page and upload to it; "
            "the default is 127.0.0.1 (this machine only)"
        )
    max_pixels = DEFAULT_MAX_PIXELS if args.max_pixels is None else args.max_pixels
    _checked_options(max_pixels=max_pixels, threads=args.threads)  # ranges, as every command's
    hosts = set(LOOPBACK_HOSTS) | set(args.allow_host)
    if args.host not in ("0.0.0.0", "::", ""):
        hosts.add(args.host)
    app = create_app(
        max_upload=DEFAULT_MAX_UPLOAD if args.max_upload is None else args.max_upload,
        max_pixels=max_pixels,
        allowed_hosts=hosts,
        threads=args.threads,
    )
    url = f"http://{args.host}:{args.port}/"
    print(f"{PROG}: serving on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    if args.open:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    run_server(app, host=args.host, port=args.port)
    return ""


def _local_output_folder(output: str) -> Path:
    """A batch's local output folder, absolute; refused when it cannot be one."""
    out_dir = Path(output).absolute()
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"the output {str(out_dir)!r} is a file, not a folder")
    if not out_dir.exists() and not out_dir.parent.is_dir():
        raise UsageError(f"the output folder's parent does not exist: {str(out_dir.parent)!r}")
    if out_dir.exists() and not os.access(out_dir, os.W_OK | os.X_OK):
        raise UsageError(f"the output folder is not writable: {str(out_dir)!r}")
    return out_dir


def _check_workers_see(client, source, out_dir) -> None:
    """Refuse a cluster batch whose workers cannot read its inputs or reach the output's
    parent folder: the paths must name the same files on every worker (objects in a
    bucket must be readable there)."""
    from ..batch import paths_visible

    parent = out_dir if isinstance(out_dir, str) else str(out_dir.parent)
    missing = {
        address: path
        for address, path in client.run(paths_visible, [str(source), parent]).items()
        if path is not None
    }
    if missing:
        address, path = next(iter(missing.items()))
        raise KPaletteError(
            f"the Dask worker at {address} cannot see {path}: a cluster batch needs the "
            "same paths on every worker (a shared file system)"
        )


def _dask_client(address: str):
    """A client of the Dask cluster at ``address``; the extra to install if missing."""

    require_extra("distributed", "dask")
    from distributed import Client

    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise KPaletteError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


def _explore(args, input_path: Path) -> str:

    output = (
        Path(args.output)
        if args.output
        else input_path.with_name(f"{input_path.stem}-explore.html")
    )
    io.check_destination(output, overwrite=args.force, protect=(input_path,))
    grid = {} if args.grid is None else {"grid_ks": args.grid}
    try:
        page, facts = build_report(input_path, options=_options(args), **grid)
    except OptionError as exc:
        if exc.field != "grid_ks":
            raise
        given = ",".join(str(k) for k in args.grid)
        raise UsageError(f"--grid must be {exc.requirement}, got {given}") from None
    n_bytes = io.write_bytes_atomic(
        output, page.encode("utf-8"), overwrite=args.force, protect=(input_path,)
    )
    return (
        f"{input_path} -> {output} ({n_bytes / 1e6:.1f} MB, {facts['seconds']:.1f} s)\n"
        f"  suggested k={facts['suggested_k']}: {facts['reason']}\n"
    )


def _run_command(args) -> str:
    """The command's work; returns what it prints on the standard output."""
    if args.command == "demo":
        return _compress(args, sample_image_path(), Path("."))
    if args.command == "batch":
        return _batch(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "compress":
        return _compress_each(args)
    input_path = Path(args.input)
    if args.command == "explore":
        return _explore(args, input_path)
    return _palette(args, input_path)
