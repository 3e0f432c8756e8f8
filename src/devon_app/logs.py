"""How DEVON's processes print their log records: one line each, control characters
escaped (what a client or a Hub sends can neither forge a line nor drive a terminal)."""

import logging

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class DevonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure_logging` installs on the `devon` logger."""


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}


def escape_control(text: str) -> str:
    """`text` with control characters (CR, LF, ESC, ...) written as `\\xNN`: what a client
    sends can neither start a forged log line nor drive a terminal. Escaping twice changes
    nothing more, so the request line and the log format may both apply it."""
    if text.isprintable():  # no control character: the common case, ten times cheaper
        return text
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
        handler = DevonHandler()
        handler.setFormatter(EscapingFormatter(LINE_FORMAT))
        logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
