"""`CallStop`: a stop signal for work done on someone's behalf: set when nobody waits for its
result any more (the HTTP client went away, the server is shutting down).

The driving adapter that runs a call sets one around it (`stopping_on`); a source reads it
with `current_stop()` where it begins a call and hands it to what reads from the network,
which registers a callback (`when_set`) that cuts its connection at once. It travels as a
context variable, so the `ModelSource` port keeps its signature (ADR 0201); a thread pool
started under it must hand it on itself.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class CallStop:
    """Set once; what registered with `when_set` runs then (or at once, if already set)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._next = 0

    def set(self) -> None:
        with self._lock:
            if self._set:
                return
            self._set = True
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in callbacks:
            callback()

    def is_set(self) -> bool:
        return self._set

    def when_set(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run `callback` when the signal is set; the function returned unregisters it."""
        with self._lock:
            if not self._set:
                key = self._next
                self._next += 1
                self._callbacks[key] = callback
                return lambda: self._forget(key)
        callback()
        return lambda: None

    def _forget(self, key: int) -> None:
        with self._lock:
            self._callbacks.pop(key, None)


StopSignal = CallStop
"""The name `CallStop` had before ADR 0265 (it is not `devon_core.ports.StopSignal`, the
signal a source's download is stopped by)."""

_CURRENT: ContextVar[CallStop | None] = ContextVar("devon_stop", default=None)


def current_stop() -> CallStop | None:
    """The stop signal of the call running in this context, if its caller gave one."""
    return _CURRENT.get()


@contextmanager
def stopping_on(signal: CallStop) -> Iterator[CallStop]:
    """Run the block (and what it starts in this context) under `signal`."""
    token = _CURRENT.set(signal)
    try:
        yield signal
    finally:
        _CURRENT.reset(token)
