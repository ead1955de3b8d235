"""The web app's guard: host allowlist, streamed body limit, headers on every answer, and
Starlette's own refusals as JSON."""

from __future__ import annotations

import contextlib
import socket
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("multipart")
from starlette.testclient import TestClient

from kpalette.serve import create_app
from kpalette.serve.app import CONTENT_SECURITY_POLICY
from kpalette.serve.guard import host_name

LOCAL = "http://127.0.0.1"


@pytest.fixture
def client():
    return TestClient(create_app(max_upload=100_000), base_url=LOCAL)


@pytest.mark.parametrize(
    "header, name",
    [
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:8000", "::1"),
        ("[::1]", "::1"),
        ("LOCALHOST", "localhost"),
        ("example.org:443", "example.org"),
        ("", ""),
    ],
)
def test_host_name_drops_the_port_and_brackets(header, name):
    assert host_name(header) == name


def test_a_rebound_host_name_is_refused_on_every_route(client):
    for method, path in (("GET", "/"), ("GET", "/healthz"), ("POST", "/api/uploads")):
        answer = client.request(method, path, headers={"Host": "attacker.example"})
        assert answer.status_code == 400
        assert answer.headers["content-type"] == "application/json"
        assert "'attacker.example'" in answer.json()["error"]


def test_every_answer_has_nosniff_and_a_referrer_policy(client):
    for method, path in (
        ("GET", "/"),
        ("GET", "/static/app.js"),
        ("GET", "/healthz"),
        ("GET", "/no/such/page"),
        ("POST", "/api/uploads"),  # a 400: no form
        ("DELETE", "/api/uploads/nothing"),
    ):
        answer = client.request(method, path)
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "no-referrer", path


def test_the_page_s_policy_runs_no_eval_and_no_inline_script(client):
    policy = client.get("/").headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    script = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert script.split() == ["script-src", "'self'"]


def test_unknown_routes_and_wrong_methods_are_json(client):
    missing = client.get("/nothing/here")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no such page or API route: /nothing/here"}
    wrong = client.put("/api/quantize")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"
    assert wrong.json()["error"].startswith("PUT is not allowed on /api/quantize (it takes POST")


def _chunks(total: int, size: int = 16384):
    """A multipart body of ``total`` bytes of file, yielded in chunks (no length known)."""
    yield (
        b'--b\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    )
    for _ in range(total // size):
        yield b"\0" * size
    yield b"\r\n--b--\r\n"


def test_a_chunked_upload_over_the_limit_is_a_413(client):
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    answer = client.post("/api/uploads", content=_chunks(1_000_000), headers=headers)
    assert answer.status_code == 413
    assert answer.json() == {"error": "upload over the limit of 165,536 bytes"}
    # under the limit, the same way of sending is read (and refused as not an image)
    answer = client.post("/api/uploads", content=_chunks(50_000), headers=headers)
    assert answer.status_code == 422


def test_a_real_server_stops_a_chunked_upload_at_the_limit():
    """1 GiB offered without a Content-Length: the answer is a 413 long before it is sent."""
    from serving import running_server

    with running_server() as (_, url):
        port = int(url.rsplit(":", 1)[1].strip("/"))
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(
                b"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            head = next(_chunks(0))
            conn.sendall(b"%x\r\n%s\r\n" % (len(head), head))
            chunk = b"\0" * 1_048_576
            framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
            sent, answer, pending = 0, b"", memoryview(framed)
            conn.setblocking(False)
            deadline = time.monotonic() + 60
            while sent < 1024 * len(chunk) and time.monotonic() < deadline:
                with contextlib.suppress(BlockingIOError):
                    answer += conn.recv(65536)
                if answer:
                    break
                try:
                    count = conn.send(pending)
                except BlockingIOError:
                    time.sleep(0.01)
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += count
                pending = pending[count:] or memoryview(framed)
            conn.setblocking(True)
            while b"\r\n\r\n" not in answer:
                more = conn.recv(65536)
                if not more:
                    break
                answer += more
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/json" in answer
    assert sent < 80 * len(chunk)  # cut at ~50 MB (plus the socket buffers), not 1 GiB
