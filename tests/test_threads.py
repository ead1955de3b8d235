"""kpalette.threads: one setting for the compiled loops' threads, read in one place."""

from __future__ import annotations

import numpy as np
import pytest
from kpalette._kernels.threads import max_threads

import kpalette
from kpalette import threads
from kpalette.data import sample_image_path


def test_usable_cpus_is_the_affinity_bounded_by_a_cgroup_quota(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(64)))
    monkeypatch.setattr(threads, "_cgroup_quota", lambda: 2.5)  # a container's cpu.max
    assert threads.usable_cpus() == 3
    monkeypatch.setattr(threads, "_cgroup_quota", lambda: None)
    assert threads.usable_cpus() == 64
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {5})
    assert threads.usable_cpus() == 1


def test_cgroup_quota_reads_cpu_max(monkeypatch, tmp_path):
    files = {"/sys/fs/cgroup/cpu.max": "150000 100000\n"}
    real = threads.Path

    class Fake(type(real())):
        def read_text(self, *args, **kwargs):
            if str(self) in files:
                return files[str(self)]
            raise FileNotFoundError(str(self))

    monkeypatch.setattr(threads, "Path", Fake)
    assert threads._cgroup_quota() == 1.5
    files["/sys/fs/cgroup/cpu.max"] = "max 100000\n"
    assert threads._cgroup_quota() is None


def test_omp_num_threads_is_honoured_when_set(monkeypatch):
    monkeypatch.setattr(threads, "usable_cpus", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.default_threads() == 8
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.default_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2,1")  # nested levels: the first
    assert threads.default_threads() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "lots")  # not a count: ignored
    assert threads.default_threads() == 8


def test_a_process_default_comes_first_and_is_checked(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    threads.set_default_threads(1)
    try:
        assert threads.default_threads() == 1
    finally:
        threads.set_default_threads(None)
    assert threads.default_threads() == 3
    for bad in (0, -2, 1.5, True, "2"):
        with pytest.raises(ValueError, match="whole number >= 1"):
            threads.set_default_threads(bad)


def test_limited_sets_the_calling_thread_s_limit_and_restores_it():
    before = max_threads()
    with threads.limited(1) as limit:
        assert limit == 1 and max_threads() == 1
        with threads.limited(None):  # inside a block: the block's limit is kept
            assert max_threads() == 1
        with threads.limited(3):
            assert max_threads() == 3
        assert max_threads() == 1
    assert max_threads() == before


def test_the_threads_option_is_checked_and_does_not_change_the_result():
    with pytest.raises(kpalette.OptionError, match="threads must be a whole number >= 1"):
        kpalette.Options(threads=0)
    image = kpalette.load_image(sample_image_path())
    one = kpalette.quantize(image, 32, threads=1)
    two = kpalette.quantize(image, 32, threads=2)
    assert np.array_equal(one.palette, two.palette) and np.array_equal(one.indices, two.indices)
    assert one.encode("PNG") == two.encode("PNG")


def test_kmeans_takes_n_threads_as_scikit_learn_spells_it():
    rng = np.random.default_rng(0)
    X = rng.random((3000, 3))
    one = kpalette.KMeans(8, random_state=0, n_threads=1).fit(X)
    default = kpalette.KMeans(8, random_state=0).fit(X)
    assert np.array_equal(one.labels_, default.labels_)
    assert one.get_params()["n_threads"] == 1
    with pytest.raises(ValueError, match="n_threads must be None or a whole number >= 1"):
        kpalette.KMeans(8, n_threads=0).fit(X)


@pytest.mark.parametrize("command", ["compress", "palette", "explore", "batch", "demo", "serve"])
def test_every_command_takes_threads(command):
    from kpalette.cli import build_parser

    argv = {"compress": ["x.png"], "palette": ["x.png"], "explore": ["x.png"]}.get(command, [])
    if command == "batch":
        argv = ["in", "-o", "out"]
    args = build_parser().parse_args([command, *argv, "--threads", "3"])
    assert args.threads == 3
