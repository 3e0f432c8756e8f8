"""The connections of one download that are open right now, so that they can be closed from
outside the thread reading them: all at once when the download stops (a cancel, another
file's failure; ADR 0226), or one that has delivered nothing for `stall_s` seconds (a stall;
ADR 0225).

A thread blocked in a read does not notice its socket being closed by another thread; a
`shutdown` of the socket wakes the read at once (it ends like a cut connection) and tells
the server (FIN). Responses that do not expose their socket (a test's scripted server) are
closed instead. A request still waiting for its answer has no response yet: `stopped` is
set with the rest, and the request's own cutter, which knows its socket from the moment it
was sent (ADR 0280), shuts it down.
"""

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import httpx2

from devon_core.stopping import CallStop


def socket_of(response: httpx2.Response) -> socket.socket | None:
    """The socket under a streamed response (httpcore's `network_stream`), if it has one."""
    stream = response.extensions.get("network_stream")
    extra = getattr(stream, "get_extra_info", None)
    found = extra("socket") if extra is not None else None
    return found if isinstance(found, socket.socket) else None


class Connection:
    """One open response: when it last delivered a byte, and whether it was cut from outside
    (`aborted`) and why (`stalled`)."""

    def __init__(self, response: httpx2.Response, now: float) -> None:
        self.response = response
        self.last_byte_at = now
        self.aborted = False
        self.stalled = False

    def delivered(self, now: float) -> None:
        self.last_byte_at = now

    def abort(self) -> None:
        """Close the connection under whoever is reading it."""
        self.aborted = True
        sock = socket_of(self.response)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            return
        with contextlib.suppress(Exception):
            self.response.close()


class LiveConnections:
    """The open connections of one download (thread-safe)."""

    def __init__(self, clock: Callable[[], float], stall_s: float) -> None:
        self._clock = clock
        self.stall_s = stall_s
        self._lock = threading.Lock()
        self._open: set[Connection] = set()
        self._closed = False
        self.stopped = CallStop()
        """Set by `close_all`: the stop signal the download's requests are sent under."""

    @contextlib.contextmanager
    def watching(self, response: httpx2.Response) -> Iterator[Connection]:
        """`response` counted as open while the block runs; aborted at once when the
        download was stopped already."""
        connection = Connection(response, self._clock())
        with self._lock:
            self._open.add(connection)
            closed = self._closed
        if closed:
            connection.abort()
        try:
            yield connection
        finally:
            with self._lock:
                self._open.discard(connection)

    def close_all(self) -> int:
        """Abort every open connection, and every one opened from now on; how many were
        open."""
        with self._lock:
            self._closed = True
            connections = list(self._open)
        self.stopped.set()
        for connection in connections:
            connection.abort()
        return len(connections)

    def drop_stalled(self) -> int:
        """Abort the connections that delivered nothing for `stall_s` seconds; how many."""
        now = self._clock()
        with self._lock:
            stalled = [
                c for c in self._open if not c.aborted and now - c.last_byte_at >= self.stall_s
            ]
        for connection in stalled:
            connection.stalled = True
            connection.abort()
        return len(stalled)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._open)
