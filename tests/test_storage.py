"""kpalette.storage and batches on object storage, against a real S3 API: moto's
server, started here on loopback and stopped after the tests, reached through s3fs
with the standard AWS environment (credentials and endpoint)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from conftest import data_image
from kpalette import load_image, read_frames
from kpalette.cli import main

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

SECRET = "kpalette-test-secret-9d1f"  # must never be printed or reported


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on 127.0.0.1 and the environment that points s3fs at it."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = pytest.MonkeyPatch()
    saved.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    saved.setenv("AWS_ACCESS_KEY_ID", "kpalette-test-key")
    saved.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    saved.setenv("AWS_DEFAULT_REGION", "us-east-1")
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    yield fs
    saved.undo()
    server.stop()


@pytest.fixture
def bucket(s3, request):
    """A fresh bucket holding three photos (one in a sub-folder), a truncated PNG and
    a text file."""
    name = "kp-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    s3.mkdir(name)
    photos = {
        "in/astronaut.png": data_image("astronaut-crop.png").read_bytes(),
        "in/chelsea.png": data_image("chelsea-crop.png").read_bytes(),
        "in/sub/rocket.jpg": data_image("rocket.jpg").read_bytes(),
    }
    for key, data in photos.items():
        s3.pipe_file(f"{name}/{key}", data)
    s3.pipe_file(f"{name}/in/cut.png", photos["in/chelsea.png"][:300])
    s3.pipe_file(f"{name}/in/notes.txt", b"not an image")
    s3.invalidate_cache()
    return name


def rows_of(report) -> dict[str, dict]:
    return {row["input"].rsplit("/", 1)[-1]: row for row in csv.DictReader(report.open())}


def test_a_batch_reads_and_writes_a_bucket_and_resumes(s3, bucket, tmp_path, capsys):
    report = tmp_path / "report.csv"
    args = ["batch", f"s3://{bucket}/in/", "-o", f"s3://{bucket}/out/", "-k", "16", "-j", "1"]
    status = main([*args, "--report", str(report), "--quiet"])
    said = capsys.readouterr()
    assert status == 1  # the truncated object failed, the others went on
    rows = rows_of(report)
    assert set(rows) == {"astronaut.png", "chelsea.png", "rocket.jpg", "cut.png"}
    assert rows["cut.png"]["status"] == "failed" and "cut.png" in rows["cut.png"]["input"]
    for name in ("astronaut.png", "chelsea.png", "rocket.jpg"):
        assert rows[name]["status"] == "ok" and float(rows[name]["mse"]) > 0
        assert rows[name]["output"].startswith(f"s3://{bucket}/out/")
    s3.invalidate_cache()
    written = sorted(s3.find(f"{bucket}/out/"))
    assert written == [
        f"{bucket}/out/astronaut-k16.png",
        f"{bucket}/out/chelsea-k16.png",
        f"{bucket}/out/sub/rocket-k16.png",
    ]
    # Written as it would be locally: the same bytes as the file from a local batch.
    local_in = tmp_path / "in"
    local_in.mkdir()
    (local_in / "chelsea.png").write_bytes(s3.cat_file(f"{bucket}/in/chelsea.png"))
    assert main(["batch", str(local_in), "-o", str(tmp_path / "out"), "-k", "16", "--quiet"]) == 0
    local = (tmp_path / "out" / "chelsea-k16.png").read_bytes()
    assert s3.cat_file(f"{bucket}/out/chelsea-k16.png") == local
    decoded = load_image(s3.cat_file(f"{bucket}/out/sub/rocket-k16.png"))
    assert len(np.unique(decoded.reshape(-1, decoded.shape[-1]), axis=0)) <= 16
    # A rerun rewrites nothing: the outputs are skipped, only the failure is tried again.
    stamps = {key: s3.info(key)["LastModified"] for key in written}
    status = main([*args, "--report", str(report), "--quiet"])
    rows = list(csv.DictReader(report.open()))[4:]  # the rerun's rows, appended
    assert sorted(row["status"] for row in rows) == ["failed", "skipped", "skipped", "skipped"]
    s3.invalidate_cache()
    assert {key: s3.info(key)["LastModified"] for key in written} == stamps
    # Nothing secret in what was printed or reported.
    everything = said.out + said.err + capsys.readouterr().err + report.read_text()
    assert SECRET not in everything


def test_json_report_and_local_inputs_to_a_bucket(s3, bucket, tmp_path):
    """Local files to a bucket and a bucket's animation kept whole (the same code path
    as local files: objects are read as bytes)."""
    frames = [np.asarray(Image.open(data_image("chelsea-crop.png")).convert("RGB"))] * 3
    frames = [f.copy() for f in frames]
    for i, f in enumerate(frames):
        f[5:15, 5 + 10 * i : 15 + 10 * i] = (0, 200, 0)
    images = [Image.fromarray(f) for f in frames]
    local = tmp_path / "anim.png"
    images[0].save(local, save_all=True, append_images=images[1:], duration=90)
    report = tmp_path / "r.jsonl"
    status = main(["batch", str(local), "-o", f"s3://{bucket}/anim/", "-k", "8", "--format", "gif",
                   "--report", str(report), "--quiet"])  # fmt: skip
    assert status == 0
    row = json.loads(report.read_text().splitlines()[0])
    assert row["status"] == "ok" and row["output"] == f"s3://{bucket}/anim/anim-k8.gif"
    read = read_frames(s3.cat_file(f"{bucket}/anim/anim-k8.gif"))
    assert len(read.frames) == 3 and read.durations == (90, 90, 90)


def test_a_missing_bucket_prefix_is_one_line(s3, bucket, capsys):
    status = main(["batch", f"s3://{bucket}/nothing-here/", "-o", f"s3://{bucket}/o/", "-k", "4"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "no object at" in err and SECRET not in err


def test_on_a_dask_cluster_the_outputs_are_the_local_run_s(s3, bucket, tmp_path):
    """Workers read and write the bucket themselves; the bytes are the same as a
    local run's."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        status = main(["batch", f"s3://{bucket}/in/", "-o", f"s3://{bucket}/cluster/", "-k", "12",
                       "--scheduler", cluster.scheduler_address, "--quiet"])  # fmt: skip
    assert status == 1  # the truncated object
    assert main(["batch", f"s3://{bucket}/in/", "-o", f"s3://{bucket}/local/", "-k", "12",
                 "-j", "1", "--quiet"]) == 1  # fmt: skip
    s3.invalidate_cache()
    for name in ("astronaut-k12.png", "chelsea-k12.png", "sub/rocket-k12.png"):
        assert s3.cat_file(f"{bucket}/cluster/{name}") == s3.cat_file(f"{bucket}/local/{name}")


