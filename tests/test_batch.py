"""kpalette batch: discovery, layout, resume, reports, failures, shared and given palettes."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import data_image
from kpalette import batch, fit_palette, load_image, remap
from kpalette.cli import main
from kpalette.data import sample_image_path


@pytest.fixture
def tree(tmp_path):
    """in/: two photos, a subfolder with a third and a damaged JPEG, a text file."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    shutil.copy(sample_image_path(), root / "coffee.png")
    shutil.copy(data_image("chelsea-crop.png"), root / "chelsea.png")
    shutil.copy(data_image("rocket.jpg"), root / "sub" / "rocket.jpg")
    (root / "sub" / "broken.jpg").write_bytes(data_image("rocket.jpg").read_bytes()[:2000])
    (root / "notes.txt").write_text("not an image\n")
    return root


def _run(args, capsys):
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_folder_keeps_its_layout_and_failures_are_rows(tree, tmp_path, capsys):
    out = tmp_path / "out"
    report = tmp_path / "report.csv"
    status, stdout, err = _run(["batch", tree, "-o", out, "--report", report, "-j", "1"], capsys)
    assert status == 1  # one input failed
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "chelsea-k16.png",
        "coffee-k16.png",
        "sub/rocket-k16.png",
    ]
    assert err.count("kpalette: error: ") == 1 and "broken.jpg" in err
    assert "3 done, 0 skipped, 1 failed, 1 not images" in stdout
    rows = list(csv.DictReader(report.open()))
    assert sorted(r["status"] for r in rows) == ["failed", "ok", "ok", "ok"]
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(int(r["output_bytes"]) == (out / r["output"].split("out/")[-1]).stat().st_size
               for r in ok)  # fmt: skip
    assert not list(out.rglob("*.tmp")) and not list(out.rglob(".*"))


def test_a_batch_run_again_skips_what_is_done_and_force_redoes_it(tree, tmp_path, capsys):
    out = tmp_path / "out"
    _run(["batch", tree / "coffee.png", tree / "chelsea.png", "-o", out, "-j", "1"], capsys)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    status, stdout, _ = _run(
        ["batch", tree / "coffee.png", tree / "chelsea.png", "-o", out], capsys
    )
    assert status == 0 and "0 done, 2 skipped" in stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    status, stdout, _ = _run(["batch", tree / "coffee.png", "-o", out, "--force"], capsys)
    assert status == 0 and "1 done" in stdout


def test_the_bytes_do_not_depend_on_the_number_of_jobs(tree, tmp_path, capsys):
    inputs = [tree / "coffee.png", tree / "chelsea.png", tree / "sub" / "rocket.jpg"]
    for jobs in (1, 2):
        _run(["batch", *inputs, "-o", tmp_path / f"j{jobs}", "-j", jobs, "-k", "8"], capsys)
    for name in ("coffee-k8.png", "chelsea-k8.png", "rocket-k8.png"):
        assert (tmp_path / "j1" / name).read_bytes() == (tmp_path / "j2" / name).read_bytes()


def test_jsonl_report_skip_if_larger_and_formats(tree, tmp_path, capsys):
    report = tmp_path / "r.jsonl"
    tiny = tmp_path / "tiny.webp"
    Image.new("RGB", (256, 256), (200, 10, 10)).save(tiny, lossless=True)  # a few dozen bytes
    args = ["batch", tiny, tree / "coffee.png", "-o", tmp_path / "o", "--report", report]
    status, _, _ = _run([*args, "--skip-if-larger", "--format", "gif", "-k", "4"], capsys)
    rows = {json.loads(line)["input"]: json.loads(line) for line in report.open()}
    assert status == 0
    assert rows[str(tiny)]["status"] == "skipped-larger"
    assert not (tmp_path / "o" / "tiny-k4.gif").exists()
    assert rows[str(tiny)]["output_bytes"] > rows[str(tiny)]["input_bytes"]
    assert rows[str(tree / "coffee.png")]["status"] == "ok"
    assert Image.open(tmp_path / "o" / "coffee-k4.gif").format == "GIF"


