"""Fault injection and request statistics, shared by the server's handler threads.

Every setter is safe to call while the server runs; faults apply to requests that start
after the call. Paths are matched as substrings of the decoded URL path, e.g.
`"/acme/shardy-7b/resolve/"` or `"model-00001-of-00003.safetensors"` or `"/api/models"`.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

SENT_KEPT = 1_000_000
"""Body writes remembered with their time (`body_bytes_after`); older ones are forgotten."""


@dataclass
class _Counted:
    """A fault that hits `times` matching requests after letting `skip` of them through."""

    path_contains: str | None
    times: int
    skip: int = 0
    method: str | None = None

    def take(self, path: str, method: str) -> bool:
        if self.path_contains is not None and self.path_contains not in path:
            return False
        if self.method is not None and self.method != method:
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        if self.times <= 0:
            return False
        self.times -= 1
        return True


@dataclass
class _Failure(_Counted):
    status: int = 503


@dataclass
class _Cut(_Counted):
    after_bytes: int = 0


@dataclass
class _Shift(_Counted):
    by_bytes: int = 0


@dataclass
class _Stall(_Counted):
    after_bytes: int = 0


@dataclass(frozen=True)
class RequestRecord:
    """What one request asked for and what it got."""

    method: str
    path: str
    query: str
    status: int
    range_header: str | None
    range_start: int | None
    bytes_sent: int
    authorised: bool
    duration_s: float
    completed: bool
    ended_at: float = 0.0
    """When the server was done with it (`time.monotonic()`): the answer sent, or the
    connection found closed by the client."""
    reused: bool = False
    """Whether it came on a kept-alive connection that had carried a request before."""
    last_write_at: float = 0.0
    """When the last write of the body began (`time.monotonic()`; 0.0 when none): before the
    client can have its last byte, where `ended_at` may come after the client went on to
    another request on another connection."""


@dataclass
class Faults:
    """Per-server fault switches. Use the methods; `reset()` clears everything."""

    latency_s: float = 0.0
    bandwidth: float = 0.0
    """File body bytes per second for the whole hub, all transfers together (0: no limit)."""
    _next_send: float = field(default=0.0, repr=False)
    connection_rate: int = 0
    """Body bytes per second each connection may send (0: no limit)."""
    connection_rates: tuple[int, ...] = ()
    """Per-connection limits by connection: the n-th TCP connection accepted after
    `vary_connection_rates` gets `connection_rates[n % len]` (0: no limit)."""
    _connections_seen: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _failures: list[_Failure] = field(default_factory=list, repr=False)
    _drops: list[_Counted] = field(default_factory=list, repr=False)
    _cuts: list[_Cut] = field(default_factory=list, repr=False)
    _corrupt: set[tuple[str, str]] = field(default_factory=set, repr=False)
    _ignore_ranges: list[str] = field(default_factory=list, repr=False)
    _shifts: list[_Shift] = field(default_factory=list, repr=False)
    _hang_paths: list[str] = field(default_factory=list, repr=False)
    _stalls: list[_Stall] = field(default_factory=list, repr=False)
    _stalled: int = field(default=0, repr=False)
    _held: int = field(default=0, repr=False)
    _released: threading.Event = field(default_factory=threading.Event, repr=False)

    def set_latency(self, milliseconds: float) -> None:
        """Delay every request (before it is answered) by this many milliseconds."""
        self.latency_s = max(milliseconds, 0) / 1000

    def set_bandwidth(self, bytes_per_second: float) -> None:
        """Let file bodies leave the hub at most this fast, shared by every transfer (0: no
        limit): a slow download to watch, cancel or kill half way."""
        with self._lock:
            self.bandwidth = max(bytes_per_second, 0)
            self._next_send = 0.0

    def pace(self, size: int) -> None:
        """Wait as long as sending `size` more body bytes takes under the bandwidth limit
        (after what other transfers were given)."""
        with self._lock:
            if self.bandwidth <= 0:
                return
            now = time.monotonic()
            self._next_send = max(self._next_send, now) + size / self.bandwidth
            until = self._next_send
        time.sleep(until - now)

    def limit_connection_rate(self, bytes_per_second: int) -> None:
        """Send file bodies at most this fast on each connection (0: no limit), as a CDN or
        proxy that throttles each connection does."""
        self.connection_rate = max(int(bytes_per_second), 0)

    def vary_connection_rates(self, rates: list[int] | tuple[int, ...]) -> None:
        """Give each TCP connection accepted from now on its own limit, in turn from `rates`
        (bytes per second, 0: none): a CDN whose edges differ, e.g. `[0] * 7 + [400_000]`
        makes one connection in eight slow. An empty list goes back to `connection_rate`
        for every connection."""
        with self._lock:
            self.connection_rates = tuple(max(int(r), 0) for r in rates)
            self._connections_seen = 0

    def rate_for_new_connection(self) -> int | None:
        """The limit of a connection just accepted (None: `connection_rate` applies)."""
        with self._lock:
            if not self.connection_rates:
                return None
            rate = self.connection_rates[self._connections_seen % len(self.connection_rates)]
            self._connections_seen += 1
            return rate

    def stall_transfers(
        self, after_bytes: int, times: int = 1, path_contains: str | None = None, skip: int = 0
    ) -> None:
        """Send headers and `after_bytes` of the body, then nothing more, keeping the
        connection open until the client closes it (or `release()`), for the next `times`
        matching file downloads: a stalled CDN edge."""
        with self._lock:
            self._released.clear()
            self._stalls.append(_Stall(path_contains, times, skip, "GET", after_bytes))

    def stall_for(self, path: str) -> int | None:
        with self._lock:
            for stall in self._stalls:
                if stall.take(path, "GET"):
                    return stall.after_bytes
        return None

    def wait_while_stalled(self, client: Any, stopping: threading.Event) -> None:
        """Hold a stalled transfer until the client closes its connection (raises
        ConnectionResetError) or the stall is released."""
        with self._lock:
            self._stalled += 1
        try:
            while not stopping.is_set() and not self._released.wait(0.02):
                if client_gone(client):
                    raise ConnectionResetError("the client closed a stalled transfer")
        finally:
            with self._lock:
                self._stalled -= 1

    @property
    def stalled(self) -> int:
        """Transfers held by `stall_transfers` right now."""
        with self._lock:
            return self._stalled

    def ignore_ranges(self, path_contains: str | None = None) -> None:
        """Answer `Range` requests for matching files with the whole file (200), as a
        server without range support does."""
        with self._lock:
            self._ignore_ranges.append(path_contains or "")

    def shift_ranges(
        self, by_bytes: int, times: int = 1, path_contains: str | None = None, skip: int = 0
    ) -> None:
        """Answer the next `times` matching `Range` requests with a 206 of other bytes than
        asked (moved `by_bytes` on, clamped to the file) and a `Content-Range` naming what
        was sent, as a broken cache or proxy might."""
        with self._lock:
            self._shifts.append(_Shift(path_contains, times, skip, "GET", by_bytes))

    def fail_requests(
        self,
        status: int = 503,
        times: int = 1,
        path_contains: str | None = None,
        skip: int = 0,
        method: str | None = None,
    ) -> None:
        """Answer the next `times` matching requests (after `skip`) with `status`.
        `method` ("GET", "HEAD") narrows which requests match."""
        with self._lock:
            self._failures.append(_Failure(path_contains, times, skip, method, status))

    def drop_connections(
        self,
        times: int = 1,
        path_contains: str | None = None,
        skip: int = 0,
        method: str | None = None,
    ) -> None:
        """Close the connection without answering the next `times` matching requests."""
        with self._lock:
            self._drops.append(_Counted(path_contains, times, skip, method))

    def cut_transfers(
        self, after_bytes: int, times: int = 1, path_contains: str | None = None, skip: int = 0
    ) -> None:
        """Send headers and only `after_bytes` of the body, then close the connection,
        for the next `times` matching file downloads (GET on `/resolve/`)."""
        with self._lock:
            self._cuts.append(_Cut(path_contains, times, skip, "GET", after_bytes))

    def corrupt(self, repo_id: str, path: str) -> None:
        """Serve this file with one byte flipped: same size, sha256 no longer as advertised."""
        with self._lock:
            self._corrupt.add((repo_id, path))

    def hang(self, path_contains: str | None = None) -> None:
        """Stop answering matching requests (all when None) until `release()` or `reset()`."""
        with self._lock:
            self._released.clear()
            self._hang_paths.append(path_contains or "")

    def release(self) -> None:
        """Let hanging requests and stalled transfers go on, and stop hanging new ones."""
        with self._lock:
            self._hang_paths.clear()
            self._stalls.clear()
            self._released.set()

    def reset(self) -> None:
        with self._lock:
            self.latency_s = 0.0
            self.bandwidth = 0.0
            self.connection_rate = 0
            self.connection_rates = ()
            self._stalls.clear()
            self._ignore_ranges.clear()
            self._shifts.clear()
            self._failures.clear()
            self._drops.clear()
            self._cuts.clear()
            self._corrupt.clear()
        self.release()

    # Used by the handler.
    def failure_for(self, path: str, method: str) -> int | None:
        with self._lock:
            for failure in self._failures:
                if failure.take(path, method):
                    return failure.status
        return None

    def should_drop(self, path: str, method: str) -> bool:
        with self._lock:
            return any(drop.take(path, method) for drop in self._drops)

    def cut_for(self, path: str) -> int | None:
        with self._lock:
            for cut in self._cuts:
                if cut.take(path, "GET"):
                    return cut.after_bytes
        return None

    def ignores_ranges(self, path: str) -> bool:
        with self._lock:
            return any(part in path for part in self._ignore_ranges)

    def shift_for(self, path: str) -> int | None:
        with self._lock:
            for shift in self._shifts:
                if shift.take(path, "GET"):
                    return shift.by_bytes
        return None

    def is_corrupt(self, repo_id: str, path: str) -> bool:
        with self._lock:
            return (repo_id, path) in self._corrupt

    def wait_if_hanging(self, path: str, stopping: threading.Event, client: Any = None) -> bool:
        """Hold a request `hang` matches until it is released; False when the client (its
        socket, if given) closed the connection meanwhile: nobody waits for an answer."""
        held = False
        try:
            while not stopping.is_set():
                with self._lock:
                    hanging = any(part in path for part in self._hang_paths)
                    if hanging and not held:
                        held, self._held = True, self._held + 1
                if not hanging:
                    return True
                if client is not None and client_gone(client):
                    return False
                self._released.wait(0.05)
            return True
        finally:
            if held:
                with self._lock:
                    self._held -= 1

    @property
    def held(self) -> int:
        """Requests held by `hang` right now."""
        with self._lock:
            return self._held


class RequestStats:
    """Every request the server answered (or cut, or dropped), in order of completion.

    A client can have its answer before the server thread has written the record, so
    reading waits (up to `settle_s`) for requests still being handled."""

    def __init__(self, settle_s: float = 10.0) -> None:
        self._changed = threading.Condition()
        self._records: list[RequestRecord] = []
        self._in_flight = 0
        self._peak = 0
        self.settle_s = settle_s
        self._sent: deque[tuple[float, int]] = deque(maxlen=SENT_KEPT)
        self._begun: list[tuple[float, str, str | None]] = []

    def begin(self, path: str = "", range_header: str | None = None) -> None:
        with self._changed:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
            self._begun.append((time.monotonic(), path, range_header))

    def sent(self, count: int) -> None:
        """`count` file body bytes just left (timed, for `body_bytes_after`)."""
        with self._changed:
            self._sent.append((time.monotonic(), count))

    def body_timeline(self) -> list[tuple[float, int]]:
        """Every body write since the last reset: (`time.monotonic()`, bytes), in order."""
        with self._changed:
            return list(self._sent)

    def body_bytes_after(self, moment: float) -> int:
        """File body bytes sent after `moment` (`time.monotonic()`), without waiting for
        requests in flight."""
        with self._changed:
            return sum(count for at, count in self._sent if at > moment)

    def begun(self, path_contains: str | None = None) -> list[tuple[float, str | None]]:
        """When each matching request began (`time.monotonic()`) and its `Range` header,
        in order, requests still in flight included."""
        with self._changed:
            begun = list(self._begun)
        return [
            (at, range_header)
            for at, path, range_header in begun
            if path_contains is None or path_contains in path
        ]

    def add(self, record: RequestRecord) -> None:
        with self._changed:
            self._records.append(record)
            self._in_flight = max(self._in_flight - 1, 0)
            self._changed.notify_all()

    def reset(self) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._in_flight == 0, self.settle_s)
            self._records.clear()
            self._peak = 0
            self._sent.clear()
            self._begun.clear()

    def peak_concurrency(self) -> int:
        """The most requests being handled at one time since the last reset."""
        with self._changed:
            return self._peak

    @property
    def in_flight(self) -> int:
        """Requests being handled right now (a transfer still sending counts), without
        waiting for them."""
        with self._changed:
            return self._in_flight

    def requests(
        self, path_contains: str | None = None, method: str | None = None
    ) -> list[RequestRecord]:
        with self._changed:
            self._changed.wait_for(lambda: self._in_flight == 0, self.settle_s)
            records = list(self._records)
        return [
            record
            for record in records
            if (path_contains is None or path_contains in record.path)
            and (method is None or record.method == method)
        ]

    def by_path(self, method: str | None = None) -> dict[str, int]:
        """How many requests each decoded path got, in order of first appearance."""
        counts: dict[str, int] = {}
        for record in self.requests(method=method):
            counts[record.path] = counts.get(record.path, 0) + 1
        return counts

    def count(self, path_contains: str | None = None, method: str | None = None) -> int:
        return len(self.requests(path_contains, method))

    def bytes_served(self, path_contains: str | None = None) -> int:
        """Body bytes sent by matching requests (cut transfers count what was really sent)."""
        return sum(record.bytes_sent for record in self.requests(path_contains))

    def range_starts(self, path_contains: str | None = None) -> list[int | None]:
        """For each matching GET, the first byte asked for (None when there was no `Range`)."""
        return [record.range_start for record in self.requests(path_contains, "GET")]


def client_gone(client: Any) -> bool:
    """Whether the client closed (or reset) the connection `client` (a socket), without
    taking any byte it sent."""
    try:
        readable, _, _ = select.select([client], [], [], 0)
        return bool(readable) and client.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True
