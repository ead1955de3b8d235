"""The web app under uvicorn: a client that trickles its headers is dropped."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")
import uvicorn

from kpalette.serve import HEADER_TIMEOUT, create_app
from kpalette.serve.server import with_header_timeout


@contextlib.contextmanager
def serving(header_timeout: float):
    """A uvicorn server of the app in a thread, with that header deadline; its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(),
        host="127.0.0.1",
        port=port,
        log_level="error",
        http=with_header_timeout(header_timeout),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _closed_after(conn: socket.socket, trickle: bytes, every: float, limit: float) -> float | None:
    """Send ``trickle`` one byte every ``every`` seconds; seconds until the server closed
    the connection, or None if it was still open after ``limit`` seconds."""
    start = time.monotonic()
    conn.settimeout(every)
    for byte in trickle:
        if time.monotonic() - start > limit:
            return None
        try:
            conn.sendall(bytes([byte]))
            if conn.recv(1024) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - start
    return None


def test_the_default_deadline_is_under_a_minute():
    assert 5 <= HEADER_TIMEOUT <= 60


def test_a_client_trickling_its_headers_is_dropped():
    with serving(header_timeout=1.0) as port:
        with socket.create_connection(("127.0.0.1", port)) as conn:
            headers = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
            seconds = _closed_after(conn, headers, every=0.2, limit=10)
        assert seconds is not None and seconds < 3
        # a prompt client on the same server is answered, and on a kept-alive
        # connection its second request gets the same time for its headers
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            conn.sendall(request)
            assert conn.recv(4096).startswith(b"HTTP/1.1 200")
            seconds = _closed_after(conn, request[:-2] + b"X: " + b"a" * 200, 0.2, 10)
        assert seconds is not None and seconds < 3


def test_a_slow_body_after_prompt_headers_is_not_cut():
    with serving(header_timeout=1.0) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            body = b"k=8"
            conn.sendall(
                b"POST /api/quantize HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)
            )
            for byte in body:
                time.sleep(0.6)  # 1.8 s in all: past the header deadline
                conn.sendall(bytes([byte]))
            answer = b""
            while not answer.endswith(b"}"):
                answer += conn.recv(4096)
        assert answer.startswith(b"HTTP/1.1 400")  # read whole, then refused: no image
        assert b"'image'" in answer
