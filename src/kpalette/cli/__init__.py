"""The ``kpalette`` command: parse the arguments into :class:`~kpalette.Options`, call the
library, report.

Every error the library raises on purpose ends as one line ``kpalette: error: ...`` on
stderr and exit status 1; usage errors exit with 2. The parts: :mod:`.arguments` (the
parser), :mod:`.commands` (the work of each command, over the public API) and
:mod:`.output` (what is printed).
"""

from __future__ import annotations

import contextlib
import gc
import signal
import sys
import threading
import warnings

from ..exceptions import KPaletteError, QualityTooLow
from .arguments import QUALITY_TOO_LOW_STATUS, UsageError, build_parser, parse_size
from .commands import _run_command
from .output import _fail, _held_logs, _held_stderr, _status_line, _stderr_is_terminal, _warn_line


def run(argv=None) -> int:
    """Run the command line; returns the exit status (raises on errors)."""
    return _execute(build_parser().parse_args(argv))


def _execute(args) -> int:
    with _status_line(enabled=not args.quiet and args.command != "batch" and _stderr_is_terminal()):
        text = _run_command(args)
    sys.stdout.write(text)  # once the status line is gone
    return getattr(args, "status", 0)


#: The commands that run once and end: only they hold back the standard error and pause
#: the garbage collector. ``serve`` runs for hours and ``batch`` for many files, and
#: each keeps the process as it found it.
SHORT_COMMANDS = frozenset({"demo", "compress", "palette", "explore"})


def main(argv=None) -> int:
    """Entry point: errors become one line on stderr and an exit status.

    ``argv`` None means the process's own arguments: this process is the command line.
    """
    held: list[str] = []
    logged: list[str] = []
    if argv is None:
        _terminate_as_interrupt()
    try:
        args = build_parser().parse_args(argv)
        short = args.command in SHORT_COMMANDS
        with warnings.catch_warnings(record=args.command != "serve") as caught:
            warnings.simplefilter("default")
            with (
                _held_stderr(held) if short else contextlib.nullcontext(),
                _held_logs(logged) if args.command != "serve" else contextlib.nullcontext(),
                _collector_paused(process=argv is None) if short else contextlib.nullcontext(),
            ):
                status = _execute(args)
        said = [str(warning.message) for warning in caught or ()] + logged + held
        for line in dict.fromkeys(" ".join(line.split()) for line in said):  # each once
            _warn_line(line)
    except UsageError as exc:
        return _fail(exc, 2)
    except QualityTooLow as exc:  # pngquant's status for a quality under the minimum
        return _fail(exc, QUALITY_TOO_LOW_STATUS)
    except Terminated:
        return _fail("terminated", 128 + signal.SIGTERM)
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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, as Ctrl-C is: the same clean end (a batch's
    workers finish what they are writing and stop, temporaries are removed)."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated


def _terminate_as_interrupt() -> None:
    """SIGTERM ends the command as SIGINT does, when this process is the command line
    (``serve`` then hands both to uvicorn, which stops as it is asked)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


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


__all__ = ["build_parser", "main", "parse_size", "run"]
