"""Fetching a model's files into a staging directory, resumably and verified (ADR 0021).

Source-neutral (ADR 0197): a source supplies a `FileServer` (its files' URLs, its streamed
GET, which of its errors are worth a retry and what they become). Each file up to
`split_threshold` bytes is one streamed GET of the file's URL at the commit `info` saw
(for the Hub `/<id>/resolve/<commit>/<path>`), resumed with `Range`
from what its `.part` file holds (within an attempt after a cut, and across attempts while
the `.part`'s record says it is of the file wanted now; layout in `staging_layout`), and
hashed as it arrives: no second pass over the bytes, no copy. Larger files are fetched as
concurrent ranges (`ranged_fetch`, ADR 0120), and fall back to this one stream when the
server ignores `Range`.

Files are fetched several at once (`max_workers`). With `large_files_in_turn` (a DEVON serving
pull-through) the large ones go one after another instead, largest first, each with all its
connections, beside the small files (ADR 0290): with a link of fixed width that lands the
first large file after its own share of the time rather than all of them together at the
end, so a client waiting for it (a fleet host) gets it while the rest still arrive, and the
link is as full; unthrottled on a fast link it costs about a third, hence not for every
download. A server that ignores `Range` gets the large files that remain at once, as one
stream each.
"""

import errno
import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import attrs
import httpx2

from devon_adapters.transfer.connection_count import HostMemory
from devon_adapters.transfer.connection_slots import PROCESS_SLOTS
from devon_adapters.transfer.file_server import FileServer, MirroredFileServer, sentence_start
from devon_adapters.transfer.live_connections import LiveConnections
from devon_adapters.transfer.one_file import HASH_BLOCK, DamagedFile, OneFile, PastListedSize
from devon_adapters.transfer.progress import ProgressTracker
from devon_adapters.transfer.ranged_fetch import RangedFetch, RangesIgnored
from devon_adapters.transfer.retrying import REPORT_AFTER_S, DownloadOptions, Stopped
from devon_adapters.transfer.staging_layout import FileJob
from devon_core.errors import DevonError, DownloadCancelled, DownloadFailed
from devon_core.models import RemoteFile, RemoteModel
from devon_core.ports import ProgressCallback, StopSignal
from devon_core.rules import not_enough_disk

__all__ = ["DownloadOptions", "Downloader", "FileServer"]

log = logging.getLogger("devon.download")

_Parts = tuple[
    FileServer,
    DownloadOptions,
    RemoteModel,
    FileJob,
    ProgressTracker,
    threading.Event,
    LiveConnections,
    object,
]

REPORT_EVERY = 1024 * 1024
WATCH_EVERY_S = 0.1
"""How often a download's watch looks at its stop signal and its connections."""
TAIL_SHARE = 0.125
"""A large file's successor starts once no more than this share of it is still to come."""
LANE_LOOK_S = 0.05
"""How often the lane of large files looks how far the current one has come."""
TICK_EVERY_S = 1.0
"""The progress callback hears at least this often, bytes or not (a speed of 0 shows)."""


