"""Connection limits uvicorn lacks: a deadline for a request's headers, and a cap on open
connections per server process (docs/security.md).

uvicorn closes a connection idle between requests after its keep-alive timeout, but a client
that has sent part of a request's headers, or nothing at all yet, is waited on for ever; and
it accepts any number of connections. `LimitedProtocol`, the HTTP protocol uvicorn would
use with these additions, closes a connection whose request head has not arrived within
`header_timeout_s`, and answers 503 and closes a connection beyond `max_connections`.
It also offers each request zero-copy file sending (the `devon.sendfile` ASGI extension of
`devon_http.file_sending`, with uvicorn's httptools protocol).

`/health` is answered even then (ADR 0206): up to `HEALTH_RESERVE` connections beyond the
cap are read until their request head (for at most `RESERVE_WAIT_S`); a `GET /health` gets
the health answer, anything else the 503, and each is closed.
"""

import asyncio
import json
import threading
from functools import partial
from typing import Any

import attrs
from uvicorn.config import Config
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from devon_app.settings import DEFAULT_HEADER_TIMEOUT_S, DEFAULT_MAX_CONNECTIONS
from devon_http.file_sending import SENDFILE, zero_copy_send
from devon_http.routes import HEALTH, health_body


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
HEALTH_RESERVE = 16
"""Connections beyond the cap read to see whether they ask for /health."""
RESERVE_WAIT_S = 2.0
"""How long a connection in the reserve has to send its head (at most `header_timeout_s`):
a health check sends it at once, and an idle one holds a place no longer than this."""
MAX_HEAD_BYTES = 8192
"""What a connection in the reserve may send before it is judged (a health check's head is
a few hundred bytes)."""


def _answer(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "x-content-type-options: nosniff\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


def _busy_answer() -> bytes:
    return _answer("503 Service Unavailable", json.dumps({"detail": BUSY_DETAIL}).encode())


def _asks_for_health(head: bytes) -> bool:
    method, _, rest = head.partition(b" ")
    target = rest.partition(b" ")[0]
    return method == b"GET" and target.partition(b"?")[0] == HEALTH.encode()


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


STOPPING = "devon.stopping"
"""Where, in every request's ASGI `state`, the server's stopping flag is (`server_stopping`)."""


def server_stopping(scope: Any) -> bool:
    """Whether the server answering this request (an ASGI scope) has begun to stop: what
    waits on a job (a waiting download, an event stream) then answers and ends, so that
    stopping never waits on a job. Always false under a server without `LimitedProtocol`."""
    flag = (scope.get("state") or {}).get(STOPPING)
    return isinstance(flag, threading.Event) and flag.is_set()


class LimitedProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol with the limits in `LIMITS` (pass as `Config(http=...)`), and
    a flag that tells requests when the server begins to stop (`server_stopping`)."""

    def __init__(self, config: Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._cycle_at_deadline: Any = None
        self._reserved: bytearray | None = None
        """The head read so far of a connection beyond the cap (in the health reserve)."""
        self._reserved_transport: Any = None

    def connection_made(self, transport: Any) -> None:
        if len(self.connections) >= LIMITS.max_connections:
            self._reserve(transport)
            return
        super().connection_made(transport)
        # One flag per server: every connection of a server shares its lifespan state,
        # which uvicorn copies (shallowly) into each request's scope.
        self.app_state.setdefault(STOPPING, threading.Event())
        self._expect_head()

    def shutdown(self) -> None:
        """The server begins to stop (uvicorn calls this on every open connection)."""
        if self._reserved is not None:
            self._judge()
            return
        flag = self.app_state.get(STOPPING)
        if isinstance(flag, threading.Event):
            flag.set()
        super().shutdown()

    def _reserve(self, transport: Any) -> None:
        """A connection beyond the cap: answered 503 at once, unless the reserve has room,
        where its head is read to see whether it asks for /health."""
        reserve: set[LimitedProtocol] = self.server_state.__dict__.setdefault(
            "health_reserve", set()
        )
        if len(reserve) >= HEALTH_RESERVE:
            transport.write(_busy_answer())
            transport.close()
            return
        reserve.add(self)
        self._reserved, self._reserved_transport = bytearray(), transport
        wait = min(LIMITS.header_timeout_s, RESERVE_WAIT_S)
        self._head_deadline = self.loop.call_later(wait, self._judge)

    def _judge(self) -> None:
        """Answer a reserved connection (its head is in, too long, or late) and close it."""
        self._cancel_deadline()
        transport, head = self._reserved_transport, bytes(self._reserved or b"")
        if transport is None or transport.is_closing():
            return
        health = _answer("200 OK", health_body())
        transport.write(health if _asks_for_health(head) else _busy_answer())
        transport.close()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope and _counts_length(cycle):
            extensions = self.scope.setdefault("extensions", {})
            extensions[SENDFILE] = {"send": partial(_send_file, cycle)}

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        if self._reserved is not None:
            self.server_state.__dict__.get("health_reserve", set()).discard(self)
            self._reserved_transport = None
            return
        if getattr(self, "transport", None) is not None:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reserved is not None:
            self._reserved += data
            if b"\r\n\r\n" in self._reserved or len(self._reserved) > MAX_HEAD_BYTES:
                self._judge()
            return
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
