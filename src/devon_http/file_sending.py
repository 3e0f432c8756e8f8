"""Sending a span of a vault file as an answer's body, off the event loop (ADR 0216).

Under `devon serve` the bytes go from the page cache to the socket with `sendfile(2)`, in
a worker thread: the HTTP protocol (`devon_http.connections.LimitedProtocol`) offers each
request the ASGI extension `devon.sendfile`, whose `send(fd, offset, count)` waits until
the answer's head has left, then hands the socket (a duplicate of its descriptor, so that
the event loop closing the connection cannot make the thread write to another one) to a
thread that calls `sendfile` until the span is sent, the client goes away, or it stops
reading for `IDLE_LIMIT_S`. The event loop keeps answering other requests meanwhile.

Under any other ASGI server (or uvicorn's h11 protocol) the span is read in a thread and
sent in `CHUNK` pieces through ASGI `send`.
"""

import asyncio
import os
import select
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter
from litestar.types import Scope, Send

SENDFILE = "devon.sendfile"
"""The ASGI extension (in `scope["extensions"]`) offering zero-copy sending."""

CHUNK = 1024 * 1024
"""Bytes read and sent at a time without the extension."""

MAX_SEND = 16 * 1024 * 1024
"""Bytes one `sendfile` call may send (so that a stop is seen between calls)."""

IDLE_LIMIT_S = 60.0
"""A client that takes no bytes for this long is given up on (its connection closed)."""

SENDS_AT_ONCE = 64
"""Threads sending file bodies at once per server process (their own limiter, so that
file transfers never take the threads the other endpoints run on)."""

POLL_MS = 1000
HEAD_WAIT_S = 30.0

ZeroCopySend = Callable[[int, int, int], Awaitable[int]]
"""`send(fd, offset, count)`: the bytes it sent of that span of `fd`. Fewer than `count`
(the client left, or stopped reading): the answer is over and its connection is closed
once the app ends the answer, as it always does, with an empty last body message."""

_limiters: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, CapacityLimiter]]" = (
    weakref.WeakKeyDictionary()
)


def loop_limiter(name: str, total: int) -> CapacityLimiter:
    """This event loop's thread limiter called `name` (made on first use, inside the loop)."""
    per_loop = _limiters.setdefault(asyncio.get_running_loop(), {})
    if name not in per_loop:
        per_loop[name] = CapacityLimiter(total)
    return per_loop[name]


def send_limiter() -> CapacityLimiter:
    """This event loop's limiter for file-sending threads."""
    return loop_limiter("file-sending", SENDS_AT_ONCE)


async def send_span(scope: Scope, send: Send, fd: int, start: int, end: int) -> None:
    """Send bytes `start` to `end` (exclusive) of the open file `fd` as the rest of an answer
    whose head (with its Content-Length) has been sent, and end the answer."""
    offered: Any = (scope.get("extensions") or {}).get(SENDFILE) or {}
    zero_copy: ZeroCopySend | None = offered.get("send")
    position = start
    if zero_copy is not None:
        # A short send leaves the connection to be closed by the protocol (see there).
        await zero_copy(fd, start, end - start)
        position = end
    while position < end:
        size = min(CHUNK, end - position)
        piece = await anyio.to_thread.run_sync(
            partial(os.pread, fd, size, position), limiter=send_limiter()
        )
        if not piece:
            break
        await send({"type": "http.response.body", "body": piece, "more_body": True})
        position += len(piece)
    if position < end:
        raise OSError(f"the file ended (or the client left) {end - position} bytes early")
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def sendfile_all(
    out: int, fd: int, offset: int, count: int, stop: threading.Event, idle_s: float
) -> int:
    """Send `count` bytes of `fd` from `offset` to the non-blocking socket `out` (both
    closed here at the end), waiting for room with `poll`; the bytes sent."""
    sent = 0
    poller = select.poll()
    poller.register(out, select.POLLOUT)
    last_progress = time.monotonic()
    try:
        while sent < count and not stop.is_set():
            try:
                done = os.sendfile(out, fd, offset + sent, min(count - sent, MAX_SEND))
            except BlockingIOError:
                events = poller.poll(POLL_MS)
                if any(flags & (select.POLLERR | select.POLLHUP) for _, flags in events):
                    break
                if not events and time.monotonic() - last_progress > idle_s:
                    break
                continue
            except OSError:
                break  # the client went away (EPIPE, ECONNRESET)
            if done == 0:
                break  # the file is shorter than it was
            sent += done
            last_progress = time.monotonic()
    finally:
        os.close(out)
        os.close(fd)
    return sent


async def zero_copy_send(
    transport: asyncio.Transport,
    fd: int,
    offset: int,
    count: int,
    *,
    idle_s: float = IDLE_LIMIT_S,
) -> int:
    """What the `devon.sendfile` extension does for one answer on `transport` (see the
    module's doc): the bytes sent."""
    sock = transport.get_extra_info("socket")
    if sock is None or transport.is_closing() or not await _head_sent(transport):
        return 0
    # Duplicates, owned and closed by the thread: a thread left running by a cancelled
    # request never writes to, or reads from, a descriptor number reused meanwhile.
    out, source = os.dup(sock.fileno()), os.dup(fd)
    stop = threading.Event()
    try:
        return await anyio.to_thread.run_sync(
            partial(sendfile_all, out, source, offset, count, stop, idle_s),
            limiter=send_limiter(),
            abandon_on_cancel=True,
        )
    finally:
        stop.set()


async def _head_sent(transport: asyncio.Transport) -> bool:
    """Wait until everything written to `transport` so far has left (the answer's head)."""
    deadline = time.monotonic() + HEAD_WAIT_S
    while transport.get_write_buffer_size() > 0:
        if transport.is_closing() or time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.001)
    return True