class Downloader:
    """Downloads files of one model revision from `server` into a directory with a bounded
    thread pool."""

    def __init__(self, server: FileServer, options: DownloadOptions) -> None:
        self._server = server
        self._options = options
        self._memory = HostMemory()
        """The connection count each host settled at, for the files that follow."""
        self._failures: tuple[type[Exception], ...] = (
            *server.http_errors,
            httpx2.HTTPError,
            ConnectionError,
            TimeoutError,
        )
        """What ends a file's transfer as the server's `download_error`."""

    def download(
        self,
        model: RemoteModel,
        files: Sequence[RemoteFile],
        dest: str,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> list[str]:
        """The `ModelSource.download` of a source served by this downloader's server."""
        root = Path(dest)
        unique = list({f.path: f for f in files}.values())
        jobs = [FileJob.plan(root, f) for f in unique]
        tracker = ProgressTracker(sum(f.size_bytes for f in unique), progress, len(unique))
        todo = []
        for job in jobs:
            if job.is_complete(model.revision):
                tracker.reached(job.file.path, job.file.size_bytes, quietly=True)
                tracker.file_done(job.file.path, quietly=True)
            else:
                _discard_stale_partial(model, job)
                tracker.reached(job.file.path, job.kept_bytes(model.revision), quietly=True)
                todo.append(job)
        tracker.report()
        todo.sort(key=lambda j: -j.file.size_bytes)
        self._run(model, todo, tracker, stop)
        return [f.path for f in unique]

    def _run(
        self,
        model: RemoteModel,
        jobs: list[FileJob],
        tracker: ProgressTracker,
        asked_to_stop: StopSignal | None,
    ) -> None:
        if not jobs:
            return
        stop = threading.Event()
        live = LiveConnections(self._options.clock, self._options.stall_timeout)
        watch = _Watch(stop, asked_to_stop, live, tracker)
        group = object()  # this download's share of the process's connections
        in_turn = self._options.large_files_in_turn
        large = [job for job in jobs if in_turn and self._ranged(job)]
        small = [job for job in jobs if job not in large]
        workers = max(1, min(self._options.max_workers, len(jobs)))
        pool = ThreadPoolExecutor(workers, thread_name_prefix="devon-download")
        # The large files' own threads (the lane and the two files it overlaps), so that
        # they never queue behind the small ones.
        lane_pool = ThreadPoolExecutor(3, thread_name_prefix="devon-download-lane")
        futures: list[Future[Any]] = []
        submitting = threading.Lock()
        # In turn, a large file starts with the connections all of them would have had at
        # once (a host's settled count wins once there is one, ADR 0225).
        options = self._options
        lane_options = attrs.evolve(
            options,
            connections_per_file=min(
                options.connections_per_file * max(len(large), 1),
                max(options.max_connections_per_file, options.connections_per_file),
            ),
        )

        def submit(job: FileJob, *, in_lane: bool = False) -> "Future[bool] | None":
            with submitting:
                if stop.is_set():  # the pools are shutting down: the file never starts
                    return None
                chosen = (lane_pool, lane_options) if in_lane else (pool, options)
                future = chosen[0].submit(
                    self._fetch, model, job, tracker, stop, live, group, chosen[1]
                )
                futures.append(future)
                return future

        if large:
            futures.append(lane_pool.submit(self._in_turn, large, submit, tracker, stop))
        for job in small:
            submit(job)
        watch.start()
        try:
            _wait_for_all(futures)
        finally:
            # On a failure, a stop asked for, or a KeyboardInterrupt in this thread: every
            # open connection is closed at once (their bytes stay for a resume), files not
            # started never start.
            with submitting:
                stop.set()
            live.close_all()
            for future in futures:
                future.cancel()
            pool.shutdown(wait=True)
            lane_pool.shutdown(wait=True)
            watch.end()
        watch.raise_if_stopped(model.model_id)
        _raise_first_failure(futures)

    def _ranged(self, job: FileJob) -> bool:
        """Whether `job` is fetched as concurrent ranges (when the server answers them)."""
        options = self._options
        return options.connections_per_file > 1 and job.file.size_bytes > options.split_threshold

    @staticmethod
    def _in_turn(
        jobs: list[FileJob],
        submit: "Callable[..., Future[bool] | None]",
        tracker: ProgressTracker,
        stop: threading.Event,
    ) -> None:
        """Start the large files one after another: each once the one before has no more
        than TAIL_SHARE of its bytes still to come, or has ended (its last pieces' connections
        then go to the next: no tail where the link idles). Once the server answered one
        without ranges (one stream), the rest start at once."""
        previous: tuple[FileJob, Future[bool]] | None = None
        for index, job in enumerate(jobs):
            while previous is not None and not previous[1].done():
                before, _ = previous
                left = before.file.size_bytes - tracker.arrived(before.file.path)
                if left <= TAIL_SHARE * before.file.size_bytes:
                    break
                if stop.wait(LANE_LOOK_S):
                    raise Stopped
            if previous is not None and _answered_whole(previous[1]):
                for rest in jobs[index:]:
                    submit(rest)
                return
            started = submit(job, in_lane=True)
            if started is None:
                raise Stopped
            previous = (job, started)

    def _fetch(
        self,
        model: RemoteModel,
        job: FileJob,
        tracker: ProgressTracker,
        stop: threading.Event,
        live: LiveConnections,
        group: object,
        options: DownloadOptions | None = None,
    ) -> bool:
        """Fetch one file; False when the server ignored `Range` (it came as one stream)."""
        chosen = options or self._options
        parts: _Parts = (self._server, chosen, model, job, tracker, stop, live, group)
        try:
            try:
                if job.file.sha256 is None and isinstance(self._server, MirroredFileServer):
                    # No hash to check a mirror's (a peer's) bytes against: the origin's.
                    url = self._server.file_url(model.model_id, job.file.path, model.revision)
                    with self._server.from_origin(url):
                        return self._fetch_one(parts)
                return self._fetch_one(parts)
            except DamagedFile as damaged:
                if not isinstance(self._server, MirroredFileServer):
                    raise
                # Bytes from a mirror (a peer) were wrong: refused, then the origin's.
                url = self._server.file_url(model.model_id, job.file.path, model.revision)
                log.warning("%s; fetching it again from %s alone", damaged, self._server.name)
                with self._server.from_origin(url):
                    _FileFetch(*parts).run()
                return True
        except (DevonError, Stopped):
            raise
        except self._failures as error:
            raise self._server.download_error(error, model.model_id) from error
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                # The disk filled up after the room check (another program wrote to it):
                # the bytes staged so far stay for a resume once space is freed.
                free = shutil.disk_usage(job.partial.parent).free
                raise not_enough_disk(tracker.total - tracker.done, free) from error
            raise DownloadFailed(
                f"Could not write {job.file.path} of {model.model_id} into staging: {error}"
            ) from error

    def _fetch_one(self, parts: "_Parts") -> bool:
        """One file, as concurrent ranges when it is large (`parts`: what `OneFile` takes);
        False when the server ignored `Range`."""
        model, job, tracker = parts[2], parts[3], parts[4]
        answered = True
        if self._ranged(job):
            try:
                RangedFetch(*parts, memory=self._memory).run()
                tracker.file_done(job.file.path)
                return True
            except RangesIgnored:
                job.discard_partial()  # its ranges mean nothing to a server without ranges
                answered = False
        else:
            job.as_stream_partial(model.revision)  # a ranged `.part` of an earlier attempt
        _FileFetch(*parts).run()
        return answered


def _discard_stale_partial(model: RemoteModel, job: FileJob) -> None:
    try:
        job.discard_stale_partial(model.revision)
    except OSError as error:
        raise DownloadFailed(
            f"Could not discard stale bytes of {job.file.path} of {model.model_id} "
            f"from staging: {error}"
        ) from error


def _answered_whole(fetched: "Future[bool]") -> bool:
    """Whether a large file ended fetched as one stream (its server ignores `Range`)."""
    return fetched.done() and fetched.exception() is None and fetched.result() is False


def _wait_for_all(futures: list[Future[Any]]) -> None:
    """Until every future is done (also those added meanwhile: the files the lane of large
    files hands to the pool) or one failed."""
    while True:
        pending = [f for f in list(futures) if not f.done()]
        if not pending:
            return
        finished, _ = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in finished if not f.cancelled()):
            return


