"""What long work is doing, for whoever wants to show it (the command line's status line).

The library calls :func:`status` at each step of work that can take a while (reading,
fitting k = 7, measuring, encoding); nothing happens unless a caller has installed a
reporter with :func:`reporting`, so the library itself prints nothing. The state is a
context variable: threads and asyncio tasks each see their own reporter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

__all__ = ["reporting", "status"]

_REPORTER: ContextVar[Callable[[str], None] | None] = ContextVar("kpalette_reporter", default=None)


def status(message: str) -> None:
    """Say what the work is doing now ("fitting k=7"), to the installed reporter if any."""
    reporter = _REPORTER.get()
    if reporter is not None:
        reporter(message)


@contextlib.contextmanager
def reporting(reporter: Callable[[str], None]) -> Iterator[None]:
    """Send every :func:`status` of the block to ``reporter`` (a function of one string).

    Examples
    --------
    >>> import kpalette, numpy as np
    >>> seen = []
    >>> with kpalette.progress.reporting(seen.append):
    ...     _ = kpalette.quantize(np.zeros((4, 4, 3), np.uint8) + 9, 2)  # doctest: +SKIP
    >>> seen  # doctest: +SKIP
    ['counting colours', 'fitting k=2', 'mapping the pixels']
    """
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)
