"""What every file transfer shares: its options, the retry loop of one transfer (a whole
file or one range of it), and the wait before each retry (1x, 2x, 4x, 8x the first delay,
then 8x)."""

import threading
import time
from collections.abc import Callable

import attrs
import httpx2

from devon_adapters.transfer.file_server import FileServer
from devon_adapters.transfer.progress import ProgressTracker
from devon_core.errors import DownloadFailed
from devon_core.ports import RetryNotice

MIB = 1024 * 1024
RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses worth asking again for (a `FileServer.transient` may use them)."""
REPORT_AFTER_S = 0.1
"""Every transfer reports its progress at least this often while bytes arrive: a slow
transfer still tells its callback (which may cancel it) several times a second."""


@attrs.frozen
class DownloadOptions:
    verify_checksums: bool = True
    max_workers: int = 8
    """Files fetched at once."""
    large_files_in_turn: bool = False
    """Files above `split_threshold` one after another, each with every connection, beside
    the small ones (a DEVON serving pull-through, ADR 0290); False (the default): all of
    them at once, up to `max_workers`."""
    read_timeout: float = 10.0
    retries: int = 5
    retry_delay: float = 1.0
    chunk_size: int | None = None
    """Bytes per read from the socket; None takes whatever arrives (fewest copies)."""
    connections_per_file: int = 8
    """Concurrent ranges a file above `split_threshold` starts with (1: every file is one
    stream), unless its host settled at another count before (ADR 0225)."""
    max_connections_per_file: int = 32
    """The most connections one file grows to while each growth adds throughput."""
    max_connections: int = 32
    """File transfers at once in this process, whatever started them (ADR 0120), shared
    fairly between downloads (ADR 0227)."""
    stall_timeout: float = 5.0
    """A connection that delivers nothing for this many seconds is closed; a range's bytes
    go to another connection, a whole file's transfer is retried."""
    split_threshold: int = 32 * MIB
    """Files larger than this many bytes are fetched as concurrent ranges."""
    smallest_piece: int = MIB
    """The least bytes one range asks for (tests lower it to split small files)."""
    clock: Callable[[], float] = time.monotonic
    """Seconds, for rates and stalls (tests pass a fake one)."""


class Stopped(Exception):
    """Another transfer failed or the download was cancelled: stop where this one is (its
    bytes stay for a resume)."""


@attrs.frozen
class Retrying:
    """How one transfer of file `path` retries: after a cut or a transient error it asks
    again from the byte it got to; `retries` failures in a row without progress give up
    (the bytes stay for a resume)."""

    server: FileServer
    options: DownloadOptions
    tracker: ProgressTracker
    path: str
    stopped: Callable[[], bool]
    wake: threading.Event
    """Set to cut a pause short (then `stopped()` is true)."""

    def until_whole(
        self,
        attempt: Callable[[], None],
        reached: Callable[[], int],
        end: int | Callable[[], int],
        ended_early: Callable[[int], str],
    ) -> None:
        """Run `attempt` (one request, from byte `reached()` on) until `reached()` is
        `end` (a callable when the end may move down meanwhile: a range stolen from);
        `ended_early(position)` says why it gave up when the server kept ending the
        transfer early without an error. A failure after the transfer was stopped (its
        connection closed from outside) is `Stopped`, not a retry."""
        end_now = end if callable(end) else (lambda: end)
        judged: tuple[type[Exception], ...] = (httpx2.TransportError, *self.server.http_errors)
        failures = 0
        position = reached()
        while True:
            if self.stopped():
                raise Stopped
            before = position
            problem: Exception | None = None
            try:
                attempt()
            except judged as error:
                if self.stopped():
                    raise Stopped from error
                if not self.server.transient(error):
                    raise
                problem = error
            position = reached()
            if position >= end_now():
                return
            failures = 0 if position > before else failures + 1
            if failures > self.options.retries:
                if problem is not None:
                    raise problem
                raise DownloadFailed(ended_early(position))
            self.tracker.retrying(self._notice(problem, failures))
            pause_before_retry(self.options, failures, self.stopped, self.wake)

    def _notice(self, problem: Exception | None, failures: int) -> RetryNotice:
        """What a progress callback is told before retry number `failures` (ADR 0174)."""
        if problem is None:
            described = f"{self.server.name} ended the transfer early"
        else:
            described = self.server.describe_failure(problem)
        return RetryNotice(
            path=self.path,
            problem=described,
            attempt=failures + 1,
            attempts=self.options.retries + 1,
            wait_seconds=retry_delay(self.options, failures),
        )


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
