"""One log line per request: method, path, status and duration in milliseconds.

When the line's only destination is the handler `configure_logging` installed (what `devon
serve` runs with), the request log writes the lines itself, formatted exactly as that
handler would, and all lines finished in one turn of the event loop in one write: going
through `logging` for each line cost 10 to 20% of `/health`'s throughput (ADR 0131). When
the host routes DEVON's records anywhere else (its own handlers, a filter, pytest's
capture), every line goes through `logging` as a record.
"""

import asyncio
import logging
import time
from typing import Any, TextIO

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.types.asgi_types import HTTPScope

log = logging.getLogger("devon.http")

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _DevonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure_logging` installs on the `devon` logger."""


class RequestLog:
    """ASGI wrapper around the whole app, so unknown routes (404) and wrong methods (405),
    which never reach Litestar's per-route middleware, are logged too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._pending: list[str] = []
        self._second = -1
        self._second_text = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        http_scope: HTTPScope = scope
        started = time.perf_counter()
        status: list[int] = []

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            if log.isEnabledFor(logging.INFO):
                elapsed_ms = (time.perf_counter() - started) * 1000
                line = (
                    f"{http_scope['method']} {http_scope['path']} "
                    f"{status[0] if status else '-'} {elapsed_ms:.1f} ms"
                )
                self._log(line)

    def _log(self, line: str) -> None:
        handler = _only_destination()
        if handler is None:
            log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, line, (), None))
            return
        now = time.time()
        second = int(now)
        if second != self._second:  # what logging.Formatter.formatTime writes, per second
            self._second = second
            self._second_text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        msecs = int((now - second) * 1000)
        self._pending.append(f"{self._second_text},{msecs:03d} INFO devon.http: {line}\n")
        if len(self._pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self._flush, handler)
            except RuntimeError:  # no event loop (called outside a server): write now
                self._flush(handler)

    def _flush(self, handler: logging.StreamHandler) -> None:  # type: ignore[type-arg]
        text, self._pending = "".join(self._pending), []
        stream: TextIO = handler.stream
        with handler.lock or _NO_LOCK:
            try:
                stream.write(text)
                stream.flush()
            except Exception:  # as logging does: a broken log stream never fails a request
                handler.handleError(log.makeRecord(log.name, logging.INFO, "", 0, text, (), None))

    def __getattr__(self, name: str) -> Any:
        # Let callers reach the wrapped app's attributes (e.g. `state`).
        return getattr(self.app, name)


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
    if len(devon.handlers) != 1 or not isinstance(devon.handlers[0], _DevonHandler):
        return None
    handler = devon.handlers[0]
    if handler.filters or handler.level > logging.INFO or handler.formatter is None:
        return None
    if handler.formatter._fmt != LINE_FORMAT or handler.formatter.datefmt is not None:
        return None
    if devon.propagate and logging.getLogger().handlers:
        return None
    return handler


def configure_logging() -> None:
    """Print DEVON's records (the request lines among them) unless the host process already
    routes logging somewhere. Each server worker process calls it for itself."""
    logger = logging.getLogger("devon")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = _DevonHandler()
        handler.setFormatter(logging.Formatter(LINE_FORMAT))
        logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
