"""The process-wide bound on file connections hands a freed connection to the transfer that
has waited longest, so one download's range workers (which ask again the moment a piece
ends) cannot starve another download of the same process."""

import threading
import time

from devon_adapters.transfer.connection_slots import ConnectionSlots


def test_freed_connection_goes_to_the_waiting_transfer_before_the_one_that_just_let_it_go() -> None:
    slots = ConnectionSlots()
    order: list[str] = []
    waiting = threading.Event()

    def waiter_stopped() -> bool:
        waiting.set()  # asked only while it waits for a connection
        return False

    def waiter() -> None:
        with slots.held(1, waiter_stopped) as got:
            assert got
            order.append("waiter")

    with slots.held(1, lambda: False) as got:
        assert got
        thread = threading.Thread(target=waiter)
        thread.start()
        assert waiting.wait(10)
    with slots.held(1, lambda: False) as got:  # at once, as a range worker between pieces
        assert got
        order.append("holder again")
    thread.join(10)

    assert order == ["waiter", "holder again"]


def test_stopped_waiter_leaves_without_a_connection_and_the_next_one_gets_it() -> None:
    slots = ConnectionSlots()
    stop = threading.Event()
    results: dict[str, bool] = {}

    def take(name: str, stopped: threading.Event | None) -> None:
        with slots.held(1, stopped.is_set if stopped else lambda: False) as got:
            results[name] = got

    with slots.held(1, lambda: False):
        first = threading.Thread(target=take, args=("stopped", stop))
        first.start()
        time.sleep(0.05)
        second = threading.Thread(target=take, args=("next", None))
        second.start()
        stop.set()
        first.join(10)
    second.join(10)

    assert results == {"stopped": False, "next": True}
    assert slots.in_use == 0


def test_waiter_with_a_lower_limit_does_not_hold_up_one_with_a_higher_limit() -> None:
    slots = ConnectionSlots()
    low_waiting = threading.Event()
    low_stop = threading.Event()
    got: dict[str, bool] = {}

    def low_stopped() -> bool:
        low_waiting.set()
        return low_stop.is_set()

    def low() -> None:
        with slots.held(1, low_stopped) as taken:
            got["low"] = taken

    with slots.held(2, lambda: False):
        thread = threading.Thread(target=low)
        thread.start()
        assert low_waiting.wait(10)
        give_up = time.monotonic() + 10
        with slots.held(2, lambda: time.monotonic() > give_up) as taken:  # room under its 2
            got["high"] = taken
        low_stop.set()
        thread.join(10)

    assert got == {"high": True, "low": False}


def test_freed_connection_goes_to_the_download_holding_fewest_not_the_longest_waiting() -> None:
    slots = ConnectionSlots()
    big, small = object(), object()
    order: list[str] = []
    queued: list[threading.Event] = []

    def waiter(group: object, name: str) -> threading.Thread:
        asked = threading.Event()
        queued.append(asked)

        def stopped() -> bool:
            asked.set()
            return False

        def run() -> None:
            with slots.held(2, stopped, group) as got:
                assert got
                order.append(name)

        thread = threading.Thread(target=run)
        thread.start()
        assert asked.wait(10)
        return thread

    with slots.held(2, lambda: False, big):
        with slots.held(2, lambda: False, big):
            threads = [waiter(big, "big 3"), waiter(big, "big 4"), waiter(small, "small")]
        threads[-1].join(10)  # one slot is free: the small download gets it first
    for thread in threads:
        thread.join(10)

    assert order[0] == "small"


def test_a_download_over_its_share_is_crowded_only_while_another_waits_under_it() -> None:
    slots = ConnectionSlots()
    big, small = object(), object()
    waiting = threading.Event()

    def small_stopped() -> bool:
        waiting.set()
        return False

    with slots.held(2, lambda: False, big), slots.held(2, lambda: False, big):
        assert not slots.crowded(big, 2)
        thread = threading.Thread(target=lambda: slots.held(2, small_stopped, small).__enter__())
        thread.start()
        assert waiting.wait(10)
        assert slots.crowded(big, 2)
        assert not slots.crowded(small, 2)
    thread.join(10)
    assert not slots.crowded(big, 2)
