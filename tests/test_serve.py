"""kpalette serve's HTTP API through Starlette's test client: each parameter, each error."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from kpalette import load_image
from kpalette.data import sample_image_path

pytest.importorskip("starlette")
pytest.importorskip("multipart")
from starlette.testclient import TestClient  # noqa: E402

from kpalette.serve import create_app  # noqa: E402

PHOTO = sample_image_path().read_bytes()


@pytest.fixture
def client():
    return TestClient(create_app(max_upload=2_000_000, max_pixels=1_000_000))


def _post(client, data=PHOTO, **fields):
    files = {"image": ("photo.png", data, "image/png")} if data is not None else None
    return client.post("/api/quantize", files=files, data={k: str(v) for k, v in fields.items()})


def test_the_page_and_the_health_check(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    page = client.get("/").text
    assert all(f'id="{name}"' in page for name in ("file", "k", "summary", "download"))


@pytest.mark.parametrize("image_format", ["png", "gif", "webp"])
def test_quantize_answers_the_image_and_its_summary(client, tmp_path, image_format):
    response = _post(client, k=8, format=image_format)
    assert response.status_code == 200
    summary = json.loads(response.headers["X-Kpalette-Summary"])
    assert summary["k"] == 8 and summary["colors"] == 8 and summary["format"] == image_format
    assert summary["output_bytes"] == len(response.content) and summary["mse"] > 0
    path = tmp_path / f"out.{image_format}"
    path.write_bytes(response.content)
    assert Image.open(path).format == image_format.upper()
    assert len(np.unique(load_image(path).reshape(-1, 3), axis=0)) <= 8


def test_every_choice_of_the_form(client):
    auto = json.loads(_post(client, k="auto").headers["X-Kpalette-Summary"])
    assert auto["choice"]["method"] == "delta_e"
    psnr = json.loads(_post(client, target_psnr=30).headers["X-Kpalette-Summary"])
    assert psnr["psnr"] >= 30 and psnr["choice"]["method"] == "target_psnr"
    small = _post(client, max_bytes=30000)
    assert len(small.content) <= 30000
    lab = json.loads(_post(client, k=6, colorspace="lab", dither=0.5, seed=3).headers[
        "X-Kpalette-Summary"
    ])  # fmt: skip
    assert lab["color_space"] == "lab" and lab["dither"] == 0.5


@pytest.mark.parametrize(
    ("fields", "data", "status", "message"),
    [
        ({"k": 0}, PHOTO, 400, "k must be a whole number >= 1, got 0"),
        ({"k": 300}, PHOTO, 400, "at most 256"),
        ({"k": "many"}, PHOTO, 400, "bad parameter"),
        ({"colorspace": "hsv"}, PHOTO, 400, "color_space must be one of"),
        ({"format": "bmp"}, PHOTO, 400, "format must be one of png, gif, webp"),
        ({"target_psnr": 30, "max_bytes": 10}, PHOTO, 400, "choose one of"),
        ({"target_psnr": 200}, PHOTO, 400, "not reached"),
        ({}, None, 400, "no 'image' file"),
        ({}, b"", 422, "empty"),
        ({}, b"not an image at all", 422, "not an image file"),
        ({}, PHOTO[:3000], 422, "cannot decode"),
        ({}, b"x" * 2_100_000, 413, "over the limit"),
    ],
)
def test_bad_requests_are_json_errors_with_the_right_status(client, fields, data, status, message):
    response = _post(client, data=data, **fields)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_an_image_over_the_pixel_limit_is_refused(client):
    big = Image.new("RGB", (1100, 1000), (10, 20, 30))
    import io

    buffer = io.BytesIO()
    big.save(buffer, "PNG")
    response = _post(client, data=buffer.getvalue())
    assert response.status_code == 422 and "over the limit of 1000000" in response.json()["error"]


def test_kpalette_serve_answers_on_loopback_and_warns_off_it(tmp_path):
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "kpalette", "serve", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert json.loads(r.read()) == {"status": "ok"}
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.2)
    finally:
        server.terminate()
        _, err = server.communicate(timeout=10)
    assert f"serving on http://127.0.0.1:{port}/" in err


def test_serve_without_the_web_extra_names_it(monkeypatch, capsys):
    import importlib.util

    from kpalette.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a)
    )
    assert main(["serve"]) == 1
    assert "pip install 'kpalette[web]'" in capsys.readouterr().err


def test_an_upload_is_counted_once_then_previewed_and_downloaded_at_any_k(client, tmp_path):
    created = client.post("/api/uploads", files={"image": ("p.png", PHOTO, "image/png")})
    assert created.status_code == 201
    info = created.json()
    assert (info["width"], info["height"]) == (600, 400) and len(info["id"]) >= 24
    for k in (4, 12):
        preview = client.get(f"/api/uploads/{info['id']}/preview", params={"k": k})
        assert preview.status_code == 200
        numbers = json.loads(preview.headers["X-Kpalette-Summary"])
        assert numbers["k"] == k and numbers["mse"] > 0
        path = tmp_path / f"preview{k}.png"
        path.write_bytes(preview.content)
        assert len(np.unique(load_image(path).reshape(-1, 3), axis=0)) <= k
    lab = client.get(
        f"/api/uploads/{info['id']}/preview", params={"k": 6, "colorspace": "lab", "dither": 1}
    )
    assert lab.status_code == 200
    download = client.get(f"/api/uploads/{info['id']}/download", params={"k": 12, "format": "gif"})
    summary = json.loads(download.headers["X-Kpalette-Summary"])
    assert download.status_code == 200 and download.content[:6] == b"GIF87a"
    assert summary["colors"] == 12 and summary["input_bytes"] == len(PHOTO)
    missing = client.get("/api/uploads/not-a-real-id/preview", params={"k": 4})
    assert missing.status_code == 404 and "no such upload" in missing.json()["error"]
    bad = client.get(f"/api/uploads/{info['id']}/preview", params={"k": 0})
    assert bad.status_code == 400


def test_uploads_are_bounded_in_number_and_time():
    from kpalette.serve.uploads import UploadStore

    store = UploadStore(max_uploads=2)
    app_client = TestClient(create_app(store=store))
    ids = [
        app_client.post("/api/uploads", files={"image": ("p.png", PHOTO, "image/png")}).json()["id"]
        for _ in range(3)
    ]
    assert len(store) == 2 and store.get(ids[0]) is None and store.get(ids[2]) is not None
    store.ttl = 0
    assert store.get(ids[2]) is None
    bad = app_client.post("/api/uploads", files={"image": ("p.png", b"nope", "image/png")})
    assert bad.status_code == 422
