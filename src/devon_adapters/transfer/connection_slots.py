"""The process-wide bound on connections transferring file bytes at once, shared fairly
between downloads (ADR 0227).

Every file GET (a whole-file stream, or the connection fetching ranges of a large file)
holds one slot while it runs, whichever source or download started it; a request beyond
the bound waits. Slots are shared per download (`group`), not first come, first served:
a freed slot goes to the waiting download that holds the fewest (the longest waiting of
those), so a small download started while a large one runs gets a connection at the next
free slot however many of the large one's connections queue before it. A download
holding more than its share (the bound divided by the downloads holding or wanting slots)
while another waits under its share is `crowded`: its range connections give their slot
back at their next chunk. A thread never holds two slots, so waiting cannot deadlock.
"""

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class _Ticket:
    """One taker waiting for a slot (compared by identity)."""

    def __init__(self, limit: int, group: object) -> None:
        self.limit = limit
        self.group = group


class ConnectionSlots:
    """A counter of connections in use, each taker bringing its own limit and its group
    (its download), and the takers waiting for one, in the order they came."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._in_use = 0
        self._held: Counter[object] = Counter()
        self._waiting: list[_Ticket] = []

    def _share(self, limit: int) -> int:
        groups = {g for g, n in self._held.items() if n > 0} | {t.group for t in self._waiting}
        return max(1, limit // max(len(groups), 1))

    def _first_that_may_go(self) -> "_Ticket | None":
        """Of the takers whose own limit the connections in use leave room for (a taker
        with a lower limit does not hold up those with a higher one), the one whose download
        holds the fewest slots; the longest waiting of those."""
        room = [t for t in self._waiting if self._in_use < t.limit]
        return min(room, key=lambda t: self._held[t.group]) if room else None

    @property
    def in_use(self) -> int:
        with self._changed:
            return self._in_use

    def held_by(self, group: object) -> int:
        with self._changed:
            return self._held[group]

    def crowded(self, group: object, limit: int) -> bool:
        """Whether `group` should give a slot back: it holds more than its share while a
        taker of another download waits with fewer than that."""
        if not self._waiting:  # read without the lock: the common case costs nothing
            return False
        with self._changed:
            share = self._share(limit)
            if self._held[group] <= share:
                return False
            return any(t.group is not group and self._held[t.group] < share for t in self._waiting)

    @contextmanager
    def held(
        self, limit: int, stopped: Callable[[], bool], group: object | None = None
    ) -> Iterator[bool]:
        """Hold a slot while the block runs, when `group` (None: a group of its own) is the
        one to go (see the module); yields False (holding none) when `stopped()` turned
        true while waiting."""
        ticket = _Ticket(max(limit, 1), group if group is not None else object())
        got = False
        with self._changed:
            self._waiting.append(ticket)
            try:
                while not stopped():
                    if self._first_that_may_go() is ticket:
                        self._in_use += 1
                        self._held[ticket.group] += 1
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
                    self._held[ticket.group] -= 1
                    if self._held[ticket.group] <= 0:
                        del self._held[ticket.group]
                    self._changed.notify_all()


PROCESS_SLOTS = ConnectionSlots()
"""The one counter of this process."""