def test_planning_finds_each_input_s_output_in_one_listing(s3, bucket):
    """The output prefix is listed once and indexed: a stem holding "-k", a nested
    key, another extension and another stem's output are told apart."""
    from kpalette import batch

    for key in ("out/my-kite-k16.png", "out/sub/rocket-k8.png", "out/chelsea-k4.gif",
                "out/chelsea-extra-k4.png"):  # fmt: skip
        s3.pipe_file(f"{bucket}/{key}", b"x")
    found = [
        (f"s3://{bucket}/in/my-kite.png", f"s3://{bucket}/in"),
        (f"s3://{bucket}/in/sub/rocket.jpg", f"s3://{bucket}/in"),
        (f"s3://{bucket}/in/chelsea.png", f"s3://{bucket}/in"),
    ]
    jobs = batch.plan(found, f"s3://{bucket}/out/", "png")
    assert [job.done for job in jobs] == [
        f"s3://{bucket}/out/my-kite-k16.png",
        f"s3://{bucket}/out/sub/rocket-k8.png",
        None,
    ]


def test_an_endpoint_that_does_not_answer_is_one_line(tmp_path):
    """botocore's own errors (not OSError) end as one kpalette error naming the URL:
    exit 1, no traceback, nothing made. A fresh process: s3fs keeps its clients."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "kpalette-test-key",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_MAX_ATTEMPTS": "1",
    }
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "kpalette", "batch", "s3://nowhere/in/", "-o", str(out), "-k", "4"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and not out.exists()
    assert done.stderr.startswith("kpalette: error: cannot reach s3://nowhere/in/")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert SECRET not in done.stderr