def test_a_shared_palette_is_every_outputs_palette(tree, tmp_path, capsys):
    inputs = [tree / "coffee.png", tree / "chelsea.png", tree / "sub" / "rocket.jpg"]
    out = tmp_path / "out"
    status, _, _ = _run(["batch", *inputs, "-o", out, "--shared-palette", "-k", "12"], capsys)
    palettes = {tuple(Image.open(p).getpalette()[: 12 * 3]) for p in out.glob("*.png")}
    assert status == 0 and len(list(out.glob("*.png"))) == 3 and len(palettes) == 1
    expected = fit_palette(inputs, 12)
    np.testing.assert_array_equal(np.array(next(iter(palettes))).reshape(-1, 3), expected)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("p.gpl", "GIMP Palette\nName: three\n0 0 0 black\n255 255 255\t white\n200 30 30 red\n"),
        ("p.json", json.dumps(["#000000", "#ffffff", [200, 30, 30]])),
        ("p.hex", "#000000\n#FFFFFF  # white\n#c81e1e\n"),
    ],
)
def test_a_given_palette_is_read_and_mapped_onto(tree, tmp_path, capsys, name, text):
    palette_file = tmp_path / name
    palette_file.write_text(text)
    out = tmp_path / "out"
    status, _, _ = _run(
        ["batch", tree / "coffee.png", "-o", out, "--palette", palette_file], capsys
    )
    written = load_image(out / "coffee-k3.png")
    assert status == 0
    assert {tuple(c) for c in np.unique(written.reshape(-1, 3), axis=0)} <= {
        (0, 0, 0), (255, 255, 255), (200, 30, 30)
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "holds no colours"),
        ("#12345\n", "expected a '#rrggbb' code"),
        ("".join(f"#{i:06x}\n" for i in range(300)), "holds 300 colours"),
    ],
)
def test_bad_palette_files_are_usage_errors(tree, tmp_path, capsys, text, message):
    palette_file = tmp_path / "bad.hex"
    palette_file.write_text(text)
    status, _, err = _run(["batch", tree, "-o", tmp_path / "o", "--palette", palette_file], capsys)
    assert status == 2 and message in err and err.count("\n") == 1


def test_the_output_folder_inside_an_input_folder_is_not_read_back(tree, capsys):
    out = tree / "out"
    _run(["batch", tree, "-o", out, "-j", "1"], capsys)
    status, stdout, _ = _run(["batch", tree, "-o", out, "-j", "1"], capsys)
    assert "0 done, 3 skipped, 1 failed" in stdout  # the outputs are not inputs


