"""A large file's connections grow while that adds throughput, go back when a growth added
nothing, and the host keeps the count they settled at (ADR 0225, ADR 0299); a fake clock
stands for time."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

from devon_adapters.transfer.connection_count import SETTLE_S, WINDOW_S, Growth, HostMemory
from devon_adapters.transfer.downloading import Downloader, DownloadOptions
from tests.support.scripted_file_server import FakeClock, ScriptedServer, model_of

MIB = 1024 * 1024


def feed(growth: Growth, clock: FakeClock, rate_of: dict[int, float], seconds: float) -> None:
    """Land bytes for `seconds` at the rate the current count gets (`rate_of[count]`)."""
    step = 0.05
    for _ in range(int(seconds / step)):
        clock.advance(step)
        grown = growth.landed(int(rate_of[growth.count] * step))
        assert grown is None or grown == growth.count


def test_connections_double_while_each_growth_adds_throughput_up_to_the_ceiling() -> None:
    clock, memory = FakeClock(), HostMemory()
    growth = Growth(4, 32, clock, lambda n: memory.keep("hub", n))
    capped = {n: n * 1e6 for n in (4, 8, 16, 32)}  # each connection capped at 1 MB/s

    feed(growth, clock, capped, 4 * (WINDOW_S + SETTLE_S) + 1)

    assert growth.count == 32
    assert memory.get("hub", 4) == 32


def test_growth_that_adds_nothing_goes_back_and_the_host_keeps_the_count_before_it() -> None:
    clock, memory = FakeClock(), HostMemory()
    growth = Growth(4, 32, clock, lambda n: memory.keep("hub", n))
    link = {4: 400e6, 8: 420e6, 16: 420e6}  # the link is full at 4

    feed(growth, clock, link, 4 * (WINDOW_S + SETTLE_S) + 1)

    assert growth.count == 4  # the file's added connections leave
    assert growth.done
    assert memory.get("hub", 2) == 4


class CountingServer(ScriptedServer):
    """A scripted server that notes, for each request, the clock and how many requests were
    open with it."""

    def __init__(self, data: bytes, clock: FakeClock, seconds_per_chunk: float) -> None:
        super().__init__(data, clock, seconds_per_chunk)
        self.opened: list[tuple[float, int]] = []
        self._open = 0
        self._count_lock = threading.Lock()

    @contextmanager
    def open_file(
        self, url: str, start: int, read_timeout: float, end: int | None = None
    ) -> Iterator[httpx2.Response]:
        assert self.clock is not None
        with self._count_lock:
            self._open += 1
            self.opened.append((self.clock(), self._open))
        try:
            with super().open_file(url, start, read_timeout, end) as response:
                yield response
        finally:
            with self._count_lock:
                self._open -= 1


def test_connections_added_by_a_growth_that_added_nothing_leave_the_file(tmp_path: Path) -> None:
    clock = FakeClock()
    data = bytes((i * 7 + i // 251) % 256 for i in range(12 * MIB))
    # Every chunk moves the one clock on: the file gets 1.6 MB/s however many connections.
    server = CountingServer(data, clock, seconds_per_chunk=0.01)
    model, files = model_of(data)
    options = DownloadOptions(
        split_threshold=MIB,
        connections_per_file=2,
        max_connections_per_file=4,
        smallest_piece=64 * 1024,
        retry_delay=0.0,
        clock=clock,
    )

    Downloader(server, options).download(model, files, str(tmp_path))

    assert (tmp_path / "weights.bin").read_bytes() == data
    assert max(n for _, n in server.opened) > 2  # it grew
    started, ended = server.opened[0][0], server.opened[-1][0]
    last_third = [n for at, n in server.opened if at > ended - (ended - started) / 3]
    assert last_third
    assert max(last_third) <= 2  # then went back to 2
