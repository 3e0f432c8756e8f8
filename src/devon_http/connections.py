"""Connection limits uvicorn lacks: a deadline for a request's headers, and a cap on open
connections per server process (docs/security.md).

uvicorn closes a connection idle between requests after its keep-alive timeout, but a client
that has sent part of a request's headers, or nothing at all yet, is waited on for ever; and
it accepts any number of connections. `LimitedProtocol`, the HTTP protocol uvicorn would
use with two additions, closes a connection whose request head has not arrived within
`header_timeout_s`, and answers 503 and closes a connection beyond `max_connections`.
It also offers each request zero-copy file sending (the `devon.sendfile` ASGI extension of
`devon_http.file_sending`, with uvicorn's httptools protocol).
"""

import asyncio
import json
from functools import partial
from typing import Any

import attrs
from uvicorn.config import Config
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from devon_adapters.settings import DEFAULT_HEADER_TIMEOUT_S, DEFAULT_MAX_CONNECTIONS
from devon_http.file_sending import SENDFILE, zero_copy_send


async def _send_file(cycle: Any, fd: int, offset: int, count: int) -> int:
    """The `devon.sendfile` extension for one request (`devon_http.file_sending`): sends
    the span past uvicorn's request cycle, then tells the cycle those bytes were sent; a
    short send ends the answer there and closes the connection after it."""
    sent = await zero_copy_send(cycle.transport, fd, offset, count)
    cycle.expected_content_length = max(cycle.expected_content_length - sent, 0)
    if sent < count:
        cycle.keep_alive = False
        cycle.expected_content_length = 0
    return sent


def _counts_length(cycle: Any) -> bool:
    """Whether `cycle` is uvicorn's httptools request cycle, which `_send_file` knows."""
    return hasattr(cycle, "expected_content_length") and hasattr(cycle, "keep_alive")


BUSY_DETAIL = "Too many open connections to this server: try again shortly"


def _busy_answer() -> bytes:
    body = json.dumps({"detail": BUSY_DETAIL}).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "x-content-type-options: nosniff\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


@attrs.define
class ConnectionLimits:
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS


LIMITS = ConnectionLimits()
"""This process's limits: set by `serve`, and by each worker's app factory from the settings
it reads (a worker process is spawned: it does not inherit the parent's objects)."""


def set_limits(header_timeout_s: float, max_connections: int) -> None:
    LIMITS.header_timeout_s = header_timeout_s
    LIMITS.max_connections = max_connections


class LimitedProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol with the limits in `LIMITS` (pass as `Config(http=...)`)."""

    def __init__(self, config: Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._cycle_at_deadline: Any = None

    def connection_made(self, transport: Any) -> None:
        if len(self.connections) >= LIMITS.max_connections:
            transport.write(_busy_answer())
            transport.close()
            return
        super().connection_made(transport)
        self._expect_head()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope and _counts_length(cycle):
            extensions = self.scope.setdefault("extensions", {})
            extensions[SENDFILE] = {"send": partial(_send_file, cycle)}

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        if getattr(self, "transport", None) is not None:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._waiting_for_head():
            self._expect_head()
        else:
            self._cancel_deadline()

    def _waiting_for_head(self) -> bool:
        """No request underway: what arrives now is (part of) the next request's head."""
        return self.cycle is None or bool(self.cycle.response_complete)

    def _expect_head(self) -> None:
        if self._head_deadline is None:
            self._cycle_at_deadline = self.cycle
            self._head_deadline = self.loop.call_later(LIMITS.header_timeout_s, self._head_late)

    def _cancel_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_late(self) -> None:
        self._head_deadline = None
        if self.cycle is self._cycle_at_deadline and self._waiting_for_head():
            self.transport.close()  # a head began and never finished, or never began
