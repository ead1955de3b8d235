"""What the command line prints: the human summary, the status line and the batch's
bar, warnings and errors as one line each, and the library's noise held back."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from ..batch import Row
from ..progress import reporting
from .arguments import (
    PROG,
    UsageError,
)


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


def _batch_bar(total: int, *, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, unit="file", leave=False, desc=PROG)


def _error_line(message: str, bar, *, kind: str = "error") -> None:
    text = f"{PROG}: {kind}: {' '.join(message.split())}"
    if bar is None:
        print(text, file=sys.stderr, flush=True)
    else:
        bar.write(text, file=sys.stderr)


@contextlib.contextmanager
def _report_writer(path):
    """A function writing one report row as each input finishes (flushed at once, so a
    killed batch leaves a valid report of what it finished); nothing without a path.

    A report that exists is appended to: the rows of earlier runs are kept (a CSV's
    header is written once, and must be this version's). File names are written as
    the file system holds them (bytes that are not UTF-8 kept as they are).
    """
    if path is None:
        yield lambda row: None
        return
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise UsageError(f"--report must end in .csv or .jsonl, got {str(path)!r}")
    fields = list(Row(input="").as_dict())
    existing = path.is_file() and path.stat().st_size > 0
    if existing and suffix == ".csv":
        with open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
            header = next(csv.reader(handle), [])
        if header != fields:
            raise UsageError(
                f"the report {str(path)!r} has other columns (an earlier version's?): "
                "give another --report file"
            )
    with open(path, "a", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        if suffix == ".csv":
            writer = csv.DictWriter(handle, fieldnames=fields)
            if not existing:
                writer.writeheader()

            def write(row: dict) -> None:
                writer.writerow({**row, "warnings": "; ".join(row["warnings"])})
                handle.flush()

        else:

            def write(row: dict) -> None:
                handle.write(json.dumps(row) + "\n")
                handle.flush()

        yield write


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


def _warn_line(message: str) -> None:
    """A warning as one line, like errors, without the source line that raised it."""
    text = " ".join(str(message).split())
    if text:
        print(f"{PROG}: warning: {text}", file=sys.stderr)


#: Loggers of the libraries that read files for kpalette: their records are held and
#: reported as warnings once the command has succeeded (a failure's one line says it).
LIBRARY_LOGGERS = ("PIL",)


class _HeldRecords(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a record that cannot be formatted is dropped
            self.lines.append(record.getMessage())


@contextlib.contextmanager
def _held_logs(lines: list[str]):
    """The library loggers' warnings and errors into ``lines`` for the block, instead of
    Python's last-resort handler printing them raw on the standard error."""
    handler = _HeldRecords(lines)
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    saved = [logger.propagate for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, propagate in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.propagate = propagate


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


def _skipped_as_larger(args, output, input_path, size: int, status: int) -> bool:
    """``--skip-if-larger``: whether an output of ``size`` bytes is not written, being
    no smaller than its input; then one warning line, and ``args.status`` is
    ``status`` (98, as pngquant's)."""
    if not getattr(args, "skip_if_larger", False) or size < input_path.stat().st_size:
        return False
    _warn_line(
        f"{output} not written: {size:,} B would not be smaller than "
        f"{input_path}'s {input_path.stat().st_size:,} B (--skip-if-larger)"
    )
    args.status = status
    return True
