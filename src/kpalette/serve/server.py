"""The web app under uvicorn, with a deadline on each request's headers.

uvicorn closes idle keep-alive connections, but a client that sends its request line
and headers one byte every few seconds is never idle and would hold a connection (and
a file descriptor) for ever. :class:`HeaderDeadlineProtocol` is uvicorn's HTTP/1.1
protocol (h11) with a timer from the moment a request may begin until its headers are
complete: past ``header_timeout`` seconds the connection is closed.
"""

from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT", "HeaderDeadlineProtocol", "run_server", "with_header_timeout"]

#: Seconds a client has to send a request's line and headers.
HEADER_TIMEOUT = 20.0


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on request headers (:data:`HEADER_TIMEOUT`)."""

    header_timeout = HEADER_TIMEOUT
    _deadline = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the headers are in
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request's headers have the same time

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.logger.warning(
                "closing a connection whose request headers took over %.0f s", self.header_timeout
            )
            self.transport.close()


def with_header_timeout(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class with a deadline of ``seconds`` (for tests and other limits)."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": seconds})


def run_server(app, *, host: str, port: int, header_timeout: float = HEADER_TIMEOUT) -> None:
    """Serve ``app`` on ``host:port`` until interrupted (uvicorn, warnings only logged)."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=with_header_timeout(header_timeout),
    )
    uvicorn.Server(config).run()
