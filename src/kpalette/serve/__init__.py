"""``kpalette serve``: a local web app over the public API (the ``web`` extra).

:func:`create_app` builds the ASGI app (Starlette); ``kpalette serve`` runs it under
uvicorn on loopback. The library's work runs in a thread pool, never on the event loop.
"""

from .app import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD, create_app

__all__ = ["DEFAULT_MAX_PIXELS", "DEFAULT_MAX_UPLOAD", "create_app"]
