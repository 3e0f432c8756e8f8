"""One large file fetched as concurrent `Range` requests (ADR 0120).

The file is cut into pieces (`byte_ranges.piece_size`: about eight per connection, 1 to 64
MiB); `connections_per_file` workers take the lowest piece not yet taken, ask for exactly
its bytes and write them where they belong in a `.part` of the file's full size
(`os.pwrite`). Each landed span is added to the `.part`'s record (rewritten atomically
after every 1/128 of the file, at least 256 KiB, and every second), so that after a kill
or a cut the next attempt asks only for what is missing. A piece that fails is retried
alone, from the byte it got to, with the same backoff as a whole file; the first piece
that gives up stops the others.

Verification: a thread of its own follows the contiguous prefix (what is on disk from byte
0 on without a gap) and hashes it as it grows, reading each block right behind the writers
(from the page cache, a bounded window away). The transfer never waits for the hash; when
the last piece lands the hash is at most a few pieces behind.

Answers are checked before a byte is written: a `200` to a `Range` (the server ignores
ranges) raises `RangesIgnored` so that the caller fetches the file as one stream; a `206`
whose `Content-Range` is not the span asked for is an error.
"""

import hashlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any

import attrs
import httpx2

from devon_adapters.transfer.byte_ranges import (
    Span,
    SpanSet,
    missing,
    parse_content_range,
    piece_size,
    split,
)
from devon_adapters.transfer.connection_slots import PROCESS_SLOTS
from devon_adapters.transfer.file_server import sentence_start
from devon_adapters.transfer.one_file import HASH_BLOCK, OneFile
from devon_adapters.transfer.retrying import REPORT_AFTER_S, Stopped
from devon_adapters.transfer.staging_layout import FileJob
from devon_core.errors import DownloadFailed

TELL_EVERY = 256 * 1024
"""Each connection adds what it wrote to the span record and the progress this often (and
at least every REPORT_AFTER_S)."""
RECORD_EVERY_S = 1.0


class RangesIgnored(Exception):
    """The server answered a `Range` request with the whole file (200)."""


