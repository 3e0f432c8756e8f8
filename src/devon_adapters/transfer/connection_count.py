"""How many connections one large file is fetched over (ADR 0225): it starts at what worked
for the host before (else `connections_per_file`) and doubles, up to a ceiling, while the
last growth still added throughput; the count it settled at is kept per host for the
files that follow.

Throughput is measured over windows of WINDOW_S of landed bytes; the window right after a
growth starts SETTLE_S late (new connections need a moment to get going). A growth is kept
when it brought at least GAIN of what the added connections would bring at the rate of
the ones before; otherwise the file goes back to the count before that growth (the
connections added leave between two requests; ADR 0299) and the host remembers it. Each
growth is remembered at once (a file may end before it is judged).
"""

import threading
from collections.abc import Callable

WINDOW_S = 1.0
SETTLE_S = 0.5
GAIN = 0.5


class HostMemory:
    """The connection count each host settled at (thread-safe; one per downloader)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def get(self, host: str, default: int) -> int:
        with self._lock:
            return self._counts.get(host, default)

    def keep(self, host: str, count: int) -> None:
        with self._lock:
            self._counts[host] = count


class Growth:
    """The connection count of one file, told of every landed chunk (`landed`)."""

    def __init__(
        self,
        start: int,
        ceiling: int,
        clock: Callable[[], float],
        settled: Callable[[int], None],
    ) -> None:
        self.count = max(1, min(start, ceiling))
        self._ceiling = max(ceiling, 1)
        self._clock = clock
        self._settled = settled
        self._lock = threading.Lock()
        self._window_start: float | None = None
        self._window_bytes = 0
        self._before: tuple[int, float] | None = None
        self.done = self.count >= self._ceiling
        if self.done:
            settled(self.count)

    def landed(self, count: int) -> int | None:
        """`count` more bytes landed; the new connection count when it grows now."""
        if self.done:
            return None
        with self._lock:
            now = self._clock()
            if self._window_start is None:
                self._window_start = now
            if now < self._window_start:
                return None  # settling after a growth
            self._window_bytes += count
            elapsed = now - self._window_start
            if elapsed < WINDOW_S:
                return None
            rate = self._window_bytes / elapsed
            self._window_bytes = 0
            self._window_start = now
            return self._judge(rate, now)

    def _judge(self, rate: float, now: float) -> int | None:
        if self._before is not None:
            count_before, rate_before = self._before
            promised = rate_before * (self.count - count_before) / count_before
            if rate - rate_before < GAIN * promised:
                self.count = count_before  # the connections added leave (`ranged_fetch`)
                self._settle(count_before)
                return None
        if self.count >= self._ceiling:
            self._settle(self.count)
            return None
        self._before = (self.count, rate)
        self.count = min(self.count * 2, self._ceiling)
        self._window_start = now + SETTLE_S
        self._settled(self.count)  # kept for now: a file may end before the next judgement
        return self.count

    def _settle(self, count: int) -> None:
        self.done = True
        self._settled(count)