def test_two_inputs_with_one_output_name_are_refused_up_front(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("RGB", (4, 4)).save(folder / "a.png")
    Image.new("RGB", (4, 4)).save(folder / "a.jpg")
    status, _, err = _run(["batch", folder, "-o", tmp_path / "o"], capsys)
    assert status == 2 and "would both be written as" in err
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_globs_and_a_missing_output_parent(tree, tmp_path, capsys):
    status, stdout, _ = _run(
        ["batch", str(tree / "*.png"), "-o", tmp_path / "g", "-j", "1"], capsys
    )
    assert status == 0 and "2 done" in stdout
    status, _, err = _run(["batch", tree, "-o", tmp_path / "no" / "such"], capsys)
    assert status == 2 and "parent does not exist" in err
    status, _, err = _run(["batch", str(tree / "*.webp"), "-o", tmp_path / "g"], capsys)
    assert status == 2 and "no file matches" in err


def test_remap_keeps_the_palette_order_and_fit_palette_sums_histograms():
    images = [load_image(sample_image_path()), load_image(data_image("chelsea-crop.png"))]
    palette = fit_palette(images, 6)
    assert palette.shape == (6, 3)
    for image in images:
        result = remap(image, palette, tune="mse")  # each pixel its nearest entry
        np.testing.assert_array_equal(result.palette, palette)
        d2 = ((image.reshape(-1, 1, 3).astype(int) - palette[None].astype(int)) ** 2).sum(2)
        np.testing.assert_array_equal(
            d2[np.arange(len(d2)), result.indices.ravel()], d2.min(axis=1)
        )


def test_compress_reads_standard_input_and_writes_standard_output(tmp_path, capfdbinary):
    import subprocess
    import sys

    data = sample_image_path().read_bytes()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kpalette",
            "compress",
            "-",
            "-o",
            "-",
            "--format",
            "gif",
            "-k",
            "8",
        ],
        input=data,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout[:6] == b"GIF87a"
    assert b"standard input -> standard output" in done.stderr
    (tmp_path / "x.gif").write_bytes(done.stdout)
    assert len(np.unique(load_image(tmp_path / "x.gif").reshape(-1, 3), axis=0)) == 8
    done = subprocess.run(
        [sys.executable, "-m", "kpalette", "compress", "-"], input=data, capture_output=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2 and b"needs an output" in done.stderr


def test_plan_and_discover_as_a_library(tree, tmp_path):
    found, not_images = batch.discover([tree], tmp_path / "out")
    assert not_images == 1 and len(found) == 4
    jobs = batch.plan(found, tmp_path / "out")
    assert {job.folder.relative_to(tmp_path / "out").as_posix() for job in jobs} == {".", "sub"}


# --------------------------------------------------------------------------- on a cluster
@pytest.fixture(scope="module")
def cluster():
    """A real Dask cluster on loopback: a scheduler and two worker processes."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=50,
    ) as local:
        yield local


@pytest.mark.slow
def test_a_cluster_writes_the_same_bytes_and_the_same_shared_palette(
    tree, tmp_path, capsys, cluster
):
    inputs = [tree / "coffee.png", tree / "chelsea.png", tree / "sub" / "rocket.jpg"]
    for where, extra in (
        ("local", ["-j", "1"]),
        ("cluster", ["--scheduler", cluster.scheduler_address]),
    ):
        status, out, err = _run(
            ["batch", *inputs, "-o", tmp_path / where, "-k", "8", *extra], capsys
        )
        assert status == 0, err
        status, _, err = _run(
            [
                "batch",
                *inputs,
                "-o",
                tmp_path / f"{where}-shared",
                "--shared-palette",
                "-k",
                "8",
                *extra,
            ],
            capsys,
        )
        assert status == 0, err
    for folder in ("", "-shared"):
        for name in ("coffee-k8.png", "chelsea-k8.png", "rocket-k8.png"):
            local = (tmp_path / f"local{folder}" / name).read_bytes()
            assert local == (tmp_path / f"cluster{folder}" / name).read_bytes()


@pytest.mark.slow
def test_a_worker_killed_midway_does_not_lose_the_batch(tmp_path, cluster):
    import os
    import signal

    from distributed import Client

    from kpalette import Options

    folder = tmp_path / "in"
    folder.mkdir()
    photo = load_image(sample_image_path())
    for number in range(10):
        Image.fromarray(np.roll(photo, number * 37, axis=1)).save(folder / f"p{number}.png")
    found, _ = batch.discover([folder], tmp_path / "out")
    jobs = batch.plan(found, tmp_path / "out")
    with Client(cluster.scheduler_address) as client:
        rows = []
        for row in batch.run(jobs, Options(k=16), batch.Settings(), client=client):
            rows.append(row)
            if len(rows) == 1:  # one worker process is killed with tasks still to run
                nanny = next(iter(cluster.workers.values()))
                killed = nanny.process.process.pid
                os.kill(killed, signal.SIGKILL)
        # A task whose worker died after writing its file finds it when run again.
        assert len(rows) == 10 and {row.status for row in rows} <= {"ok", "skipped"}
        assert (
            nanny.process is None
            or nanny.process.process is None
            or (nanny.process.process.pid != killed)
        )  # the worker was really killed (and restarted by its nanny)
    outputs = sorted((tmp_path / "out").glob("*.png"))
    assert len(outputs) == 10 and all(load_image(p).shape == photo.shape for p in outputs)


def test_a_scheduler_that_cannot_be_reached_is_one_error(tree, tmp_path, capsys):
    pytest.importorskip("distributed")
    status, _, err = _run(
        ["batch", tree / "coffee.png", "-o", tmp_path / "o", "--scheduler", "tcp://127.0.0.1:1"],
        capsys,
    )
    assert status == 1 and "cannot reach the Dask scheduler" in err and err.count("\n") == 1


@pytest.mark.slow
def test_a_batch_killed_outright_leaves_nothing_half_done_and_finishes_when_run_again(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "in"
    folder.mkdir()
    photo = load_image(sample_image_path())
    for number in range(12):
        Image.fromarray(np.roll(photo, number * 29, axis=0)).save(folder / f"p{number:02d}.png")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "kpalette", "batch", str(folder), "-o", str(out), "-j", "1"]
    running = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("*.png"))) < 3:
        time.sleep(0.01)
    os.kill(running.pid, signal.SIGKILL)
    running.wait()
    first = sorted(p.name for p in out.glob("*.png"))
    assert 3 <= len(first) < 12  # killed midway
    for name in first:  # every output there is whole
        assert load_image(out / name).shape == photo.shape
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and f"{12 - len(first)} done, {len(first)} skipped" in done.stdout
    assert len(list(out.glob("*.png"))) == 12
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporaries


def test_cluster_tasks_hold_several_small_files_when_there_are_many():
    assert batch.chunk_size(10, 2) == 1  # few files: one a task, spread evenly
    assert batch.chunk_size(200, 2) == 12  # 200 files on 2 threads: 17 tasks
    assert batch.chunk_size(100_000, 200) == batch.MAX_CHUNK


def test_workers_get_their_threads_as_an_argument(monkeypatch):
    import os

    from kpalette._kernels.threads import max_threads

    from kpalette import batch

    if max_threads() < 2:
        pytest.skip("one thread only here (no OpenMP, or one core): nothing to divide")
    # Two cores for two workers: one thread each, where a process left alone has two.
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    before = dict(os.environ)
    threads = list(batch._map(_threads_in_worker, range(4), 2))
    assert dict(os.environ) == before  # nothing written in this process's environment
    assert threads == [1, 1, 1, 1]


def _threads_in_worker(_):
    from kpalette._kernels.threads import max_threads

    from kpalette.threads import limited

    with limited(None):  # as every call of the library there, giving no threads
        return max_threads()


def _alive(pids) -> set[int]:
    """Those of ``pids`` still running (not gone, not zombies)."""
    import os

    alive = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(") ", 1)[1][0] != "Z":
                    alive.add(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return alive - {os.getpid()}


def _photos(folder, count: int):
    folder.mkdir()
    photo = load_image(sample_image_path())
    for number in range(count):
        Image.fromarray(np.roll(photo, number * 31, axis=1)).save(folder / f"p{number:02d}.png")
    return photo


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(__import__("os"), "sched_getaffinity"), reason="Linux /proc")
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_batch_stopped_by_a_signal_leaves_no_process_and_a_rerun_finishes(tmp_path, how):
    import os
    import signal
    import subprocess
    import sys
    import time

    photo = _photos(tmp_path / "in", 16)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "kpalette", "batch", str(tmp_path / "in"), "-o", str(out)]
    running = subprocess.Popen(
        [*command, "-j", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("*.png"))) < 2:
        time.sleep(0.01)
    from serving import descendants

    family = descendants(running.pid)
    assert len(family) >= 2  # the two workers (and the resource tracker)
    os.kill(running.pid, getattr(signal, how))
    stopped = time.monotonic()
    running.wait(timeout=30)
    while _alive(family) and time.monotonic() - stopped < 10:
        time.sleep(0.1)
    assert _alive(family) == set(), f"left running after {how}"
    if how == "SIGTERM":
        assert running.returncode == 128 + signal.SIGTERM
        assert running.stderr.read().splitlines() == ["kpalette: error: terminated"]
    first = sorted(p.name for p in out.glob("*.png"))
    assert 2 <= len(first) < 16
    for name in first:
        assert load_image(out / name).shape == photo.shape  # whole
    if how == "SIGTERM":  # a clean end leaves no temporary; SIGKILL's are the rerun's
        assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    done = subprocess.run([*command, "-j", "2"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert f"{16 - len(first)} done, {len(first)} skipped" in done.stdout
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_a_symlink_loop_and_a_non_utf8_name_are_rows_of_a_batch_that_goes_on(tmp_path, capsys):
    import os

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(sample_image_path(), folder / "coffee.png")
    os.symlink("loop.png", folder / "loop.png")  # a link to itself
    os.symlink("b", folder / "a")  # a loop of two, with no extension
    os.symlink("a", folder / "b")
    odd = os.fsdecode(b"caf\xe9.png")  # Latin-1, not UTF-8
    shutil.copy(sample_image_path(), folder / odd)
    report = tmp_path / "report.csv"
    status, out, err = _run(
        ["batch", folder, "-o", tmp_path / "out", "-k", "4", "-j", "1", "--report", report],
        capsys,
    )
    assert status == 1  # the loops failed; the rest were done
    assert "2 done" in out and "3 failed" in out
    assert err.count("kpalette: error: ") == 3 and "loop.png" in err
    with open(report, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        rows = list(csv.DictReader(handle))
    by_name = {os.path.basename(row["input"]): row for row in rows}
    assert by_name["coffee.png"]["status"] == by_name[odd]["status"] == "ok"
    assert {by_name[n]["status"] for n in ("loop.png", "a", "b")} == {"failed"}
    assert (tmp_path / "out" / os.fsdecode(b"caf\xe9-k4.png")).is_file()


def test_a_rerun_appends_to_the_report(tree, tmp_path, capsys):
    for suffix in ("csv", "jsonl"):
        report = tmp_path / f"report.{suffix}"
        for _ in range(2):
            _run(
                [
                    "batch",
                    tree / "coffee.png",
                    "-o",
                    tmp_path / suffix,
                    "-k",
                    "4",
                    "--report",
                    report,
                ],
                capsys,
            )
        if suffix == "csv":
            with open(report, newline="") as handle:
                rows = list(csv.DictReader(handle))
        else:
            rows = [json.loads(line) for line in report.read_text().splitlines()]
        assert [row["status"] for row in rows] == ["ok", "skipped"]
    report = tmp_path / "old.csv"
    report.write_text("input,output,status\n")
    status, _, err = _run(
        ["batch", tree / "coffee.png", "-o", tmp_path / "o", "--report", report], capsys
    )
    assert status == 2 and "has other columns" in err


def test_warnings_inside_a_batch_are_shown_naming_their_file(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    photo = load_image(sample_image_path())
    frames = [Image.fromarray(photo).quantize(64), Image.fromarray(photo[::-1]).quantize(64)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:])
    Image.fromarray(photo).convert("CMYK").save(folder / "print.jpg")
    # As JPEG an animation is its first frame (as .gif, .png or .webp every frame is
    # kept: test_animation.py).
    status, _, err = _run(
        ["batch", folder, "-o", tmp_path / "out", "-k", "8", "-j", "1", "--format", "jpg"], capsys
    )
    assert status == 0
    lines = err.splitlines()
    assert any(
        line.startswith("kpalette: warning: ") and "anim.gif" in line and "frame" in line
        for line in lines
    ), err
    assert any("print.jpg" in line and "CMYK" in line for line in lines), err


def test_a_cluster_batch_resolves_relative_paths_where_it_runs(
    tree, tmp_path, capsys, cluster, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    shutil.copy(tree / "coffee.png", tmp_path / "coffee.png")
    status, _, err = _run(
        [
            "batch",
            "coffee.png",
            "-o",
            "rel-out",
            "-k",
            "4",
            "--scheduler",
            cluster.scheduler_address,
        ],
        capsys,
    )
    assert status == 0, err
    assert (tmp_path / "rel-out" / "coffee-k4.png").is_file()


def test_a_cluster_whose_workers_cannot_see_the_files_is_one_error(
    tree, tmp_path, capsys, cluster, monkeypatch
):
    monkeypatch.setattr(batch, "paths_visible", lambda paths: paths[0])  # as on another machine
    status, _, err = _run(
        [
            "batch",
            tree / "coffee.png",
            "-o",
            tmp_path / "o",
            "--scheduler",
            cluster.scheduler_address,
        ],
        capsys,
    )
    assert status == 1 and "cannot see" in err and "shared file system" in err
    assert not (tmp_path / "o").exists()


def test_an_unreachable_scheduler_creates_no_output_folder(tree, tmp_path, capsys):
    pytest.importorskip("distributed")
    status, _, err = _run(
        ["batch", tree / "coffee.png", "-o", tmp_path / "o", "--scheduler", "tcp://127.0.0.1:1"],
        capsys,
    )
    assert status == 1 and not (tmp_path / "o").exists()
