"""Work stealing hands every byte of a file to exactly one connection, and a slow connection's
range goes mostly to a faster one (ADR 0225); a fake clock stands for time."""

import pytest

from devon_adapters.transfer.work_plan import Assignment, WorkPlan
from tests.support.scripted_file_server import FakeClock


def fetch_all(plan: WorkPlan, clock: FakeClock, rates: list[int]) -> list[set[int]]:
    """Run one connection per rate (bytes per 0.1 s) until the plan has nothing left; who
    wrote each byte."""
    owners: list[set[int]] = [set() for _ in range(2000)]
    held: list[Assignment | None] = [plan.take() for _ in rates]
    for _ in range(1000):
        if all(a is None for a in held):
            break
        clock.advance(0.1)
        for index, rate in enumerate(rates):
            assignment = held[index]
            if assignment is None:
                continue
            start = assignment.cursor
            for byte in range(start, start + plan.claim(assignment, rate)):
                owners[byte].add(index)
            if assignment.cursor >= assignment.end:
                plan.finish(assignment)
                held[index] = plan.take()
    return owners


@pytest.mark.parametrize("rates", [[10, 10], [10, 1], [1, 10, 10]])
def test_every_byte_goes_to_exactly_one_connection_whatever_their_rates(rates: list[int]) -> None:
    clock = FakeClock()
    plan = WorkPlan([(0, 1000), (1000, 2000)], smallest_steal=10, clock=clock)

    owners = fetch_all(plan, clock, rates)

    assert all(len(o) == 1 for o in owners)
    assert plan.left() == 0


def test_a_finished_connection_takes_most_of_what_a_slow_one_has_left() -> None:
    clock = FakeClock()
    plan = WorkPlan([(0, 1000), (1000, 2000)], smallest_steal=10, clock=clock)
    slow, fast = plan.take(), plan.take()
    assert slow is not None
    assert fast is not None
    clock.advance(1.0)
    plan.claim(slow, 10)  # 10 bytes a second
    plan.claim(fast, 1000)  # 1000 bytes a second: done
    plan.finish(fast)

    stolen = plan.take()

    assert stolen is not None
    assert (stolen.start, stolen.end) == (slow.end, 1000)
    assert stolen.end - stolen.start > 900
    assert slow.end > slow.cursor


def test_a_connection_close_to_its_end_is_left_alone() -> None:
    clock = FakeClock()
    plan = WorkPlan([(0, 1000), (1000, 2000)], smallest_steal=10, clock=clock)
    first, second = plan.take(), plan.take()
    assert first is not None
    assert second is not None
    clock.advance(1.0)
    plan.claim(first, 990)
    plan.claim(second, 1000)
    plan.finish(second)

    assert plan.take() is None


def two_requests_sent(clock: FakeClock, size: int) -> tuple[WorkPlan, Assignment, Assignment]:
    """A file of `size` bytes in two halves, each taken by a connection that sent its first
    request."""
    plan = WorkPlan([(0, size // 2), (size // 2, size)], smallest_steal=10, clock=clock)
    first, second = plan.take(), plan.take()
    assert first is not None
    assert second is not None
    plan.next_request(first)
    plan.next_request(second)
    return plan, first, second


def test_a_request_over_a_slow_connection_is_stolen_from_though_earlier_ones_were_fast() -> None:
    """Its rate is its request's, not the average since the assignment began: a fast start
    must not hide a connection that has become slow."""
    clock = FakeClock()
    plan, mixed, fast = two_requests_sent(clock, 8_000_000)
    clock.advance(1.0)
    plan.claim(mixed, 1_000_000)  # its first request, at 1 MB/s
    plan.claim(fast, 1_000_000)
    plan.next_request(mixed)  # the next one goes over a connection at 10 kB/s
    plan.next_request(fast)
    clock.advance(0.1)
    plan.claim(mixed, 1_000)
    plan.claim(fast, 100_000)
    clock.advance(1.0)
    plan.claim(mixed, 10_000)
    plan.claim(fast, 1_000_000)

    stolen = plan.take()  # the pieces are all handed out: a steal

    assert stolen is not None
    assert stolen.end == 4_000_000
    assert stolen.start < mixed.cursor + 100_000  # most of what it had left, in flight too
    assert mixed.end == stolen.start


def test_requests_shrink_as_the_file_nears_its_end() -> None:
    """About a second each while far from it; at most the time the file has left once near
    it, so that the last requests end close together."""
    clock = FakeClock()
    plan, first, second = two_requests_sent(clock, 32_000_000)
    clock.advance(1.0)
    plan.claim(first, 4_000_000)  # 4 MB/s each, 24 MB left: 3 s to go
    plan.claim(second, 4_000_000)
    assert plan.next_request(first) - first.cursor == 4_000_000  # a second's worth

    clock.advance(2.5)
    plan.claim(first, 10_000_000)  # 4 MB left: half a second to go
    plan.claim(second, 10_000_000)

    assert plan.next_request(first) - first.cursor == 2_000_000  # half a second's worth


def test_a_connection_that_got_nothing_before_all_it_had_was_stolen_stops_no_other() -> None:
    """A connection waiting for its answer (a fleet host's upstream answers once it has the
    file) may lose all it had to a thief and finish with no byte: a rate of 0, which the
    others' next requests must survive (it divided by zero and failed the download)."""
    clock = FakeClock()
    plan = WorkPlan([(0, 1000), (1000, 2000)], smallest_steal=10, clock=clock)
    waiting = plan.take()
    assert waiting is not None
    clock.advance(1.0)
    waiting.end = waiting.cursor  # what a laggard's thief leaves it: nothing
    plan.finish(waiting)
    other = plan.take()
    assert other is not None

    assert plan.next_request(other) > other.cursor
