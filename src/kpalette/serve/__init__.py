"""``kpalette serve``: a local web app over the public API (the ``web`` extra).

:func:`create_app` builds the ASGI app (Starlette) behind its guard (host allowlist,
body limit, security headers); :func:`run_server` runs it under uvicorn with a deadline
on request headers, as ``kpalette serve`` does on loopback. The library's work runs in
a thread pool, never on the event loop.
"""

from .app import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD, create_app
from .guard import LOOPBACK_HOSTS
from .server import HEADER_TIMEOUT, run_server

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_UPLOAD",
    "HEADER_TIMEOUT",
    "LOOPBACK_HOSTS",
    "create_app",
    "run_server",
]
