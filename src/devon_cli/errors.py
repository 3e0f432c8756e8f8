"""Where every failure becomes an exit code and one line on stderr: the CLI's error policy.

| exit | meaning                                                                  |
|------|--------------------------------------------------------------------------|
| 0    | done                                                                     |
| 1    | the operation failed: not found, forbidden, source unavailable, download |
|      | failed, not enough storage, an unexpected error                          |
| 2    | bad usage: click usage errors, InvalidInput / InvalidRequest, a delete   |
|      | that needs `--yes` when no one can be asked                              |
| 130  | interrupted (Ctrl-C)                                                     |
"""

import os
import re

import click

from devon_core.errors import DevonError, InvalidInput

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

DEBUG_HINT = "run with --debug or DEVON_DEBUG=1 to see the traceback"


def exit_code_for(error: BaseException) -> int:
    """The exit code for an error that ended a command."""
    if isinstance(error, click.Abort):
        return EXIT_INTERRUPTED if isinstance(error.__cause__, KeyboardInterrupt) else EXIT_FAILED
    if isinstance(error, click.UsageError | InvalidInput):
        return EXIT_USAGE
    if isinstance(error, click.ClickException):
        return error.exit_code
    return EXIT_FAILED


def message_for(error: BaseException) -> str:
    """One line saying what went wrong (and, where it helps, what to do)."""
    if isinstance(error, click.UsageError):
        text = error.format_message().rstrip(".")
        if error.ctx is not None:
            text += f"; see '{error.ctx.command_path} --help'"
        return text
    if isinstance(error, click.ClickException):
        return error.format_message()
    if isinstance(error, click.Abort):
        return "interrupted" if isinstance(error.__cause__, KeyboardInterrupt) else "aborted"
    if isinstance(error, DevonError):
        return str(error)
    return f"unexpected {type(error).__name__}: {error} ({DEBUG_HINT})"


def error_kind(error: BaseException) -> str:
    """What kind of failure ended a command, for `--json` answers: `not_found`, `usage`,
    `invalid_input`, `download_failed`... (a DEVON error's class name in snake case)."""
    if isinstance(error, click.UsageError):
        return "usage"
    if isinstance(error, click.Abort):
        return "interrupted" if isinstance(error.__cause__, KeyboardInterrupt) else "aborted"
    if isinstance(error, DevonError | click.ClickException):
        return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()
    return "unexpected"


def one_line(text: str) -> str:
    """`text` squeezed onto one line, so that every error is exactly one line."""
    return " ".join(text.split())


def debug_requested() -> bool:
    return os.environ.get("DEVON_DEBUG", "").strip().lower() not in ("", "0", "false", "no")
