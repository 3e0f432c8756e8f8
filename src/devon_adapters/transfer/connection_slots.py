"""The process-wide bound on connections transferring file bytes at once.

Every file GET (a whole-file stream or one range of a large file) holds one slot while it
runs, whichever source or download started it; a request beyond the bound waits
for a slot. Slots go first come, first served: a range worker asks again the moment its
piece ends, and without an order it would win the slot it just freed over transfers of
another download that have been waiting, starving that download while the large one runs.
A thread never holds two slots, so waiting cannot deadlock.
"""

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class _Ticket:
    """One taker waiting for a slot (compared by identity)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit


class ConnectionSlots:
    """A counter of connections in use, each taker bringing its own limit, and the takers
    waiting for one, in the order they came."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._in_use = 0
        self._waiting: deque[_Ticket] = deque()

    def _first_that_may_go(self) -> "_Ticket | None":
        """The longest-waiting taker whose own limit the connections in use leave room for
        (a taker with a lower limit does not hold up those with a higher one)."""
        for ticket in self._waiting:
            if self._in_use < ticket.limit:
                return ticket
        return None

    @property
    def in_use(self) -> int:
        with self._changed:
            return self._in_use

    @contextmanager
    def held(self, limit: int, stopped: Callable[[], bool]) -> Iterator[bool]:
        """Hold a slot while the block runs, once every earlier taker has had one; yields
        False (holding none) when `stopped()` turned true while waiting."""
        ticket = _Ticket(max(limit, 1))
        got = False
        with self._changed:
            self._waiting.append(ticket)
            try:
                while not stopped():
                    if self._first_that_may_go() is ticket:
                        self._in_use += 1
                        got = True
                        break
                    self._changed.wait(0.1)
            finally:
                self._waiting.remove(ticket)
                self._changed.notify_all()  # the next in line may go
        try:
            yield got
        finally:
            if got:
                with self._changed:
                    self._in_use -= 1
                    self._changed.notify_all()


PROCESS_SLOTS = ConnectionSlots()
"""The one counter of this process."""
