"""A file answer's body as blocks of up to READ_BLOCK bytes in a buffer of the reading
thread's own (ADR 0298).

httpx2 hands a body over in the pieces httpcore reads (64 KiB at most), each one copied
three times on its way (h11's buffer, its slice, a `bytes`) and costing a dozen Python
calls, and the caller wrote and counted each one. Where the answer allows it, the body is
read here straight from the connection's socket with `recv_into` into one preallocated
buffer, and handed to the caller a block at a time: one claim, one `pwrite` and one count
per block instead of per 64 KiB, no allocation per read.

Read straight from the socket only: an HTTP/1.x answer over plain TCP (no TLS: its socket
holds records to decrypt, and a TLS connection is costly to make again), with a
`Content-Length` and no `Content-Encoding` or `Transfer-Encoding`, once STRAIGHT_AFTER reads
in a row found a full read (64 KiB) waiting: the bytes arrive faster than httpx2 hands them
over, so reading is the limit. Its bytes till then go through httpx2 as usual: each `Data`
event of h11 holds every byte it read, so that afterwards the socket holds exactly the rest
of the body. The connection is then closed when the answer is, not put back in the pool
(h11 never saw the rest of the body): worth it only where reading costs more than a new
connection. A slower answer, and every other, is read through httpx2 (and decoded), a chunk
a block; once its last byte is there, h11 is shown the end of the answer before that chunk
is handed over, so that its connection goes back to the pool even when the caller stops
right after it (a range's writer does: until then, no range request left its connection to
the next one).

A block is handed over when the buffer is full, the body is whole, or `hand_after_s` passed
since its first byte, whether more bytes came since or not: a slow connection still tells its
bytes several times a second, and one that stalls holds none back.
Errors are httpx2's, as when httpx2 reads: a read timeout is `ReadTimeout`, a failed read
`ReadError`, a body that ends early `RemoteProtocolError`.
"""

import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

import httpx2

from devon_adapters.transfer.live_connections import Connection

READ_BLOCK = 1024 * 1024
"""The most bytes handed over at once (and the size of each reading thread's buffer)."""
FULL_READ = 64 * 1024
"""What httpcore asks of the socket at a time (its `READ_NUM_BYTES`)."""
STRAIGHT_AFTER = 8
"""An answer goes on straight from the socket after this many reads in a row found at least
FULL_READ bytes waiting: the bytes come faster than they are read."""

_buffers = threading.local()


def _buffer() -> memoryview:
    """This thread's buffer (made at its first use; a thread reads one body at a time)."""
    view: memoryview | None = getattr(_buffers, "view", None)
    if view is None:
        view = _buffers.view = memoryview(bytearray(READ_BLOCK))
    return view


def plain_socket(response: httpx2.Response) -> socket.socket | None:
    """The socket `response`'s body can be read from straight, or None (see the module)."""
    if response.http_version not in ("HTTP/1.1", "HTTP/1.0"):
        return None
    headers = response.headers
    if "Transfer-Encoding" in headers or headers.get("Content-Encoding", "identity") != "identity":
        return None
    if not headers.get("Content-Length", "").isdigit():
        return None
    stream = response.extensions.get("network_stream")
    extra = getattr(stream, "get_extra_info", None)
    if extra is None or extra("ssl_object") is not None:
        return None
    sock = extra("socket")
    return sock if type(sock) is socket.socket else None  # an SSLSocket is a subclass


class BodyBlocks:
    """The body of `response` in blocks (each valid until the next is asked for); every read
    that brings bytes tells `connection` (so a slow one is not taken for stalled). Read
    through httpx2 (decoded, in chunks of `chunk_size`; None: as read) until the answer may
    be and is worth reading straight (`straight` turns true)."""

    def __init__(
        self,
        response: httpx2.Response,
        connection: Connection,
        clock: Callable[[], float],
        read_timeout: float,
        hand_after_s: float,
        chunk_size: int | None = None,
    ) -> None:
        self.straight = False
        """Whether the blocks now come straight from the socket (see the module)."""
        self._response = response
        self._connection = connection
        self._clock = clock
        self._read_timeout = read_timeout
        self._hand_after_s = hand_after_s
        self._chunk_size = chunk_size
        self._blocks = self._read()

    def __iter__(self) -> Iterator[memoryview]:
        return self._blocks

    def close(self) -> None:
        """Stop reading (the connection is closed when the answer is)."""
        self._blocks.close()

    def _read(self) -> Generator[memoryview, None, None]:
        response, connection, clock = self._response, self._connection, self._clock
        sock = plain_socket(response)
        if sock is None:
            chunks: Any = response.iter_bytes(self._chunk_size)
            length = response.headers.get("Content-Length", "")
            encoded = response.headers.get("Content-Encoding", "identity") != "identity"
            to_come = int(length) if length.isdigit() and not encoded else None
            for chunk in chunks:
                connection.delivered(clock())
                if to_come is not None:
                    to_come -= len(chunk)
                    if to_come <= 0:
                        next(chunks, None)  # the end of the answer: its connection is reused
                yield memoryview(chunk)
            return
        left = int(response.headers["Content-Length"])
        raw: Any = response.iter_raw()  # kept open while the socket is read: closing it closes that
        full_reads = 0
        try:
            for chunk in raw:  # each chunk is all h11 held: the socket has the rest
                connection.delivered(clock())
                left -= len(chunk)
                full_reads = full_reads + 1 if len(chunk) >= FULL_READ else 0
                if left <= 0:
                    next(raw, None)  # the end of the answer: its connection is reused
                yield memoryview(chunk)
                if full_reads >= STRAIGHT_AFTER:
                    break  # the reads are the limit: worth a new connection next time
            else:
                return  # the whole body came through httpx2
            self.straight = True
            yield from _read_straight(
                sock, left, connection, clock, self._read_timeout, self._hand_after_s
            )
        finally:
            raw.close()


def _read_straight(
    sock: socket.socket,
    left: int,
    connection: Connection,
    clock: Callable[[], float],
    read_timeout: float,
    hand_after_s: float,
) -> Iterator[memoryview]:
    """The next `left` bytes of `sock` in blocks. A block holding bytes is handed over once
    `hand_after_s` passed since its first byte, also while no more arrive (its bytes are
    never held back by a connection that stalls)."""
    buffer = _buffer()
    while left > 0:
        wanted = min(len(buffer), left)
        filled = 0
        started = 0.0
        while filled < wanted:
            if filled:
                wait = hand_after_s - (time.monotonic() - started)
                if wait <= 0:
                    break
                sock.settimeout(wait)
            else:
                sock.settimeout(read_timeout)
            try:
                count = sock.recv_into(buffer[filled:wanted])
            except TimeoutError as error:
                if filled:
                    break  # hand over what is there, then wait for more
                raise httpx2.ReadTimeout(str(error) or "timed out") from error
            except OSError as error:
                raise httpx2.ReadError(str(error)) from error
            if count == 0:
                if filled:
                    yield buffer[:filled]  # what arrived is kept
                raise httpx2.RemoteProtocolError(
                    "peer closed connection without sending complete message body "
                    f"({left - filled} bytes short)"
                )
            if not filled:
                started = time.monotonic()
            filled += count
            connection.delivered(clock())
        left -= filled
        yield buffer[:filled]
