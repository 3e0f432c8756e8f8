"""One large file fetched as concurrent `Range` requests (ADR 0120, ADR 0225).

The missing bytes are cut into pieces (`byte_ranges.piece_size`: about eight per
connection, 1 to 64 MiB). Each connection (a worker thread holding one of the process's
connection slots) asks `WorkPlan` for bytes: the lowest piece not yet handed out, or half
(by rate) of what a much slower connection or the one that would finish last has left:
work stealing, so that a slow connection never holds up the end of the file. It asks for
exactly those bytes and writes them where they belong in a `.part` of the file's full size
(`os.pwrite`), a block of up to 1 MiB at a time read straight from the socket where the
answer allows it (`body_blocks`, ADR 0298), claiming each block first: bytes past its
(possibly stolen) end are dropped. The number of connections grows while that adds
throughput (`connection_count`); when a growth added nothing, the connections it added
leave between two requests, giving back what they had left. A connection that delivers
nothing for `stall_timeout` seconds is closed by the download's watch (`live_connections`)
and what it had left goes back to the plan; what it wrote stays. Each landed span is added
to the `.part`'s record (rewritten atomically after every 1/128 of the file, at least 256
KiB, and every second), so that after a kill or a cut the next attempt asks only for what
is missing. A request that fails is retried from the byte
it got to, with the same backoff as a whole file; the first that gives up stops the others.

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
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx2

from devon_adapters.transfer.body_blocks import BodyBlocks
from devon_adapters.transfer.byte_ranges import (
    Span,
    SpanSet,
    missing,
    parse_content_range,
    piece_size,
    split,
)
from devon_adapters.transfer.connection_count import Growth, HostMemory
from devon_adapters.transfer.connection_slots import PROCESS_SLOTS
from devon_adapters.transfer.file_server import sentence_start
from devon_adapters.transfer.live_connections import Connection
from devon_adapters.transfer.one_file import HASH_BLOCK, OneFile
from devon_adapters.transfer.retrying import REPORT_AFTER_S, Stopped
from devon_adapters.transfer.staging_layout import FileJob
from devon_adapters.transfer.work_plan import SMALLEST_STEAL, Assignment, WorkPlan
from devon_core.errors import DownloadFailed

TELL_EVERY = 256 * 1024
"""Each connection read through httpx2 adds what it wrote to the span record and the
progress this often (and at least every REPORT_AFTER_S); one read straight from its socket
adds each block (`body_blocks`: up to 1 MiB, or what came within HAND_AFTER_S)."""
HAND_AFTER_S = REPORT_AFTER_S / 2
"""A block of the body is written and claimed at least this often while bytes arrive."""
RECORD_EVERY_S = 1.0
LOOK_AGAIN_S = 0.1


class RangesIgnored(Exception):
    """The server answered a `Range` request with the whole file (200)."""


class _Crowded(Exception):
    """Another download is owed this connection's slot: give the rest back."""


class _Surplus(Exception):
    """The file went back to fewer connections (a growth that added nothing): this one
    gives the rest back and leaves."""


class _Dropped(Exception):
    """The connection delivered nothing for too long and was closed: give the rest back."""


@attrs.frozen
class _Work:
    """What every connection of one file shares."""

    fd: int
    plan: WorkPlan
    landed: "_Landed"
    growth: Growth
    pool: ThreadPoolExecutor


