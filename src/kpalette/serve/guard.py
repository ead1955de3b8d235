"""What every request to the web app passes before a route sees it (an ASGI middleware).

- **Host allowlist**: a request whose ``Host`` is not one of the allowed names is
  refused with a JSON 400, so that a page on another site cannot reach this server by
  rebinding its own DNS name to 127.0.0.1 (the browser would send that other name).
  The loopback names are allowed by default; ``kpalette serve --allow-host`` adds more.
- **Request bodies are counted as they stream**: past ``max_body`` bytes the body is
  cut and the answer is a JSON 413, whether or not the client sent a Content-Length
  (a chunked upload has none).
- **Headers on every answer**: ``X-Content-Type-Options: nosniff`` and a
  ``Referrer-Policy``, errors included.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

__all__ = ["LOOPBACK_HOSTS", "BodyTooLarge", "Guard", "host_name"]

#: Host names a local server answers by default.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: Headers added to every answer.
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class BodyTooLarge(Exception):
    """A request body went past the limit while it was read (``limit`` bytes)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"upload over the limit of {limit:,} bytes")
        self.limit = limit


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without its port and brackets, in lower case.

    >>> host_name("[::1]:8000"), host_name("LocalHost:80"), host_name("example.org")
    ('::1', 'localhost', 'example.org')
    """
    header = header.strip().lower()
    if header.startswith("["):  # an IPv6 literal: [addr] or [addr]:port
        return header[1:].partition("]")[0]
    if header.count(":") == 1:
        return header.partition(":")[0]
    return header


def _headers_with(headers, extra) -> list:
    present = {name.lower() for name, _ in headers}
    return list(headers) + [(name, value) for name, value in extra if name not in present]


def _refusal(status: int, message: str) -> JSONResponse:
    """The guard's own answer: JSON as every API error, and the connection closed (the
    request's body is not read on)."""
    return JSONResponse({"error": message}, status_code=status, headers={"Connection": "close"})


class Guard:
    """The ASGI app ``app`` behind the host allowlist, the body limit and the headers.

    Parameters
    ----------
    app : ASGI app
    allowed_hosts : iterable of str
        Host names answered (compared without port, case-insensitively); ``"*"``
        answers any.
    max_body : int
        Largest request body in bytes; reading past it raises :class:`BodyTooLarge`
        in the app (which may word it) and, unless the app has answered, a JSON 413.
    """

    def __init__(self, app, *, allowed_hosts, max_body: int) -> None:
        self.app = app
        self.allowed_hosts = frozenset(host_name(h) for h in allowed_hosts)
        self.max_body = max_body

    def allows(self, header: str) -> bool:
        """Whether a request with this ``Host`` header is answered."""
        return "*" in self.allowed_hosts or host_name(header) in self.allowed_hosts

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {
                    **message,
                    "headers": _headers_with(message.get("headers", []), SECURITY_HEADERS),
                }
            await send(message)

        host = dict(scope.get("headers") or ()).get(b"host", b"").decode("latin-1")
        if not self.allows(host):
            refusal = _refusal(
                400,
                f"this server does not answer for the host {host!r} "
                "(start it with --allow-host NAME to add one)",
            )
            await refusal(scope, receive, send_with_headers)
            return

        received = 0

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        try:
            await self.app(scope, counted_receive, send_with_headers)
        except BodyTooLarge as exc:
            if started:
                raise
            await _refusal(413, str(exc))(scope, receive, send_with_headers)
