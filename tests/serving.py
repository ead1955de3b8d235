"""A ``kpalette serve`` process on a free loopback port, and the processes under one,
for the tests and the benches."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def answers(url: str) -> bool:
    """Whether the server at ``url`` (ending in /) answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}healthz", timeout=2) as response:
            return json.loads(response.read()) == {"status": "ok"}
    except OSError:
        return False


@contextlib.contextmanager
def running_server(*, stderr=subprocess.DEVNULL, timeout: float = 60):
    """Yield ``(process, url)`` of a ``kpalette serve`` on 127.0.0.1 once it answers;
    stopped afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "kpalette", "serve", "--port", str(port)],
        stderr=stderr,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while not answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kpalette serve did not answer on {url}")
            time.sleep(0.2)
        yield process, url
    finally:
        process.terminate()
        process.wait(timeout=10)


def descendants(pid: int) -> set[int]:
    """Every process under ``pid``, children of its children included (Linux /proc)."""
    found, pending = set(), [pid]
    while pending:
        current = pending.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                children = {int(c) for c in (task / "children").read_text().split()}
                pending.extend(children - found)
                found |= children
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found