def _raise_first_failure(futures: list[Future[Any]]) -> None:
    for future in futures:
        error = None if future.cancelled() else future.exception()
        if error is not None and not isinstance(error, Stopped):
            raise error


@attrs.define
class _FileFetch(OneFile):
    """One file: resume, stream, hash, check, move into place."""

    hasher: Any = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda self: hashlib.sha256() if self.wants_hash else None, takes_self=True
        ),
    )

    def run(self) -> None:
        job = self.job
        position = job.partial_size()  # stale bytes were discarded when the jobs were planned
        if position:
            self._hash_existing(position)
        else:
            job.start_partial(self.model.revision)
        try:
            with job.open_partial() as out:
                self._receive(out, position)
        except PastListedSize:
            job.discard_partial()  # a server that lies about the size: keep none of it
            raise
        self.refuse_if_damaged(self.hasher.hexdigest() if self.hasher is not None else None)
        job.complete(self.model.revision)
        self.tracker.file_done(job.file.path)

    def _hash_existing(self, length: int) -> None:
        if self.hasher is None:
            return
        with self.job.partial.open("rb") as existing:
            while block := existing.read(min(HASH_BLOCK, length)):
                self.hasher.update(block)
                length -= len(block)
                if length <= 0:
                    break

    def _receive(self, out: Any, position: int) -> None:
        """Stream until the file is whole, resuming with `Range` after a cut or a transient
        error (`Retrying`)."""
        expected = self.job.file.size_bytes
        if 0 < expected == position:
            return  # a previous attempt got every byte but stopped before the checks
        url = self.server.file_url(self.model.model_id, self.job.file.path, self.model.revision)
        self.retrying(self.stop.is_set, self.stop).until_whole(
            lambda: self._stream(out, url, out.tell()),
            lambda: self._written(out),
            expected,
            lambda reached: (
                f"{sentence_start(self.server.name)} kept ending the transfer of "
                f"{self.job.file.path} early ({reached} of {expected} bytes); "
                "run the download again to resume"
            ),
        )

    def _written(self, out: Any) -> int:
        """Bytes in the `.part` (never more than the listing's size: `_stream_from`)."""
        return int(out.tell())

    def _stream(self, out: Any, url: str, position: int) -> None:
        limit = self.options.max_connections
        with PROCESS_SLOTS.held(limit, self.stop.is_set, self.group) as got:
            if not got:
                raise Stopped
            self._stream_from(out, url, position)

    def _stream_from(self, out: Any, url: str, position: int) -> None:
        with (
            self.open_file(url, position) as response,
            self.live.watching(response) as connection,
        ):
            if position and response.status_code != 206:
                position = self._restart(out)
            reported, reported_at = position, time.monotonic()
            self.refuse_long_answer(response, position)
            for chunk in response.iter_bytes(self.options.chunk_size):
                if self.stop.is_set():
                    raise Stopped
                self.refuse_past_size(position, len(chunk))
                connection.delivered(self.options.clock())
                out.write(chunk)
                if self.hasher is not None:
                    self.hasher.update(chunk)
                position += len(chunk)
                if (
                    position - reported >= REPORT_EVERY
                    or time.monotonic() - reported_at >= REPORT_AFTER_S
                ):
                    self.tracker.reached(self.job.file.path, position)
                    reported, reported_at = position, time.monotonic()
            out.flush()
            self.tracker.reached(self.job.file.path, position)

    def _restart(self, out: Any) -> int:
        """The server sent the whole file instead of the range asked for: start over."""
        out.seek(0)
        out.truncate()
        if self.hasher is not None:
            self.hasher = hashlib.sha256()
        return 0


