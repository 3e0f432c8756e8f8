"""The process-wide bound on connections transferring file bytes at once.

Every file GET (a whole-file stream or one range of a large file) holds one slot while it
runs, whichever `HuggingFaceSource` or download started it; a request beyond the bound waits
for a slot. A thread never holds two slots, so waiting cannot deadlock.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class ConnectionSlots:
    """A counter of connections in use, each taker bringing its own limit."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._in_use = 0

    @property
    def in_use(self) -> int:
        with self._changed:
            return self._in_use

    @contextmanager
    def held(self, limit: int, stopped: Callable[[], bool]) -> Iterator[bool]:
        """Hold a slot while the block runs; yields False (holding none) when `stopped()`
        turned true while waiting."""
        with self._changed:
            while self._in_use >= max(limit, 1):
                if stopped():
                    break
                self._changed.wait(0.1)
            if stopped():
                got = False
            else:
                self._in_use += 1
                got = True
        try:
            yield got
        finally:
            if got:
                with self._changed:
                    self._in_use -= 1
                    self._changed.notify()


PROCESS_SLOTS = ConnectionSlots()
"""The one counter of this process."""
