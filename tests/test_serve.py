"""kpalette serve's HTTP API through Starlette's test client: each parameter, each error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kpalette import load_image
from kpalette.data import sample_image_path
from kpalette.palette import to_hex

pytest.importorskip("starlette")
pytest.importorskip("multipart")
from starlette.testclient import TestClient

from kpalette.serve import create_app

#: The loopback name a local server answers (others are refused, against DNS rebinding).
LOCAL = "http://127.0.0.1"

PHOTO = sample_image_path().read_bytes()


@pytest.fixture
def client():
    return TestClient(base_url=LOCAL, app=create_app(max_upload=2_000_000, max_pixels=1_000_000))


def _post(client, data=PHOTO, **fields):
    files = {"image": ("photo.png", data, "image/png")} if data is not None else None
    return client.post("/api/quantize", files=files, data={k: str(v) for k, v in fields.items()})


def test_the_page_its_files_and_the_health_check(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/")
    page = response.text
    for name in ("file", "k", "preview", "palette", "summary", "download"):
        assert f'id="{name}"' in page
    # Everything the page loads comes from this server: the policy says so to the browser.
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert "http" not in page.replace("http-equiv", "")  # no address elsewhere
    for name, media in (("app.js", "text/javascript"), ("app.css", "text/css")):
        static = client.get(f"/static/{name}")
        assert static.status_code == 200 and static.headers["content-type"].startswith(media)
        assert "http://" not in static.text and "https://" not in static.text
    missing = client.get("/static/secret.txt")
    assert missing.status_code == 404 and "no such file" in missing.json()["error"]
    assert client.get("/static/..%2Fapp.py").status_code == 404


def test_the_page_gets_plotly_from_the_app_itself(client):
    pytest.importorskip("plotly")
    import gzip

    from plotly.offline import get_plotlyjs

    zipped = client.get("/static/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.status_code == 200 and zipped.headers["content-encoding"] == "gzip"
    assert zipped.text == get_plotlyjs()  # httpx unzips it
    plain = client.get("/static/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == get_plotlyjs()
    assert len(gzip.compress(plain.content)) < len(plain.content) / 2


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
    assert auto["choice"]["method"] == "quality"
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
        ({"k": "many"}, PHOTO, 400, "k must be a whole number, got 'many'"),
        ({"seed": "x"}, PHOTO, 400, "seed must be a whole number"),
        ({"dither": "lots"}, PHOTO, 400, "dither must be a number"),
        ({"colorspace": "hsv"}, PHOTO, 400, "colorspace must be one of rgb, lab, oklab, got 'hsv'"),
        ({"dither": "2"}, PHOTO, 400, "dither must be a strength in 0..1, got 2.0"),
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


def test_kpalette_serve_answers_on_loopback():
    import subprocess

    from serving import running_server

    with running_server(stderr=subprocess.PIPE) as (process, url):
        pass  # it answered its health check
    assert f"serving on {url}" in process.stderr.read()


def test_serving_off_loopback_warns(monkeypatch, capsys):
    import kpalette.serve
    from kpalette.cli import main

    ran = {}
    monkeypatch.setattr(kpalette.serve, "run_server", lambda app, **kwargs: ran.update(kwargs))
    assert main(["serve", "--host", "0.0.0.0", "--port", "8123"]) == 0
    err = capsys.readouterr().err
    assert ran["host"] == "0.0.0.0" and ran["port"] == 8123
    assert "kpalette: warning: serving on 0.0.0.0: other machines can reach the page" in err
    assert main(["serve"]) == 0 and "warning" not in capsys.readouterr().err


def test_serve_answers_the_loopback_names_its_host_and_allow_host_only(monkeypatch):
    import kpalette.serve
    from kpalette.cli import main

    ran = {}
    monkeypatch.setattr(
        kpalette.serve, "run_server", lambda app, **kwargs: ran.update(kwargs, app=app)
    )
    assert main(["serve", "--host", "192.0.2.7", "--allow-host", "photos.lan"]) == 0
    client = TestClient(ran["app"], base_url="http://127.0.0.1:8000")
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000", "192.0.2.7", "Photos.LAN:8000"):
        assert client.get("/healthz", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "photos.lan.evil.example", "127.0.0.1.nip.io", ""):
        answer = client.get("/healthz", headers={"Host": host})
        assert answer.status_code == 400, host
        assert "--allow-host" in answer.json()["error"]
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert main(["serve", "--allow-host", "*"]) == 0
    client = TestClient(ran["app"], base_url="http://anything.example")
    assert client.get("/healthz").status_code == 200


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
        preview = client.get(f"/api/uploads/{info['id']}/preview", params={"k": k, "tune": "mse"})
        assert preview.status_code == 200
        numbers = json.loads(preview.headers["X-Kpalette-Summary"])
        assert numbers["k"] == k and numbers["mse"] > 0
        # Tuned for the eye (the default), the view is mapped on its own, its
        # measures left to the full-size result.
        eye = client.get(f"/api/uploads/{info['id']}/preview", params={"k": k})
        eye_numbers = json.loads(eye.headers["X-Kpalette-Summary"])
        assert eye_numbers["k"] == k and eye_numbers["mse"] is None
        assert len(np.unique(load_image(eye.content).reshape(-1, 3), axis=0)) <= k
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
    app_client = TestClient(base_url=LOCAL, app=create_app(store=store))
    ids = [
        app_client.post("/api/uploads", files={"image": ("p.png", PHOTO, "image/png")}).json()["id"]
        for _ in range(3)
    ]
    assert len(store) == 2 and store.get(ids[0]) is None and store.get(ids[2]) is not None
    store.ttl = 0
    assert store.get(ids[2]) is None
    bad = app_client.post("/api/uploads", files={"image": ("p.png", b"nope", "image/png")})
    assert bad.status_code == 422


@pytest.fixture
def uploaded(client):
    response = client.post("/api/uploads", files={"image": ("my photo.png", PHOTO, "image/png")})
    assert response.status_code == 201
    return response.json()


def _get(client, info, route, **params):
    return client.get(f"/api/uploads/{info['id']}/{route}", params=params)


def _array(data: bytes) -> np.ndarray:
    return load_image(data)


def test_the_preview_is_a_subsample_of_the_full_size_result(client, uploaded):
    # Each colour its nearest entry (tune=mse, no dithering): previews are exact.
    full = _array(_get(client, uploaded, "download", k=9, tune="mse").content)
    original = load_image(sample_image_path())
    for params, step in (({"side": 300}, 2), ({"side": 800}, 1), ({"side": 100}, 6)):
        preview = _get(client, uploaded, "preview", k=9, tune="mse", **params)
        view = json.loads(preview.headers["X-Kpalette-Summary"])["view"]
        assert view == {"x": 0, "y": 0, "width": 600, "height": 400, "step": step}
        np.testing.assert_array_equal(_array(preview.content), full[::step, ::step])
        before = _get(client, uploaded, "original", **params)
        np.testing.assert_array_equal(_array(before.content), original[::step, ::step])
    # A 1:1 crop, as the zoom asks for; a region past the edge is clipped to the image.
    crop = _get(client, uploaded, "preview", k=9, tune="mse", x=500, y=350, w=300, h=300)
    np.testing.assert_array_equal(_array(crop.content), full[350:, 500:])


def test_the_preview_numbers_are_the_full_size_file_s(client, uploaded):
    preview = json.loads(
        _get(client, uploaded, "preview", k=7, tune="mse").headers["X-Kpalette-Summary"]
    )
    summary = _get(client, uploaded, "summary", k=7, tune="mse", format="webp").json()
    download = _get(client, uploaded, "download", k=7, tune="mse", format="webp")
    assert download.headers["content-type"] == "image/webp"
    assert download.headers["content-disposition"] == 'attachment; filename="my-photo-k7.webp"'
    assert summary["output_bytes"] == len(download.content)
    assert summary["input_bytes"] == len(PHOTO) == uploaded["bytes"]
    assert summary["ratio"] == round(len(PHOTO) / len(download.content), 4)
    assert summary["file_name"] == "my-photo-k7.webp" and summary["input"] == "my photo.png"
    for key in ("k", "colors", "palette", "shares"):
        assert preview[key] == summary[key], key
    assert preview["mse"] == round(summary["mse"], 4) and preview["delta_e"] is None
    assert summary["delta_e"] > 0
    written = _array(download.content).reshape(-1, 3)
    hexes = set(to_hex(np.unique(written, axis=0)))
    assert hexes == set(summary["palette"])


def test_with_dithering_the_numbers_wait_for_the_full_size_result(client, uploaded):
    preview = _get(client, uploaded, "preview", k=6, dither=0.5)
    numbers = json.loads(preview.headers["X-Kpalette-Summary"])
    assert numbers["psnr"] is None and numbers["delta_e"] is None and numbers["colors"] == 6
    summary = _get(client, uploaded, "summary", k=6, dither=0.5).json()
    plain = _get(client, uploaded, "summary", k=6).json()
    assert summary["dither"] == 0.5 and summary["psnr"] > 0 and summary["mse"] != plain["mse"]


@pytest.mark.parametrize("fmt", ["gpl", "json", "css", "hex"])
def test_the_palette_downloads_hold_the_result_s_colours(client, uploaded, tmp_path, fmt):
    from kpalette.palette import read_palette

    response = _get(client, uploaded, "palette", k=5, format=fmt)
    assert response.status_code == 200
    name = f"my-photo-k5-palette.{fmt}"
    assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
    summary = _get(client, uploaded, "summary", k=5).json()
    if fmt == "css":
        assert response.text.count("--my-photo-") == 5
        assert all(code in response.text for code in summary["palette"])
        return
    path = tmp_path / ("p.txt" if fmt == "hex" else f"p.{fmt}")
    path.write_bytes(response.content)
    assert to_hex(read_palette(path)) == summary["palette"]


def test_choosing_k_says_why_and_the_choice_holds(client, uploaded):
    auto = _get(client, uploaded, "choose", k="auto").json()
    assert 2 <= auto["k"] <= 256 and "-k auto's target" in auto["reason"]
    psnr = _get(client, uploaded, "choose", target_psnr=30).json()
    assert psnr["method"] == "target_psnr" and "30 dB" in psnr["reason"]
    assert _get(client, uploaded, "summary", k=psnr["k"]).json()["psnr"] >= 30
    size = _get(client, uploaded, "choose", max_bytes=40000, format="gif").json()
    assert size["method"] == "max_bytes"
    gif = _get(client, uploaded, "download", k=size["k"], format="gif")
    assert len(gif.content) <= 40000
    assert len(_get(client, uploaded, "download", k=size["k"] + 1, format="gif").content) > 40000
    unmet = _get(client, uploaded, "choose", target_psnr=150)
    assert unmet.status_code == 400 and "not reached" in unmet.json()["error"]
    quality = _get(client, uploaded, "choose", quality=60).json()
    assert quality["method"] == "quality" and "SSIMULACRA2 60" in quality["reason"]
    too_high = _get(client, uploaded, "choose", quality="99.9-100")
    assert too_high.status_code == 400 and "not reached" in too_high.json()["error"]
    nothing = _get(client, uploaded, "choose", k=5)
    assert (
        nothing.status_code == 400 and "k=auto, target_psnr, max_bytes or quality" in nothing.text
    )


def test_the_cloud_is_a_weighted_sample_and_the_centroids(client, uploaded):
    from kpalette.serve.tasks import CLOUD_POINTS

    cloud = _get(client, uploaded, "cloud", k=12).json()
    assert len(cloud["colors"]) == len(cloud["counts"]) == CLOUD_POINTS < cloud["n_colors"]
    assert cloud["n_colors"] == uploaded["colors"]
    assert len(cloud["centers"]) == len(cloud["shares"]) == 12
    assert abs(sum(cloud["shares"]) - 1) < 1e-4 and min(min(c) for c in cloud["colors"]) >= 0


@pytest.mark.parametrize(
    ("route", "params", "message"),
    [
        ("preview", {"k": "auto"}, "give k as a number here"),
        ("preview", {"k": 4, "side": 5000}, "side must be in 16..4096, got 5000"),
        ("preview", {"k": 4, "x": 600}, "outside the 600x400 image"),
        ("preview", {"k": 4, "w": 0}, "at least 1x1"),
        ("preview", {"k": 4, "y": "top"}, "y must be a whole number, got 'top'"),
        ("original", {"side": 2}, "side must be in 16..4096"),
        ("summary", {"k": 1000}, "at most 256"),
        ("download", {"k": 4, "format": "jpeg"}, "format must be one of png, gif, webp"),
        ("palette", {"k": 4, "format": "aco"}, "format must be one of gpl, json, css, hex"),
        ("cloud", {"k": -1}, "k must be a whole number >= 1"),
        ("choose", {"max_bytes": "x"}, "max_bytes must be a whole number"),
    ],
)
def test_bad_parameters_on_an_upload_are_400s(client, uploaded, route, params, message):
    response = _get(client, uploaded, route, **params)
    assert response.status_code == 400 and message in response.json()["error"]


@pytest.mark.parametrize(
    "route", ["preview", "original", "summary", "download", "palette", "choose", "cloud"]
)
def test_an_unknown_upload_is_a_404_on_every_route(client, uploaded, route):
    forged = uploaded["id"][:-1] + ("A" if uploaded["id"][-1] != "A" else "B")
    response = client.get(f"/api/uploads/{forged}/{route}", params={"k": 4})
    assert response.status_code == 404 and "no such upload" in response.json()["error"]


def test_an_upload_can_be_forgotten(client, uploaded):
    assert client.delete(f"/api/uploads/{uploaded['id']}").status_code == 204
    assert _get(client, uploaded, "preview", k=4).status_code == 404
    assert client.delete(f"/api/uploads/{uploaded['id']}").status_code == 404


def test_an_upload_holds_a_bounded_number_of_fits_and_sweeps():
    from kpalette.options import Options
    from kpalette.serve import uploads

    store = uploads.UploadStore()
    app_client = TestClient(base_url=LOCAL, app=create_app(store=store))
    info = app_client.post("/api/uploads", files={"image": ("p.png", PHOTO, "image/png")}).json()
    upload = store.get(info["id"])
    for k in range(2, 2 + uploads.MAX_FITS + 6):
        assert _get(app_client, info, "preview", k=k, side=64).status_code == 200
    sweep = upload.sweep_for(Options())
    assert len(sweep.fitted_ks) == uploads.MAX_FITS
    for seed in range(uploads.MAX_SWEEPS + 2):
        assert _get(app_client, info, "preview", k=3, seed=seed, side=64).status_code == 200
    assert len(upload.sweeps) == uploads.MAX_SWEEPS
    held = upload.nbytes
    _get(app_client, info, "summary", k=3)
    assert upload.nbytes > held  # the full-size result is counted while it is kept


def test_the_store_drops_the_oldest_uploads_beyond_its_memory():
    from kpalette.serve.uploads import UploadStore

    store = UploadStore(max_bytes=1_500_000)  # one 600x400 photo (720 kB of pixels) and a bit
    app_client = TestClient(base_url=LOCAL, app=create_app(store=store))
    ids = [
        app_client.post("/api/uploads", files={"image": ("p.png", PHOTO, "image/png")}).json()["id"]
        for _ in range(3)
    ]
    assert len(store) == 1 and store.get(ids[2]) is not None


def test_many_tabs_at_once_each_get_their_own_answers():
    import asyncio

    import httpx

    app = create_app(threads=2)

    async def tab(http, k):
        files = {"image": ("p.png", PHOTO, "image/png")}
        info = (await http.post("/api/uploads", files=files)).json()
        answers = await asyncio.gather(
            *(http.get(f"/api/uploads/{info['id']}/preview", params={"k": kk, "side": 64})
              for kk in (k, k + 1, k + 2))
        )  # fmt: skip
        assert [a.status_code for a in answers] == [200] * 3, [a.text for a in answers]
        return [json.loads(a.headers["X-Kpalette-Summary"])["k"] for a in answers]

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            return await asyncio.gather(*(tab(http, k) for k in (2, 10, 20, 30)))

    assert asyncio.run(main()) == [[2, 3, 4], [10, 11, 12], [20, 21, 22], [30, 31, 32]]


def test_a_translucent_image_s_preview_keeps_its_alpha(client):
    import io

    rng = np.random.default_rng(4)
    rgba = rng.integers(0, 256, (120, 160, 4), dtype=np.uint8)
    rgba[:40, :, 3] = 0  # fully transparent
    rgba[40:80, :, 3] = 128  # translucent
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    files = {"image": ("alpha.png", buffer.getvalue(), "image/png")}
    info = client.post("/api/uploads", files=files).json()
    full = _array(_get(client, info, "download", k=12, tune="mse").content)
    preview = _array(_get(client, info, "preview", k=12, side=80, tune="mse").content)
    assert preview.shape == (60, 80, 4)
    np.testing.assert_array_equal(preview, full[::2, ::2])
    assert (preview[:20, :, 3] == 0).all() and (preview[20:40, :, 3] == 128).any()


@pytest.mark.parametrize("route", ["/api/quantize", "/api/uploads"])
def test_bombs_are_refused_before_they_are_decoded(route):
    from pngbytes import huge_header_png

    client = TestClient(
        base_url=LOCAL, app=create_app()
    )  # the default limits: the library's, one for all
    tiny = huge_header_png(9500, 9500)  # 90 MP declared in a few bytes
    response = client.post(route, files={"image": ("bomb.png", tiny, "image/png")})
    assert response.status_code == 422
    assert "over the limit of 89478485" in response.json()["error"]
    # Under the pixel limit but out of proportion to its file.
    small_bomb = huge_header_png(6000, 6000)
    response = client.post(route, files={"image": ("bomb.png", small_bomb, "image/png")})
    assert response.status_code == 422 and "out of proportion" in response.json()["error"]
    assert client.get("/healthz").status_code == 200


def test_a_format_too_small_for_the_image_is_a_400(client):
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((70_000, 4, 3), dtype=np.uint8)).save(buffer, "PNG")
    info = client.post("/api/uploads", files={"image": ("tall.png", buffer.getvalue())}).json()
    for route in ("summary", "download"):
        for fmt in ("gif", "webp"):
            response = _get(client, info, route, k=2, format=fmt)
            assert response.status_code == 400 and "holds at most" in response.json()["error"]
    assert _get(client, info, "download", k=2, format="png").status_code == 200
    quantized = _post(client, data=buffer.getvalue(), k=2, format="gif")
    assert quantized.status_code == 400 and "GIF holds at most 65,535" in quantized.text


def test_two_apps_keep_their_own_uploads_and_limits():
    small = TestClient(base_url=LOCAL, app=create_app(max_upload=100))
    other = TestClient(base_url=LOCAL, app=create_app())
    png = io_bytes_png()
    assert small.post("/api/uploads", files={"image": ("a.png", png)}).status_code == 413
    made = other.post("/api/uploads", files={"image": ("a.png", png)})
    assert made.status_code == 201
    upload = made.json()["id"]
    assert small.get(f"/api/uploads/{upload}/preview?k=2").status_code == 404
    assert other.get(f"/api/uploads/{upload}/preview?k=2").status_code == 200


def io_bytes_png() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.arange(300 * 3, dtype=np.uint8).reshape(10, 30, 3)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_file_name_outside_latin_1_downloads_with_an_rfc_6266_header(client):
    from urllib.parse import unquote

    created = client.post(
        "/api/uploads", files={"image": ("фото-猫.png", PHOTO, "image/png")}
    ).json()
    for route, params, name in (
        ("download", {"k": 4}, "фото-猫-k4.png"),
        ("palette", {"k": 4, "format": "gpl"}, "фото-猫-k4-palette.gpl"),
    ):
        answer = client.get(f"/api/uploads/{created['id']}/{route}", params=params)
        assert answer.status_code == 200, answer.text
        header = answer.headers["content-disposition"]
        fallback, encoded = header.split("; filename*=UTF-8''")
        assert fallback.startswith('attachment; filename="') and fallback.isascii()
        assert unquote(encoded) == name


def test_requests_at_once_share_the_loops_threads():
    import anyio
    from kpalette._kernels.threads import max_threads

    from kpalette.serve.app import work

    state = create_app(threads=4).state.kpalette
    assert state.threads == 4

    async def main():
        alone = await work(state, "quick", max_threads)
        state.working[0] += 1  # another request working meanwhile
        try:
            shared = await work(state, "long", max_threads)
        finally:
            state.working[0] -= 1
        return alone, shared

    assert anyio.run(main) == (4, 2)
    assert state.working == [0]


def test_a_wide_gamut_upload_s_palette_is_in_srgb(client):
    """A ProPhoto photo of one colour: the page's palette is the sRGB colour a
    colour-managed viewer shows, not the file's device value."""
    import io

    from PIL import ImageCms

    profile = Path("/usr/share/color/icc/colord/ProPhotoRGB.icc")
    if not profile.is_file():
        pytest.skip(f"needs {profile} (Debian's colord-data)")
    prophoto = ImageCms.getOpenProfile(str(profile))
    srgb = ImageCms.createProfile("sRGB")
    flat = Image.new("RGB", (32, 32), (200, 60, 40))
    device = ImageCms.profileToProfile(flat, srgb, prophoto)
    buffer = io.BytesIO()
    device.save(buffer, "PNG", icc_profile=prophoto.tobytes())
    created = client.post(
        "/api/uploads", files={"image": ("p.png", buffer.getvalue(), "image/png")}
    )
    summary = _get(client, created.json(), "summary", k=2).json()
    shown = np.array([int(summary["palette"][0][i : i + 2], 16) for i in (1, 3, 5)])
    assert np.abs(shown - (200, 60, 40)).max() <= 2
    assert summary["palette"][0] != to_hex(np.asarray(device)[:1, 0])[0]


def test_an_animation_is_shown_by_its_first_frame_and_downloaded_whole(client):
    """The upload says its frames; the summary's size and the download are the whole
    animation over one palette, the measures the first frame's."""
    import io

    from kpalette import read_frames

    still = np.asarray(Image.open(io.BytesIO(PHOTO)).convert("RGB"))[:120, :160]
    frames = []
    for i in range(5):
        frame = still.copy()
        frame[10:30, 10 + 20 * i : 30 + 20 * i] = (255, 0, 0)
        frames.append(Image.fromarray(frame))
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:], duration=70, loop=0)
    created = client.post(
        "/api/uploads", files={"image": ("a.png", buffer.getvalue(), "image/png")}
    )
    info = created.json()
    assert info["frames"] == 5 and (info["width"], info["height"]) == (160, 120)
    summary = _get(client, info, "summary", k=16, format="gif").json()
    assert summary["frames"] == 5
    download = _get(client, info, "download", k=16, format="gif")
    assert download.status_code == 200 and len(download.content) == summary["output_bytes"]
    read = read_frames(download.content)
    assert len(read.frames) == 5 and read.durations == (70,) * 5
    assert len(np.unique(read.frames.reshape(-1, 3), axis=0)) <= 16
