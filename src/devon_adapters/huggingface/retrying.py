"""What every file transfer shares: its options, when a failure is worth a retry, and the
wait before it (1x, 2x, 4x, 8x the first delay, then 8x)."""

import threading
from collections.abc import Callable

import attrs
import httpx2
from huggingface_hub.errors import HfHubHTTPError

from devon_core.ports import RetryNotice

MIB = 1024 * 1024
RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REPORT_AFTER_S = 0.1
"""Every transfer reports its progress at least this often while bytes arrive: a slow
transfer still tells its callback (which may cancel it) several times a second."""


@attrs.frozen
class DownloadOptions:
    verify_checksums: bool = True
    max_workers: int = 8
    """Files fetched at once."""
    read_timeout: float = 10.0
    retries: int = 5
    retry_delay: float = 1.0
    chunk_size: int | None = None
    """Bytes per read from the socket; None takes whatever arrives (fewest copies)."""
    connections_per_file: int = 8
    """Concurrent ranges of one file above `split_threshold` (1: every file is one stream)."""
    max_connections: int = 16
    """File transfers at once in this process, whatever started them (ADR 0120)."""
    split_threshold: int = 32 * MIB
    """Files larger than this many bytes are fetched as concurrent ranges."""
    smallest_piece: int = MIB
    """The least bytes one range asks for (tests lower it to split small files)."""


class Stopped(Exception):
    """Another transfer failed or the download was cancelled: stop where this one is (its
    bytes stay for a resume)."""


def transient(error: Exception) -> bool:
    """A dropped connection, a timeout or a retryable status: worth asking again."""
    if isinstance(error, HfHubHTTPError):
        status = getattr(error.response, "status_code", None)
        return status in RETRIED_STATUSES
    return isinstance(error, httpx2.TransportError | ConnectionError | TimeoutError)


def pause_before_retry(
    options: DownloadOptions, failures: int, stopped: Callable[[], bool], wake: threading.Event
) -> None:
    """Wait before retry number `failures` (waking early on `wake`); raise Stopped when
    `stopped()` is true afterwards."""
    seconds = retry_delay(options, failures)
    if seconds > 0 and not stopped():
        wake.wait(seconds)
    if stopped():
        raise Stopped


def retry_delay(options: DownloadOptions, failures: int) -> float:
    """Seconds to wait before retry number `failures`."""
    return float(options.retry_delay * min(2 ** max(failures - 1, 0), 8))


def retry_notice(
    options: DownloadOptions, path: str, problem: Exception | None, failures: int
) -> RetryNotice:
    """What a progress callback is told before retry number `failures` of `path` (ADR 0174)."""
    return RetryNotice(
        path=path,
        problem=describe_failure(problem),
        attempt=failures + 1,
        attempts=options.retries + 1,
        wait_seconds=retry_delay(options, failures),
    )


def describe_failure(problem: Exception | None) -> str:
    """What went wrong with a transfer, in a few words."""
    if problem is None:
        return "the Hub ended the transfer early"
    if isinstance(problem, HfHubHTTPError):
        status = getattr(problem.response, "status_code", None)
        return f"the Hub answered HTTP {status}" if status else "the Hub answered an error"
    text = " ".join(str(problem).split())[:80]
    return f"{type(problem).__name__}: {text}" if text else type(problem).__name__
