"""Mutated PNG, JPEG, GIF, WebP, TIFF and BMP files through load_image, quantize and the
command line: no exception but kpalette's own, no hang, nothing left behind on failure.

A fixed-seed run of a few hundred inputs here; ``python3 bench/fuzz.py`` runs more.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzing import FORMATS, REFUSED, mutate, seed_files
from kpalette import KPaletteWarning, load_image, quantize
from kpalette.cli import main
from kpalette.exceptions import ImageReadError

SEEDS = seed_files()


def check_one(data: bytes, folder) -> str:
    """Run one file through the library and the command line; return the outcome."""
    path = folder / "input.bin"
    path.write_bytes(data)
    for old in folder.glob("out*"):
        old.unlink()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KPaletteWarning)
            image = load_image(path)
    except ImageReadError:
        outcome = "refused"
    else:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] in (3, 4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KPaletteWarning)
            result = quantize(image, 4)
        assert result.n_colors <= 4 and np.isfinite(result.mse)
        outcome = "read"
    status = main(["compress", str(path), "-o", str(folder / "out.png")])
    left = sorted(p.name for p in folder.iterdir() if p.name != "input.bin")
    if outcome == "read":
        assert status == 0 and left == ["out.png"], (status, left)
    else:
        assert status == 1 and left == [], (status, left)
    return outcome


@pytest.mark.parametrize("kind", FORMATS)
def test_the_seed_files_are_read(kind, tmp_path):
    assert check_one(SEEDS[kind], tmp_path) == ("refused" if kind in REFUSED else "read")


@settings(
    max_examples=500,
    derandomize=True,
    deadline=10_000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(kind=st.sampled_from(FORMATS), rng=st.randoms(use_true_random=False))
def test_mutated_files_are_read_or_refused_in_one_line(kind, rng, tmp_path, capsys):
    data = mutate(SEEDS[kind], random.Random(rng.getrandbits(64)))
    check_one(data, tmp_path)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("kpalette: error:")]
    assert len(errors) <= 1 and "Traceback" not in err


def test_a_batch_over_damaged_files_reports_each_and_leaves_nothing_behind(tmp_path, capsys):
    import json

    folder = tmp_path / "in"
    folder.mkdir()
    rng = random.Random(7)
    for number in range(45):
        kind = FORMATS[number % len(FORMATS)]
        data = mutate(SEEDS[kind], rng) if number % 3 else SEEDS[kind]
        (folder / f"f{number:02d}.{kind.split('-')[0]}").write_bytes(data)
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    status = main(["batch", str(folder), "-o", str(out), "-j", "1", "--report", str(report)])
    err = capsys.readouterr().err
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    failed = [row for row in rows if row["status"] == "failed"]
    assert len(rows) == 45 and status == (1 if failed else 0)
    assert err.count("kpalette: error: ") == len(failed) and "Traceback" not in err
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(Path(row["output"]).name for row in rows if row["status"] == "ok")


CHUNKED_FORM = {"Content-Type": "multipart/form-data; boundary=fuzz"}


def _chunked_form(data: bytes):
    """A multipart form holding ``data`` as its image, yielded in pieces."""
    body = (
        b'--fuzz\r\nContent-Disposition: form-data; name="image"; filename="x"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--fuzz--\r\n"
    )
    for start in range(0, len(body), 97):
        yield body[start : start + 97]


def test_the_web_api_answers_damaged_uploads_without_a_server_error():
    pytest.importorskip("starlette")
    pytest.importorskip("multipart")
    from starlette.testclient import TestClient

    from kpalette.serve import create_app

    client = TestClient(create_app(), base_url="http://127.0.0.1", raise_server_exceptions=False)
    rng = random.Random(11)
    statuses = set()
    for number in range(78):
        kind = FORMATS[number % len(FORMATS)]
        data = mutate(SEEDS[kind], rng)
        if number % 2:  # as a browser or curl streams it: chunked, no Content-Length
            response = client.post(
                "/api/quantize", content=_chunked_form(data), headers=CHUNKED_FORM
            )
        else:
            response = client.post(
                "/api/quantize", files={"image": ("x", data, "application/octet-stream")}
            )
        statuses.add(response.status_code)
        if response.status_code != 200:
            assert set(response.json()) == {"error"}
        # The page's path: an upload kept, then its views, numbers and files.
        created = client.post(
            "/api/uploads", files={"image": ("x", data, "application/octet-stream")}
        )
        statuses.add(created.status_code)
        if created.status_code != 201:
            assert set(created.json()) == {"error"}
            continue
        base = f"/api/uploads/{created.json()['id']}"
        for route, params in (
            ("preview", {"k": 5, "side": 64}),
            ("preview", {"k": 3, "dither": 1, "side": 64}),
            ("original", {"side": 64}),
            ("summary", {"k": 4, "format": "gif"}),
            ("palette", {"k": 4, "format": "json"}),
            ("cloud", {"k": 4}),
            ("choose", {"k": "auto"}),
        ):
            answer = client.get(f"{base}/{route}", params=params)
            statuses.add(answer.status_code)
            assert answer.status_code < 500, (route, answer.text)
    assert statuses <= {200, 201, 400, 413, 422} and 201 in statuses and 422 in statuses
