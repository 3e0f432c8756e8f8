"""What fetching one file takes, whichever way it is fetched (one stream, `downloading`, or
concurrent ranges, `ranged_fetch`), and the check its bytes end with."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import attrs
import httpx2

from devon_adapters.transfer.file_server import FileServer, sentence_start
from devon_adapters.transfer.live_connections import LiveConnections
from devon_adapters.transfer.progress import ProgressTracker
from devon_adapters.transfer.retrying import DownloadOptions, Retrying
from devon_adapters.transfer.staging_layout import FileJob
from devon_core.errors import DownloadFailed
from devon_core.models import RemoteModel
from devon_core.stopping import stopping_on

HASH_BLOCK = 8 * 1024 * 1024
"""Bytes hashed at a time when a file's bytes are read back from its `.part`."""


class DamagedFile(DownloadFailed):
    """A file's bytes did not hash to its sha256 (its `.part` was deleted)."""


class PastListedSize(DownloadFailed):
    """The server announced or sent bytes past the file's listed size (none were written)."""


@attrs.define
class OneFile:
    """One file of `model` on `server`, into `job`'s `.part`, telling `tracker`; `stop`,
    `live` (its open connections) and `group` (its share of the connection slots) are the
    whole download's."""

    server: FileServer
    options: DownloadOptions
    model: RemoteModel
    job: FileJob
    tracker: ProgressTracker
    stop: threading.Event
    live: LiveConnections
    group: object

    def retrying(self, stopped: Callable[[], bool], wake: threading.Event) -> Retrying:
        """How a transfer of this file retries, stopping when `stopped()` (`wake` cuts a
        pause short)."""
        return Retrying(self.server, self.options, self.tracker, self.job.file.path, stopped, wake)

    @contextmanager
    def open_file(self, url: str, start: int, end: int | None = None) -> Iterator[httpx2.Response]:
        """The server's `open_file` under the download's stop signal (`current_stop()` in
        it is `live.stopped`), so a request still waiting for its answer when the download
        stops is cut too."""
        with (
            stopping_on(self.live.stopped),
            self.server.open_file(url, start, self.options.read_timeout, end) as response,
        ):
            yield response

    @property
    def wants_hash(self) -> bool:
        return self.options.verify_checksums and self.job.file.sha256 is not None

    def refuse_if_damaged(self, digest: str | None) -> None:
        """Delete the `.part` and fail when `digest` (None: not hashed) is not the file's
        sha256."""
        if digest is None or digest == self.job.file.sha256:
            return
        self.job.discard_partial()
        raise DamagedFile(
            f"Checksum mismatch for {self.job.file.path} of {self.model.model_id}: expected "
            f"sha256 {self.job.file.sha256}, got {digest}; the damaged file was deleted, "
            "run the download again to fetch it anew"
        )

    def refuse_long_answer(self, response: httpx2.Response, start: int) -> None:
        """Raise PastListedSize, before any byte is written, when `response` (holding the
        file's bytes from `start` on) announces a `Content-Length` that goes past the
        file's listed size."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and start + int(declared) > self.job.file.size_bytes:
            raise PastListedSize(
                f"{sentence_start(self.server.name)} announced {start + int(declared)} bytes "
                f"of {self.job.file.path} of {self.model.model_id}, more than the "
                f"{self.job.file.size_bytes} its listing says; none of them was written, "
                "run the download again"
            )

    def refuse_past_size(self, start: int, length: int) -> None:
        """Raise PastListedSize when `length` bytes about to be written at byte `start` go
        past the file's listed size (they are not written)."""
        if start + length > self.job.file.size_bytes:
            raise PastListedSize(
                f"{sentence_start(self.server.name)} sent more of {self.job.file.path} of "
                f"{self.model.model_id} than the {self.job.file.size_bytes} bytes its listing "
                "says; it was stopped at the first byte past them, none of which was "
                "written, run the download again"
            )