class _Landed:
    """The spans of the `.part` on disk: added to by the workers, followed by the hasher,
    written to the `.part`'s record now and then (and at the end, whatever happens).

    The record is written outside the lock the workers add under (one writer at a time,
    each writing the spans as they are when it starts): a worker never waits on the disk
    to tell what it wrote. Profiled on 512 MiB, workers spent most of their time waiting
    for that lock while one of them wrote the record."""

    def __init__(self, job: FileJob, revision: str | None, spans: list[Span]) -> None:
        self._job = job
        self._revision = revision
        self._set = SpanSet(spans)
        self._changed = threading.Condition()
        self._writing = threading.Lock()
        self._unrecorded = 0
        self._recorded_at = time.monotonic()
        self._record_every = max(TELL_EVERY, job.file.size_bytes // 128)
        self._wake_at = 0

    def add(self, start: int, end: int) -> None:
        with self._changed:
            self._set.add(start, end)
            self._unrecorded += end - start
            now = time.monotonic()
            due = (
                self._unrecorded >= self._record_every or now - self._recorded_at >= RECORD_EVERY_S
            )
            if self._set.prefix() >= self._wake_at:
                self._changed.notify_all()
        if due and self._writing.acquire(blocking=False):  # else another worker writes it
            try:
                self._record()
            finally:
                self._writing.release()

    def record(self) -> None:
        with self._writing:
            self._record()

    def _record(self) -> None:
        """Write the spans on disk now (the caller holds `_writing`)."""
        with self._changed:
            spans = self._set.spans
            self._unrecorded, self._recorded_at = 0, time.monotonic()
        self._job.write_spans(self._revision, spans)

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


@attrs.define
class RangedFetch(OneFile):
    """One file: plan the missing pieces, fetch them concurrently, hash, check, move."""

    memory: HostMemory = attrs.field(kw_only=True, factory=HostMemory)
    """The connection count each host settled at (the downloader's)."""
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
    _workers: list[Future[None]] = attrs.field(init=False, factory=list)
    _workers_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _at_work: int = attrs.field(init=False, default=0)
    """Workers that have not left (`_workers` also holds those that did)."""

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
        host = urlsplit(self.url).netloc
        options = self.options
        growth = Growth(
            self.memory.get(host, options.connections_per_file),
            max(options.max_connections_per_file, options.connections_per_file),
            options.clock,
            lambda count: self.memory.keep(host, count),
        )
        size = piece_size(self.size, growth.count, options.smallest_piece)
        pieces = split(missing(spans, self.size), size)
        plan = WorkPlan(pieces, min(options.smallest_piece, SMALLEST_STEAL), options.clock)
        fd = os.open(self.job.partial, os.O_RDWR)
        try:
            digest = self._transfer(fd, plan, landed, growth)
        except BaseException:
            if not landed.holds_any():  # a full-size `.part` of nothing: no room kept for it
                self.job.discard_partial()
            raise
        finally:
            os.close(fd)
        self.refuse_if_damaged(digest)
        self.job.complete(revision)

    def _transfer(self, fd: int, plan: WorkPlan, landed: _Landed, growth: Growth) -> str | None:
        ceiling = max(self.options.max_connections_per_file, growth.count)
        pool = ThreadPoolExecutor(ceiling + 1, thread_name_prefix="devon-range")
        hashing = pool.submit(self._hash, fd, landed) if self.wants_hash else None
        work = _Work(fd, plan, landed, growth, pool)
        try:
            self._grow(work, growth.count)
            failed = self._wait_for_workers()
            if failed:
                self.halt.set()
            if hashing is not None:
                wait([hashing])
        finally:
            if not all(f.done() for f in self._all_workers()):
                self.halt.set()
            landed.wake()
            pool.shutdown(wait=True)
            landed.record()
        _raise_first_failure([*self._all_workers(), *([hashing] if hashing else [])])
        return hashing.result() if hashing is not None else None

    def _all_workers(self) -> list[Future[None]]:
        with self._workers_lock:
            return list(self._workers)

    def _grow(self, work: "_Work", count: int) -> None:
        """Start workers until `count` were started (one that left counts: a file that went
        back to fewer connections never grows again)."""
        with self._workers_lock:
            while len(self._workers) < count and not self.halted():
                self._at_work += 1
                self._workers.append(work.pool.submit(self._work, work))

    def _one_too_many(self, work: "_Work") -> bool:
        """Whether this worker is one more than the file's connection count (then it is
        counted out at once: it leaves)."""
        if self._at_work <= work.growth.count:  # read without the lock: the common case
            return False
        with self._workers_lock:
            if self._at_work <= work.growth.count:
                return False
            self._at_work -= 1
            return True

    def _wait_for_workers(self) -> bool:
        """Wait until every worker (also those started meanwhile) ended; True when one
        failed first."""
        while True:
            pending = [f for f in self._all_workers() if not f.done()]
            if not pending:
                return False
            finished, _ = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in finished):
                return True

    # ---- fetching ---------------------------------------------------------------------

    def _work(self, work: "_Work") -> None:
        """One connection: hold a slot and fetch what the plan hands out, giving the slot
        back (and coming again) when another download is owed it. While nothing is worth
        taking but other connections are still at work, it looks again every LOOK_AGAIN_S
        without a slot: one of them may turn out slow enough to steal from."""
        limit = self.options.max_connections
        try:
            while not work.plan.finished() and not self.halted():
                with PROCESS_SLOTS.held(limit, self.halted, self.group) as got:
                    if not got:
                        raise Stopped
                    ended = self._fetch_while_not_crowded(work)
                if ended is _Surplus:
                    return
                if ended is None:
                    self.halt.wait(LOOK_AGAIN_S)
        except BaseException:
            self.halt.set()
            work.landed.wake()
            raise

    def _fetch_while_not_crowded(self, work: "_Work") -> type[Exception] | None:
        """Fetch assignments until there is no more work (None), this download holds more
        than its share of the slots while another waits (`_Crowded`), or this worker is one
        too many for the file's connection count (`_Surplus`)."""
        while not self._one_too_many(work):
            assignment = work.plan.take()
            if assignment is None:
                return None
            try:
                self._fetch(assignment, work)
            except (_Crowded, _Surplus) as ended:
                work.plan.give_back(assignment)
                return type(ended)
            except _Dropped:
                work.plan.give_back(assignment)
                continue
            work.plan.finish(assignment)
        return _Surplus

    def _fetch(self, assignment: Assignment, work: "_Work") -> None:
        """Fetch `assignment` until whole (its end may move down meanwhile), a request of
        about a second's worth at a time (`WorkPlan.next_request`), each resumed from the
        byte reached after a cut or a transient error (`Retrying`)."""
        retrying = self.retrying(self.halted, self.halt)
        while assignment.cursor < assignment.end:
            if self._one_too_many(work):
                raise _Surplus  # between two requests: nothing in flight is dropped
            work.plan.next_request(assignment)
            retrying.until_whole(
                lambda: self._stream(assignment, work),
                lambda: assignment.cursor,
                lambda: min(assignment.asked_to, assignment.end),
                lambda reached: (
                    f"{sentence_start(self.server.name)} kept ending bytes {reached}-"
                    f"{assignment.end - 1} of {self.job.file.path} early; run the download "
                    "again to resume"
                ),
            )

    def _stream(self, assignment: Assignment, work: "_Work") -> None:
        span = (assignment.cursor, min(assignment.asked_to, assignment.end))
        if span[0] >= span[1]:
            return
        with self.open_file(self.url, span[0], end=span[1]) as response:
            self._check_answer(response, span)
            with self.live.watching(response) as connection:
                assignment.on_emptied = connection.abort
                try:
                    self._write_body(response, span, assignment, connection, work)
                except Exception:
                    if connection.stalled and not self.halted():
                        raise _Dropped from None
                    raise
                finally:
                    assignment.on_emptied = None

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
        self,
        response: httpx2.Response,
        span: Span,
        assignment: Assignment,
        connection: Connection,
        work: "_Work",
    ) -> None:
        """Write the answer's bytes in place, each block claimed from the plan first (what
        was stolen meanwhile is dropped, and the answer left once nothing is ours); tell
        `landed` and the progress of every block read straight from the socket (a full one,
        or what came within HAND_AFTER_S), of httpx2's chunks every TELL_EVERY bytes or
        REPORT_AFTER_S, and about the rest however the answer ends. An answer longer than
        the span asked is refused before its first byte past the span is written."""
        clock = self.options.clock
        told = assignment.cursor
        told_at = clock()
        received = span[0]
        options = self.options
        blocks = BodyBlocks(
            response, connection, clock, options.read_timeout, HAND_AFTER_S, options.chunk_size
        )
        try:
            for block in blocks:
                if self.halted():
                    raise Stopped
                received += len(block)
                if received > span[1]:
                    raise DownloadFailed(
                        f"{sentence_start(self.server.name)} sent more than bytes "
                        f"{span[0]}-{span[1] - 1} of {self.job.file.path}; nothing past them "
                        "was kept"
                    )
                position = assignment.cursor
                skip, mine = work.plan.claim(assignment, len(block))
                if skip:  # a hedge's bytes its partner wrote first: told by the partner
                    if position > told:
                        self._tell(work.landed, told, position)
                    told = position + skip
                if mine:
                    _write_at(work.fd, memoryview(block)[skip : skip + mine], position + skip)
                now = clock()
                grown = work.growth.landed(mine) if mine else None
                if grown is not None:
                    self._grow(work, grown)
                if (
                    blocks.straight
                    or assignment.cursor - told >= TELL_EVERY
                    or now - told_at >= REPORT_AFTER_S
                ):
                    start, told, told_at = told, assignment.cursor, now
                    self._tell(work.landed, start, told)
                if assignment.cursor >= min(assignment.asked_to, assignment.end):
                    return  # ours is whole (the rest of the answer, if any, was stolen)
                if PROCESS_SLOTS.crowded(self.group, self.options.max_connections):
                    raise _Crowded
        finally:
            blocks.close()  # its buffer is free again
            if assignment.cursor > told:
                self._tell(work.landed, told, assignment.cursor)

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


def _write_at(fd: int, data: bytes | memoryview, position: int) -> None:
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