class _Watch:
    """A download's watch, a thread of its own: once the stop asked for is set, it stops the
    download and closes every open connection (a read blocked on a stalled one included)
    within WATCH_EVERY_S; it closes connections that stalled; and it reports progress at
    least every TICK_EVERY_S, so that a callback hears (and may stop the download) while
    nothing arrives."""

    def __init__(
        self,
        stop: threading.Event,
        asked: StopSignal | None,
        live: LiveConnections,
        tracker: ProgressTracker,
    ) -> None:
        self._stop = stop
        self._asked = asked
        self._live = live
        self._tracker = tracker
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._run, name="devon-download-watch", daemon=True)
        self.failure: BaseException | None = None
        """What the progress callback raised when the watch reported (a cancel)."""

    def start(self) -> None:
        self._thread.start()

    def end(self) -> None:
        self._ended.set()
        self._thread.join()

    def _run(self) -> None:
        ticked = time.monotonic()
        while not self._ended.wait(WATCH_EVERY_S):
            if self._asked is not None and self._asked.is_set():
                self._stop.set()
            if self._stop.is_set():
                self._live.close_all()
                continue
            self._live.drop_stalled()
            if time.monotonic() - ticked >= TICK_EVERY_S:
                ticked = time.monotonic()
                try:
                    self._tracker.report()
                except BaseException as error:  # the callback stops the download
                    self.failure = error
                    self._stop.set()

    def raise_if_stopped(self, model_id: str) -> None:
        """What stopped the download from outside, if anything did (it wins over what the
        transfers ended with: their connections were closed under them)."""
        if self._asked is not None and self._asked.is_set():
            raise DownloadCancelled(f"The download of {model_id} was stopped")
        if self.failure is not None:
            raise self.failure
