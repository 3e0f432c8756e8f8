"""One log line per request: method, path, status and duration in milliseconds.

When the line's only destination is the handler `configure_logging` installed (what `devon
serve` runs with), the request log writes the lines itself, formatted exactly as that
handler would, gathered for up to `WRITE_EVERY_S` and written at once (and at shutdown):
going through `logging` for each line cost 10 to 20% of `/health`'s throughput, and one
write per event-loop turn still 8 to 20% (ADR 0131). Where the lines go is decided once per
batch; each request only adds its line's parts to the batch, and the batch's text is made
by one `%` over all of them. When the host routes DEVON's records anywhere else (its own
handlers, a filter, pytest's capture), every line goes through `logging` as a record, at
once.

The requests come from the request guard (`RequestGuard(app, security, log)`), which
already wraps every answer's `send`: a wrapper of the log's own around each request was
about 7,000 of its 17,000 instructions.
"""

import asyncio
import atexit
import logging
import time
from time import perf_counter
from typing import TextIO, get_args

from litestar.types.asgi_types import HTTPScope

from devon_app.logs import (
    LINE_FORMAT,
    DevonHandler,
    EscapingFormatter,
    configure_logging,
    escape_control,
)

__all__ = ["EscapingFormatter", "RequestLog", "configure_logging", "escape_control"]

log = logging.getLogger("devon.http")

WRITE_EVERY_S = 0.05
"""Lines written by the request log itself reach the stream at most this late: at `/health`
load one write then carries hundreds of lines."""

_UNWRITTEN: "set[RequestLog]" = set()
"""Request logs holding lines not yet written: written when the process exits, even if
the app is gone by then."""


@atexit.register
def _write_at_exit() -> None:
    for request_log in list(_UNWRITTEN):
        request_log.flush()


class RequestLog:
    """The lines of the requests a `RequestGuard` lets through or refuses, each handed over
    by the guard when it is answered (`record`)."""

    def __init__(self) -> None:
        self._pending: list[str | int | float] = []
        """The parts of the lines not yet written, one `_Line` after another."""
        self._handler: logging.StreamHandler | None = None  # type: ignore[type-arg]
        self._second = -1
        self._second_text = ""
        self._line_start = ""
        self._line_start_until = 0.0

    def record(self, scope: HTTPScope, status: int | str, started: float) -> None:
        """Log the request of `scope`, answered with `status` ("-" when no answer was
        started), which began at `perf_counter()` time `started`."""
        # The line's parts, made ready here so that no Python code runs per line when
        # the batch is written (`flush`).
        elapsed_ms = (perf_counter() - started) * 1000
        method: str = scope["method"]
        path = scope["path"]
        if not (method.isprintable() and path.isprintable()):
            method, path = escape_control(method), escape_control(path)
        now = time.time()
        if now >= self._line_start_until:  # at load, many lines share one millisecond
            self._start_line(now)
        line = (self._line_start, method, path, status, elapsed_ms)
        if self._pending:  # a batch is open: where it goes is decided
            self._pending += line
        else:
            self._open_batch(line)

    def _open_batch(self, line: "_Line") -> None:
        """Log the first request of a batch: decide where its lines go (nowhere, a record
        each through `logging`, or a write of their own), and gather the batch's lines if
        they are DEVON's handler's alone. This is decided once per batch, not per request."""
        if not log.isEnabledFor(logging.INFO):
            return
        handler = _only_destination()
        if handler is None:
            message = _MESSAGE % line[1:]
            log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, message, (), None))
            return
        self._pending += line
        self._handler = handler
        _UNWRITTEN.add(self)
        try:
            asyncio.get_running_loop().call_later(WRITE_EVERY_S, self.flush)
        except RuntimeError:  # no event loop (called outside a server): write now
            self.flush()

    def _start_line(self, now: float) -> None:
        """What the handler's format writes before the message at time `now` (the time as
        `logging.Formatter.formatTime` writes it, the level and the logger), kept until the
        clock leaves the millisecond it holds for."""
        millisecond = int(now * 1000)
        self._line_start_until = (millisecond + 1) / 1000
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        msecs = int((now - second) * 1000)
        self._line_start = f"{self._second_text},{msecs:03d} INFO devon.http: "

    def flush(self) -> None:
        """Write the lines gathered so far (at once when the server stops)."""
        handler, parts, self._pending = self._handler, self._pending, []
        _UNWRITTEN.discard(self)
        if handler is None or not parts:
            return
        text = (_LINE * (len(parts) // _PARTS)) % tuple(parts)
        stream: TextIO = handler.stream
        with handler.lock or _NO_LOCK:
            try:
                stream.write(text)
                stream.flush()
            except Exception:  # as logging does: a broken log stream never fails a request
                handler.handleError(log.makeRecord(log.name, logging.INFO, "", 0, text, (), None))


_Line = tuple[str, str, str, int | str, float]
"""A request line before it is written: what the handler's format puts before the message
(time, level, logger), the method, path and status, and how many milliseconds it took."""
_PARTS = len(get_args(_Line))
_MESSAGE = "%s %s %s %.1f ms"
_LINE = f"%s{_MESSAGE}\n"


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


_NO_LOCK = _NoLock()


def _only_destination() -> logging.StreamHandler | None:  # type: ignore[type-arg]
    """DEVON's own handler when it is the only place an INFO record of `devon.http` goes
    (no other handler on the way up, no filter, the format it was made with), else None."""
    devon = log.parent
    if log.handlers or log.filters or not log.propagate or devon is None or devon.filters:
        return None
    if len(devon.handlers) != 1 or not isinstance(devon.handlers[0], DevonHandler):
        return None
    handler = devon.handlers[0]
    if handler.filters or handler.level > logging.INFO or handler.formatter is None:
        return None
    if handler.formatter._fmt != LINE_FORMAT or handler.formatter.datefmt is not None:
        return None
    if devon.propagate and logging.getLogger().handlers:
        return None
    return handler
