"""One log line per request: method, path, status and duration in milliseconds."""

import logging
import time
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.types.asgi_types import HTTPScope

log = logging.getLogger("devon.http")


class RequestLog:
    """ASGI wrapper around the whole app, so unknown routes (404) and wrong methods (405),
    which never reach Litestar's per-route middleware, are logged too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.info(
                "%s %s %s %.1f ms",
                escape_control(http_scope["method"]),
                escape_control(http_scope["path"]),
                status[0] if status else "-",
                elapsed_ms,
            )

    def __getattr__(self, name: str) -> Any:
        # Let callers reach the wrapped app's attributes (e.g. `state`).
        return getattr(self.app, name)


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}


def escape_control(text: str) -> str:
    """`text` with control characters (CR, LF, ESC, ...) written as `\\xNN`: what a client
    sends can neither start a forged log line nor drive a terminal. Escaping twice changes
    nothing more, so the request line and the log format may both apply it."""
    return text.translate(_CONTROL)


class EscapingFormatter(logging.Formatter):
    """Escapes control characters in every record's message (tracebacks keep their lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_control(record.message)
        return super().formatMessage(record)


def configure_logging() -> None:
    """Print DEVON's records (the request lines among them) unless the host process already
    routes logging somewhere. Each server worker process calls it for itself."""
    logger = logging.getLogger("devon")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
