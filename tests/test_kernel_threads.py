"""kpalette._kernels.threads: this process's share of threads, set as an argument."""

from __future__ import annotations

import subprocess
import sys

import pytest
from kpalette._kernels.threads import max_threads, set_max_threads


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_set_max_threads_refuses_what_is_not_a_count(bad):
    with pytest.raises(ValueError, match="whole number >= 1"):
        set_max_threads(bad)


def test_set_max_threads_bounds_the_parallel_regions():
    # In a process of its own: the setting belongs to the process that makes it.
    code = (
        "from kpalette._kernels.threads import max_threads, set_max_threads\n"
        "set_max_threads(1); print(max_threads())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1"]
    assert max_threads() >= 1
