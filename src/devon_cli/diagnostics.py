"""Warnings and log records as one `warning: ...` line each on stderr, each said once."""

import logging
import sys
import warnings
from typing import TextIO

OUR_LOGGERS = ("devon_core", "devon_adapters", "devon_app", "devon_cli", "devon_http")


class _OneLine(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.said: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.say(record.levelname.lower(), record.getMessage())

    def say(self, level: str, message: str) -> None:
        text = " ".join(message.split())
        if text not in self.said:
            self.said.add(text)
            print(f"{level}: {text}", file=sys.stderr, flush=True)


def _remove_handlers() -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _OneLine)]:
        root.removeHandler(handler)


def hand_over() -> None:
    """Leave logging to a long-running server that formats its own records."""
    _remove_handlers()
    warnings.showwarning = _python_showwarning


_python_showwarning = warnings.showwarning


def configure(debug: bool) -> None:
    """Route log records (WARNING and up; DEVON's own at every level with --debug) and
    Python warnings to stderr, one line each. A problem reported both ways is shown once."""
    _remove_handlers()
    root = logging.getLogger()
    handler = _OneLine()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.NOTSET)

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        handler.say("warning", str(message))

    warnings.showwarning = show
