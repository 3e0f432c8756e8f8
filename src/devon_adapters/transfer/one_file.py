"""What fetching one file takes, whichever way it is fetched (one stream, `downloading`, or
concurrent ranges, `ranged_fetch`), and the check its bytes end with."""

import threading
from collections.abc import Callable

import attrs

from devon_adapters.transfer.file_server import FileServer
from devon_adapters.transfer.live_connections import LiveConnections
from devon_adapters.transfer.progress import ProgressTracker
from devon_adapters.transfer.retrying import DownloadOptions, Retrying
from devon_adapters.transfer.staging_layout import FileJob
from devon_core.errors import DownloadFailed
from devon_core.models import RemoteModel

HASH_BLOCK = 8 * 1024 * 1024
"""Bytes hashed at a time when a file's bytes are read back from its `.part`."""


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

    @property
    def wants_hash(self) -> bool:
        return self.options.verify_checksums and self.job.file.sha256 is not None

    def refuse_if_damaged(self, digest: str | None) -> None:
        """Delete the `.part` and fail when `digest` (None: not hashed) is not the file's
        sha256."""
        if digest is None or digest == self.job.file.sha256:
            return
        self.job.discard_partial()
        raise DownloadFailed(
            f"Checksum mismatch for {self.job.file.path} of {self.model.model_id}: expected "
            f"sha256 {self.job.file.sha256}, got {digest}; the damaged file was deleted, "
            "run the download again to fetch it anew"
        )