class _Landed:
    """The spans of the `.part` on disk: added to by the workers, followed by the hasher,
    written to the `.part`'s record now and then (and at the end, whatever happens)."""

    def __init__(self, job: FileJob, revision: str | None, spans: list[Span]) -> None:
        self._job = job
        self._revision = revision
        self._set = SpanSet(spans)
        self._changed = threading.Condition()
        self._unrecorded = 0
        self._recorded_at = time.monotonic()
        self._record_every = max(TELL_EVERY, job.file.size_bytes // 128)
        self._wake_at = 0

    def add(self, start: int, end: int) -> None:
        with self._changed:
            self._set.add(start, end)
            self._unrecorded += end - start
            now = time.monotonic()
            if self._unrecorded >= self._record_every or now - self._recorded_at >= RECORD_EVERY_S:
                self._record(now)
            if self._set.prefix() >= self._wake_at:
                self._changed.notify_all()

    def record(self) -> None:
        with self._changed:
            self._record(time.monotonic())

    def _record(self, now: float) -> None:
        self._job.write_spans(self._revision, self._set.spans)
        self._unrecorded, self._recorded_at = 0, now

    def prefix_beyond(self, position: int, halted: Callable[[], bool]) -> int:
        """The contiguous prefix, once it reaches a whole hash block past `position` or the
        end of the file (or after a short wait)."""
        with self._changed:
            self._wake_at = min(position + HASH_BLOCK, self._job.file.size_bytes)
            self._changed.wait_for(lambda: self._set.prefix() >= self._wake_at or halted(), 0.1)
            return self._set.prefix()

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def holds_any(self) -> bool:
        with self._changed:
            return self._set.covered() > 0


class _Pieces:
    """The pieces still to fetch, lowest first, shared by the workers."""

    def __init__(self, pieces: list[Span]) -> None:
        self._pieces = deque(pieces)
        self._lock = threading.Lock()

    def take(self) -> Span | None:
        with self._lock:
            return self._pieces.popleft() if self._pieces else None


@attrs.define
class RangedFetch(OneFile):
    """One file: plan the missing pieces, fetch them concurrently, hash, check, move."""

    halt: threading.Event = attrs.field(init=False, factory=threading.Event)
    """This file's stop (`stop` is the whole download's)."""
    url: str = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda self: self.server.file_url(
                self.model.model_id, self.job.file.path, self.model.revision
            ),
            takes_self=True,
        ),
    )

    @property
    def size(self) -> int:
        return self.job.file.size_bytes

    def halted(self) -> bool:
        return self.halt.is_set() or self.stop.is_set()

    def run(self) -> None:
        revision = self.model.revision
        spans = self.job.ranged_spans(revision)
        if spans is None:  # a plain prefix kept by an earlier one-stream attempt, or nothing
            kept = self.job.partial_size()
            spans = [(0, kept)] if kept else []
            self.job.start_ranged_partial(revision, spans)
        landed = _Landed(self.job, revision, spans)
        size = piece_size(self.size, self.options.connections_per_file, self.options.smallest_piece)
        pieces = split(missing(spans, self.size), size)
        fd = os.open(self.job.partial, os.O_RDWR)
        try:
            digest = self._transfer(fd, pieces, landed)
        except BaseException:
            if not landed.holds_any():  # a full-size `.part` of nothing: no room kept for it
                self.job.discard_partial()
            raise
        finally:
            os.close(fd)
        self.refuse_if_damaged(digest)
        self.job.complete(revision)

    def _transfer(self, fd: int, pieces: list[Span], landed: _Landed) -> str | None:
        queue = _Pieces(pieces)
        workers = max(1, min(self.options.connections_per_file, len(pieces)))
        threads = workers + (1 if self.wants_hash else 0)
        pool = ThreadPoolExecutor(threads, thread_name_prefix="devon-range")
        fetches = [pool.submit(self._work, fd, queue, landed) for _ in range(workers)]
        hashing = pool.submit(self._hash, fd, landed) if self.wants_hash else None
        try:
            finished, _ = wait(fetches, return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in finished):
                self.halt.set()
            if hashing is not None:
                wait([hashing])
        finally:
            if not all(f.done() for f in fetches):
                self.halt.set()
            landed.wake()
            pool.shutdown(wait=True)
            landed.record()
        _raise_first_failure([*fetches, *([hashing] if hashing else [])])
        return hashing.result() if hashing is not None else None

    # ---- fetching pieces --------------------------------------------------------------

    def _work(self, fd: int, queue: _Pieces, landed: _Landed) -> None:
        try:
            while (piece := queue.take()) is not None:
                self._fetch_piece(fd, piece, landed)
        except BaseException:
            self.halt.set()
            landed.wake()
            raise

    def _fetch_piece(self, fd: int, piece: Span, landed: _Landed) -> None:
        """Fetch `piece` until whole, resuming from the byte reached after a cut or a
        transient error (`Retrying`)."""
        cursor = [piece[0]]
        end = piece[1]
        self.retrying(self.halted, self.halt).until_whole(
            lambda: self._stream_piece(fd, (cursor[0], end), cursor, landed),
            lambda: cursor[0],
            end,
            lambda reached: (
                f"{sentence_start(self.server.name)} kept ending bytes {reached}-{end - 1} of "
                f"{self.job.file.path} early; run the download again to resume"
            ),
        )

    def _stream_piece(self, fd: int, span: Span, cursor: list[int], landed: _Landed) -> None:
        limit = self.options.max_connections
        with PROCESS_SLOTS.held(limit, self.halted) as got:
            if not got:
                raise Stopped
            with self.server.open_file(
                self.url, span[0], self.options.read_timeout, end=span[1]
            ) as response:
                self._check_answer(response, span)
                self._write_body(fd, response, span, cursor, landed)

    def _check_answer(self, response: httpx2.Response, span: Span) -> None:
        start, end = span
        if response.status_code == 200:
            if span == (0, self.size):
                self.refuse_long_answer(response, 0)
                return  # asked for everything: a whole-file answer is the answer
            raise RangesIgnored
        answered = parse_content_range(response.headers.get("Content-Range"))
        length = response.headers.get("Content-Length")
        if (
            response.status_code != 206
            or answered != (start, end, self.size)
            or (length is not None and length != str(end - start))
        ):
            name = self.server.name
            raise DownloadFailed(
                f"{sentence_start(name)} answered bytes {start}-{end - 1} of "
                f"{self.job.file.path} of {self.model.model_id} with HTTP {response.status_code} "
                "and Content-Range "
                f"{response.headers.get('Content-Range')!r}, which is not what was asked "
                f"(of a {self.size}-byte file); nothing of that answer was kept. Run the "
                f"download again; if it keeps happening, a proxy between here and {name} "
                "mangles range requests"
            )

    def _write_body(
        self, fd: int, response: httpx2.Response, span: Span, cursor: list[int], landed: _Landed
    ) -> None:
        """Write the answer's bytes in place; tell `landed` and the progress every TELL_EVERY
        bytes (and about the rest however the answer ends)."""
        end = span[1]
        told, told_at = cursor[0], time.monotonic()
        try:
            for chunk in response.iter_bytes(self.options.chunk_size):
                if self.halted():
                    raise Stopped
                position = cursor[0]
                if position + len(chunk) > end:
                    raise DownloadFailed(
                        f"{sentence_start(self.server.name)} sent more than bytes "
                        f"{span[0]}-{end - 1} of {self.job.file.path}; nothing past them was kept"
                    )
                _write_at(fd, chunk, position)
                cursor[0] = position + len(chunk)
                now = time.monotonic()
                if cursor[0] - told >= TELL_EVERY or now - told_at >= REPORT_AFTER_S:
                    start, told, told_at = told, cursor[0], now
                    self._tell(landed, start, told)
        finally:
            if cursor[0] > told:
                self._tell(landed, told, cursor[0])

    def _tell(self, landed: _Landed, start: int, end: int) -> None:
        landed.add(start, end)
        self.tracker.add(self.job.file.path, end - start)

    # ---- hashing the contiguous prefix -------------------------------------------------

    def _hash(self, fd: int, landed: _Landed) -> str | None:
        """sha256 of the file, following the contiguous prefix as it grows; None when the
        transfer stopped before the end."""
        hasher: Any = hashlib.sha256()
        buffer = bytearray(min(HASH_BLOCK, max(self.size, 1)))
        view = memoryview(buffer)
        position = 0
        while position < self.size:
            prefix = landed.prefix_beyond(position, self.halted)
            if prefix <= position:
                if self.halted():
                    return None
                continue
            while position < prefix:
                count = os.preadv(fd, [view[: min(len(buffer), prefix - position)]], position)
                if count <= 0:
                    raise DownloadFailed(f"{self.job.partial} is shorter than it should be")
                hasher.update(view[:count])
                position += count
        return str(hasher.hexdigest())


def _write_at(fd: int, data: bytes, position: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, position)
        view, position = view[written:], position + written


def _raise_first_failure(futures: list[Future[Any]]) -> None:
    """The first real failure (a range's, else the hasher's); `Stopped` only when nothing
    else went wrong (the whole download was stopped from outside)."""
    errors = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
    for error in errors:
        if isinstance(error, RangesIgnored):
            raise error
    for error in errors:
        if error is not None and not isinstance(error, Stopped):
            raise error
    for error in errors:
        if error is not None:
            raise error
