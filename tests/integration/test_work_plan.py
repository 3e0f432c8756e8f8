"""Work stealing hands every byte of a file to exactly one connection, and a slow connection's
range goes mostly to a faster one (ADR 0225); a fake clock stands for time."""

import random

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
            skip, mine = plan.claim(assignment, rate)
            for byte in range(start + skip, start + skip + mine):
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


def slow_last_request(
    clock: FakeClock, first_byte_s: float = 0.001, slow_for_s: float = 0.15
) -> tuple[WorkPlan, Assignment]:
    """A fast connection has fetched the first two pieces at 1 MB/s, each request's first
    bytes `first_byte_s` after it was asked; the last piece's request went over a connection
    that has sent 1 kB in the `slow_for_s` since it was asked (by default too soon for its
    rate to count: it is not a laggard yet, and at the typical rate it would be done in
    0.1 s)."""
    pieces = [(0, 500_000), (500_000, 1_000_000), (1_000_000, 1_100_000)]
    plan = WorkPlan(pieces, smallest_steal=10, clock=clock)
    for _ in range(2):
        fast = plan.take()
        assert fast is not None
        plan.next_request(fast)
        clock.advance(first_byte_s)
        plan.claim(fast, 1_000)
        clock.advance(0.5)
        plan.claim(fast, 499_000)
        plan.finish(fast)
    slow = plan.take()
    assert slow is not None
    plan.next_request(slow)
    clock.advance(slow_for_s)
    plan.claim(slow, 1_000)
    return plan, slow


def test_an_idle_connection_fetches_the_same_last_bytes_as_a_slow_one_without_cutting_it() -> None:
    clock = FakeClock()
    plan, slow = slow_last_request(clock)

    hedge = plan.take()

    assert hedge is not None
    assert (hedge.start, hedge.end) == (1_001_000, 1_100_000)  # all it has left
    assert slow.end == 1_100_000  # the slow one goes on too
    assert plan.hedges == 1
    assert plan.left() == 99_000  # counted once
    assert plan.take() is None  # a hedged connection is not hedged twice


def test_with_long_round_trips_a_request_is_not_hedged_before_its_first_bytes_could_come() -> None:
    """Each request's first bytes took 0.3 s to come (a far server): a request that has sent
    little 0.2 s after it was asked is not judged yet."""
    clock = FakeClock()
    plan, _ = slow_last_request(clock, first_byte_s=0.3, slow_for_s=0.2)

    assert plan.take() is None


def test_a_hedge_that_gets_past_the_slow_connection_takes_the_rest_and_the_slow_one_stops() -> None:
    clock = FakeClock()
    plan, slow = slow_last_request(clock)
    hedge = plan.take()
    assert hedge is not None
    stopped: list[bool] = []
    slow.on_emptied = lambda: stopped.append(True)
    plan.next_request(hedge)
    assert plan.claim(slow, 500) == (0, 500)  # the slow one wrote 1_001_000-1_001_500

    assert plan.claim(hedge, 400) == (400, 0)  # the hedge's first bytes: written already
    assert plan.claim(hedge, 300) == (100, 200)  # past the slow one: 1_001_500 on is its own

    assert stopped == [True]
    assert slow.end == slow.cursor == 1_001_500
    assert plan.claim(slow, 100) == (0, 0)
    assert plan.left() == 1_100_000 - 1_001_700
    assert plan.claim(hedge, 1_000_000) == (0, 1_100_000 - 1_001_700)
    plan.finish(slow)
    plan.finish(hedge)
    assert plan.finished()


def test_a_hedge_stops_when_the_connection_it_hedges_ends_first() -> None:
    clock = FakeClock()
    plan, slow = slow_last_request(clock)
    hedge = plan.take()
    assert hedge is not None
    stopped: list[bool] = []
    hedge.on_emptied = lambda: stopped.append(True)
    plan.claim(slow, 500)
    assert plan.claim(hedge, 100) == (100, 0)  # the hedge is behind: its first bytes came late
    assert plan.claim(slow, 1_000_000) == (0, 98_500)

    plan.finish(slow)

    assert stopped == [True]
    assert hedge.end == hedge.cursor
    assert plan.claim(hedge, 1_000) == (0, 0)
    plan.finish(hedge)
    assert plan.finished()


def test_a_dropped_slow_connection_leaves_its_bytes_to_its_hedge_which_skips_those_it_wrote() -> (
    None
):
    clock = FakeClock()
    plan, slow = slow_last_request(clock)
    hedge = plan.take()
    assert hedge is not None
    plan.claim(slow, 2_000)  # up to 1_003_000

    plan.give_back(slow)

    assert plan.left() == 97_000
    assert plan.take() is None  # nothing went back to the pieces
    assert plan.claim(hedge, 2_500) == (2_000, 500)
    assert plan.claim(hedge, 1_000_000) == (0, 96_500)


def test_a_hedge_that_is_slow_as_well_is_replaced_by_another() -> None:
    clock = FakeClock()
    plan, slow = slow_last_request(clock)
    first = plan.take()
    assert first is not None
    plan.next_request(first)
    stopped: list[bool] = []
    first.on_emptied = lambda: stopped.append(True)
    clock.advance(0.2)
    plan.claim(slow, 100)
    plan.claim(first, 100)  # behind the slow one, and as slow

    second = plan.take()

    assert second is not None
    assert (second.start, second.end) == (slow.cursor, slow.end)
    assert stopped == [True]
    assert first.end == first.cursor
    assert plan.left() == slow.end - slow.cursor


def test_every_byte_goes_to_exactly_one_connection_through_hedges_and_steals() -> None:
    """Connections whose rates change at random (some stall for a while, some are dropped):
    each byte is written by exactly one of them, whatever was stolen or hedged."""
    hedges = 0
    for seed in range(20):
        chooser = random.Random(seed)
        size = 20_000
        clock = FakeClock()
        pieces = [(s, s + 2_500) for s in range(0, size, 2_500)]
        plan = WorkPlan(pieces, smallest_steal=50, clock=clock)
        owners: list[set[int]] = [set() for _ in range(size)]
        held: list[Assignment | None] = [None] * 4
        for _ in range(20_000):
            if plan.finished():
                break
            clock.advance(0.05)
            for index in range(len(held)):
                assignment = held[index]
                if assignment is None:
                    held[index] = assignment = plan.take()
                    if assignment is None:
                        continue
                    plan.next_request(assignment)
                start = assignment.cursor
                skip, mine = plan.claim(assignment, chooser.choice([0, 0, 1, 10, 100, 400]))
                for byte in range(start + skip, start + skip + mine):
                    owners[byte].add(index)
                if assignment.cursor >= assignment.end:
                    plan.finish(assignment)
                    held[index] = None
                elif assignment.cursor >= assignment.asked_to:
                    plan.next_request(assignment)
                elif chooser.random() < 0.01:
                    plan.give_back(assignment)  # dropped: stalled, or its slot went elsewhere
                    held[index] = None

        assert plan.finished(), seed
        assert [len(o) for o in owners] == [1] * size, seed
        hedges += plan.hedges
    assert hedges > 0


def test_an_assignment_emptied_before_its_first_byte_gives_no_rate_to_size_requests_by() -> None:
    clock = FakeClock()
    plan = WorkPlan([(0, 1000), (1000, 2000)], smallest_steal=10, clock=clock)
    emptied = plan.take()
    assert emptied is not None
    clock.advance(0.5)
    emptied.end = emptied.cursor  # a thief took all it had left before its first byte came
    plan.finish(emptied)
    other = plan.take()
    assert other is not None

    assert plan.next_request(other) == other.end  # all it has left: no rate is known
