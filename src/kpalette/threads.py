"""How many threads kpalette's compiled loops use: one setting, read in one place.

The loops run their parallel regions on at most :func:`default_threads` threads:
``OMP_NUM_THREADS`` when it is set, else the CPUs this process may use (its affinity
mask and, in a container, its cgroup's CPU quota, which the core count alone ignores).
``threads=`` in the Python API (``Options(threads=N)``, ``KMeans(n_threads=N)``) and
``--threads N`` on the command line set it for one call. Within that limit a region
takes one thread per grain of work (small images wake no team), and threads waiting
for the next region sleep rather than spin (``OMP_WAIT_POLICY=PASSIVE`` unless set),
so that threads never cost time on a busy machine (docs/benchmarks.md, "Threads").
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from ._kernels.threads import max_threads, set_max_threads

__all__ = ["default_threads", "limited", "set_default_threads", "usable_cpus"]


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask, bounded by a cgroup's CPU quota
    (``cpu.max`` of cgroup v2, ``cpu.cfs_quota_us`` of v1) rounded up; at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def _cgroup_quota() -> float | None:
    """The CPUs a cgroup's quota allows (quota / period), or None without one."""
    try:
        text = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
        return None
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


_process_default: int | None = None


def set_default_threads(threads: int | None) -> None:
    """This process's default for calls that give no ``threads`` (a batch worker's
    share of the cores); None: back to ``OMP_NUM_THREADS`` or the usable CPUs."""
    global _process_default
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValueError(f"threads must be None or a whole number >= 1, got {threads!r}")
    _process_default = threads


def default_threads() -> int:
    """The threads a call that gives none uses: this process's default if one was set
    (:func:`set_default_threads`), else ``OMP_NUM_THREADS`` (its first number) when set
    to a whole number >= 1, else :func:`usable_cpus`."""
    if _process_default is not None:
        return _process_default
    text = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if text.isdigit() and int(text) >= 1:
        return int(text)
    return usable_cpus()


_held = threading.local()


@contextlib.contextmanager
def limited(threads: int | None = None) -> Iterator[int]:
    """The calling thread's parallel regions use at most ``threads`` threads for the
    block; the limit before is restored after. Yields the limit.

    None keeps the limit of an enclosing ``limited`` block of this thread (a server
    giving each request its share, a batch worker its own), and outside any is
    :func:`default_threads`. Each thread has its own limit.
    """
    depth = getattr(_held, "depth", 0)
    if threads is None and depth:
        yield max_threads()
        return
    limit = default_threads() if threads is None else threads
    before = max_threads()
    set_max_threads(limit)
    _held.depth = depth + 1
    try:
        yield limit
    finally:
        _held.depth = depth
        set_max_threads(before)
