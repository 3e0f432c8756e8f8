"""A large file's connections grow while that adds throughput and the host keeps the count
they settled at (ADR 0225); a fake clock stands for time."""

from devon_adapters.transfer.connection_count import SETTLE_S, WINDOW_S, Growth, HostMemory
from tests.support.scripted_file_server import FakeClock


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


def test_growth_that_adds_nothing_stops_and_the_host_keeps_the_count_before_it() -> None:
    clock, memory = FakeClock(), HostMemory()
    growth = Growth(4, 32, clock, lambda n: memory.keep("hub", n))
    link = {4: 400e6, 8: 420e6, 16: 420e6}  # the link is full at 4

    feed(growth, clock, link, 4 * (WINDOW_S + SETTLE_S) + 1)

    assert growth.count == 8
    assert growth.done
    assert memory.get("hub", 2) == 4
