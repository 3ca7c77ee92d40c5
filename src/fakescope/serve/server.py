"""Running the app under uvicorn so that no client can freeze it.

uvicorn's h11 protocol arms no timer until a first response is sent, and disarms its keep-alive
timer on any byte received, so a connection that sends part of its headers and stalls stays open
forever; and its `limit_concurrency` counts open connections, so enough such connections make
every request, `/api/health` included, answer 503. Here instead:

- `GuardedH11Protocol` gives every connection `header_timeout_s` from its opening, or from its
  previous response, to complete a request's headers, however slowly the bytes trickle in; then
  it is closed. A body that stalls is the app's business (408 after `upload_timeout_s`).
- `InFlightLimit` bounds the requests being handled (which hold upload memory), not connections:
  idle and half-sent connections cost nothing against it, and `/api/health` is never refused.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from fakescope.config import ConfigError
from fakescope.errors import SetupError
from fakescope.serve.settings import HEADER_TIMEOUT_S, KEEP_ALIVE_S, LIMIT_CONCURRENCY

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ALWAYS_ANSWERED = frozenset({"/api/health"})


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers (see the module)."""

    header_timeout_s = HEADER_TIMEOUT_S  # set per server by `guarded_protocol`

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._disarm_if_request_started()

    def on_response_complete(self) -> None:
        self._arm_header_deadline()  # before super(), which may start a pipelined request
        super().on_response_complete()
        self._disarm_if_request_started()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._timed_cycle = self.cycle  # a new cycle object means new headers arrived
        self._header_deadline: asyncio.TimerHandle | None = self.loop.call_later(
            self.header_timeout_s, self._headers_too_slow
        )

    def _disarm_header_deadline(self) -> None:
        deadline = getattr(self, "_header_deadline", None)
        if deadline is not None:
            deadline.cancel()
            self._header_deadline = None

    def _disarm_if_request_started(self) -> None:
        if self.cycle is not None and self.cycle is not self._timed_cycle:
            self._disarm_header_deadline()

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()  # connection_lost then closes the h11 state machine


def guarded_protocol(header_timeout_s: float) -> type[GuardedH11Protocol]:
    """The protocol class with this server's header deadline."""
    if header_timeout_s <= 0:
        raise ConfigError(f"the header timeout must be positive, got {header_timeout_s}")
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout_s": header_timeout_s})


class InFlightLimit:
    """ASGI middleware: beyond `limit` requests in progress, answer 503 with Retry-After, except
    for the paths in `always` (a health check must answer when the server is busiest)."""

    def __init__(self, app: ASGIApp, limit: int, always: frozenset[str] = ALWAYS_ANSWERED) -> None:
        if limit < 1:
            raise ConfigError(f"the concurrency limit must be at least 1, got {limit}")
        self.app, self.limit, self.always = app, limit, always
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.always:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await _busy(send, self.limit)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def _busy(send: Send, limit: int) -> None:
    body = json.dumps({"error": f"server busy: {limit} requests in progress; retry shortly"})
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"), (b"retry-after", b"1"),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body.encode()})


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port; a bad port or an address in use is one line."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port}: a TCP port is a number from 0 to 65535")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise SetupError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err
    return sock


def run_app(
    app: Any,
    host: str,
    port: int,
    limit_concurrency: int = LIMIT_CONCURRENCY,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    keep_alive_s: int = KEEP_ALIVE_S,
    log_level: str = "info",
) -> None:
    """Serve the Starlette/FastAPI `app` until interrupted, with the guards above."""
    protocol = guarded_protocol(header_timeout_s)
    app.add_middleware(InFlightLimit, limit=limit_concurrency)
    sock = bind_socket(host, port)
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, server_header=False, http=protocol,
        timeout_keep_alive=keep_alive_s, limit_concurrency=None,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
