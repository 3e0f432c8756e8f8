"""`IndexJobStore`: the `JobStore` port in the vault's index (table `jobs`), SQLite or
PostgreSQL: its SQL is written once, with `?` parameters (ADR 0183).

Every process on the vault (each `devon serve` worker, a script) reads and writes the same
rows, so any of them answers for any job. Decisions that must not race (join or enqueue,
claim under the concurrency limit, cancel versus commit) each run in one write transaction
of the index (writers take turns, across hosts on PostgreSQL); the rules they apply are the
core's (`devon_core.jobs`).
"""

import builtins
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import attrs

from devon_adapters.index.backends import VaultIndex
from devon_adapters.index.records import text_to_time, time_to_text
from devon_adapters.index.sqlite import IndexFull
from devon_core.errors import (
    Conflict,
    InsufficientStorage,
    NotFound,
    StoreUnavailable,
)
from devon_core.jobs import (
    DEFAULT_MAX_QUEUED,
    HISTORY_DAYS,
    HISTORY_KEEP,
    Enqueue,
    Job,
    JobProgress,
    JobRequest,
    JobStatus,
    Join,
    Widen,
    check_cancellable,
    ended,
    plan_submission,
    unknown_cursor,
)
from devon_core.results import DownloadResult

log = logging.getLogger("devon.jobs")

T = TypeVar("T")

UNWRITABLE = (StoreUnavailable, InsufficientStorage)
"""What the index raises when it cannot take a write now (database gone, disk full)."""
FLUSH_EVERY_S = 0.5
"""How often ends the index did not take are tried again (at most)."""

_COLUMNS = (
    "id, source, model_id, status, include_patterns, force, bytes_done, bytes_total, "
    "files_done, files_total, bytes_per_second, error, error_kind, created_at, started_at, "
    "completed_at, result"
)
# Queries are built only from the constants above; values always go in as parameters.
_SELECT = f"SELECT {_COLUMNS} FROM jobs"  # noqa: S608
_ACTIVE_SQL = "('queued', 'downloading')"
_FINISHED_SQL = "('completed', 'failed', 'cancelled')"


def _time(text: str | None) -> datetime | None:
    return text_to_time(text) if text else None


def _job(row: tuple[Any, ...]) -> Job:
    (
        job_id,
        source,
        model_id,
        status,
        patterns,
        force,
        bytes_done,
        bytes_total,
        files_done,
        files_total,
        speed,
        error,
        kind,
        created_at,
        started_at,
        completed_at,
        result,
    ) = row
    return Job(
        id=job_id,
        source=source,
        model_id=model_id,
        status=JobStatus(status),
        include_patterns=tuple(json.loads(patterns)) if patterns else None,
        force=bool(force),
        created_at=text_to_time(created_at),
        bytes_done=bytes_done,
        bytes_total=bytes_total,
        files_done=files_done,
        files_total=files_total,
        bytes_per_second=speed,
        error=error,
        started_at=_time(started_at),
        completed_at=_time(completed_at),
        result=_result(result),
        error_kind=kind,
    )


def _result(text: str | None) -> DownloadResult | None:
    if not text:
        return None
    data = json.loads(text)
    return DownloadResult(
        model_id=data["model_id"],
        source=data["source"],
        path=data["path"],
        files=tuple(data["files"]),
        size_bytes=data["size_bytes"],
    )


def _result_text(result: DownloadResult | None) -> str | None:
    if result is None:
        return None
    return json.dumps(
        {
            "model_id": result.model_id,
            "source": result.source,
            "path": result.path,
            "files": list(result.files),
            "size_bytes": result.size_bytes,
        }
    )


def _patterns_text(patterns: Sequence[str] | None) -> str | None:
    return json.dumps(list(patterns)) if patterns is not None else None


class IndexJobStore:
    """Download jobs in the vault's index. Safe to share between threads, processes and
    (on PostgreSQL) hosts."""

    def __init__(self, index: VaultIndex, *, max_queued: int | None = DEFAULT_MAX_QUEUED) -> None:
        self._index = index
        self.max_queued = max_queued
        """Queued jobs the vault accepts at once (None: any number)."""
        self._lock = threading.Lock()
        self._held: dict[str, Job] = {}
        """The jobs this process runs, as last recorded (what a job ended in memory starts
        from)."""
        self._unrecorded: dict[str, tuple[str, Job]] = {}
        """Jobs ended here whose end the index did not take yet: id -> (owner, job)."""
        self._next_flush = 0.0
        self._announce: Callable[[str, Job], None] | None = None

    def announce_unrecorded(self, announce: Callable[[str, Job], None]) -> None:
        """Call `announce(owner, job)` for each job this process ends and the index does
        not take: a download process tells its server (`keep_end` there)."""
        self._announce = announce

    def keep_end(self, owner: str, job: Job) -> None:
        """Hold the end of `job`, run by `owner` (here, or in a download process of this
        server that could not record it): shown by `get` and `list`, and recorded as soon
        as the index takes writes, by whichever process gets there first."""
        if job.finished:
            with self._lock:
                self._unrecorded[job.id] = (owner, job)

    # -- reads -------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        self._flush()
        kept = self._unrecorded.get(job_id)
        if kept is not None:
            return kept[1]
        row = self._index.reader().execute(_SELECT + " WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def list(
        self, status: JobStatus | None = None, *, limit: int | None = None, after: str | None = None
    ) -> "builtins.list[Job]":
        self._flush()
        db = self._index.reader()
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if after is not None:
            row = db.execute("SELECT seq FROM jobs WHERE id = ?", (after,)).fetchone()
            if row is None:
                raise NotFound(unknown_cursor(after))
            where.append("seq < ?")
            params.append(row[0])
        sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        jobs = [self._as_known(_job(row)) for row in db.execute(sql, tuple(params))]
        return [job for job in jobs if status is None or job.status is status]

    def _as_known(self, job: Job) -> Job:
        """`job` as this process knows it: ended, if it ended here unrecorded."""
        kept = self._unrecorded.get(job.id)
        return job if kept is None else kept[1]

    # -- creating ----------------------------------------------------------------------

    def submit(self, request: JobRequest, new_id: str, now: datetime) -> Job:
        self._flush()
        with self._index.write() as db:
            active = [
                job
                for row in db.execute(
                    _SELECT + f" WHERE source = ? AND model_id = ? AND status IN {_ACTIVE_SQL}"
                    " ORDER BY seq",
                    (request.source, request.model_id),
                )
                if not (job := self._as_known(_job(row))).finished
            ]
            queued = None
            if self.max_queued is not None:
                (queued,) = db.execute(
                    "SELECT COUNT(*) FROM jobs WHERE status = 'queued'"
                ).fetchone()
            match plan_submission(request, active, queued or 0, self.max_queued):
                case Join(job):
                    return job
                case Widen(job, patterns):
                    db.execute(
                        "UPDATE jobs SET include_patterns = ? WHERE id = ?",
                        (_patterns_text(patterns), job.id),
                    )
                    return _job(db.execute(_SELECT + " WHERE id = ?", (job.id,)).fetchone())
                case Enqueue():
                    job = Job(
                        id=new_id,
                        source=request.source,
                        model_id=request.model_id,
                        status=JobStatus.QUEUED,
                        include_patterns=request.include_patterns,
                        force=request.force,
                        created_at=now,
                    )
                    self._insert(db, job)
                    return job
        raise AssertionError("unreachable")  # pragma: no cover

    def add(self, job: Job) -> Job:
        with self._index.write() as db:
            self._insert(db, job)
        return job

    @staticmethod
    def _insert(db: Any, job: Job) -> None:
        db.execute(
            f"INSERT INTO jobs ({_COLUMNS}) VALUES "  # noqa: S608
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.id,
                job.source,
                job.model_id,
                job.status.value,
                _patterns_text(job.include_patterns),
                int(job.force),
                job.bytes_done,
                job.bytes_total,
                job.files_done,
                job.files_total,
                job.bytes_per_second,
                job.error,
                job.error_kind,
                time_to_text(job.created_at),
                time_to_text(job.started_at) if job.started_at else None,
                time_to_text(job.completed_at) if job.completed_at else None,
                _result_text(job.result),
            ),
        )

    # -- running -----------------------------------------------------------------------

    def claim(self, owner: str, limit: int, now: datetime) -> Job | None:
        self._flush()
        job = self._claim(owner, limit, now)
        if job is not None:
            with self._lock:
                self._held[job.id] = job
        return job

    def _claim(self, owner: str, limit: int, now: datetime) -> Job | None:
        queued = (
            self._index.reader()
            .execute("SELECT 1 FROM jobs WHERE status = 'queued' LIMIT 1")
            .fetchone()
        )
        if queued is None:  # the common case, answered without taking the write lock
            return None
        with self._index.write() as db:
            (running,) = db.execute(
                "SELECT COUNT(*) FROM jobs WHERE status = 'downloading'"
            ).fetchone()
            if running >= limit:
                return None
            row = db.execute(
                "SELECT id FROM jobs AS q WHERE status = 'queued' AND NOT EXISTS ("
                " SELECT 1 FROM jobs AS r WHERE r.status = 'downloading'"
                " AND r.source = q.source AND r.model_id = q.model_id)"
                " ORDER BY seq LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            stamp = time_to_text(now)
            db.execute(
                "UPDATE jobs SET status = 'downloading', owner = ?, heartbeat_at = ?,"
                " started_at = COALESCE(started_at, ?), committing = 0, bytes_per_second = NULL"
                " WHERE id = ?",
                (owner, stamp, stamp, row[0]),
            )
            return _job(db.execute(_SELECT + " WHERE id = ?", (row[0],)).fetchone())

    def record_progress(
        self, job_id: str, owner: str, progress: JobProgress, now: datetime
    ) -> bool:
        with self._index.write() as db:
            cursor = db.execute(
                "UPDATE jobs SET bytes_done = ?, bytes_total = ?, files_done = ?,"
                " files_total = ?, bytes_per_second = ?, heartbeat_at = ?"
                " WHERE id = ? AND owner = ? AND status = 'downloading'",
                (
                    progress.bytes_done,
                    progress.bytes_total,
                    progress.files_done,
                    progress.files_total,
                    progress.bytes_per_second,
                    time_to_text(now),
                    job_id,
                    owner,
                ),
            )
            recorded = bool(cursor.rowcount > 0)
        with self._lock:
            held = self._held.get(job_id)
            if recorded and held is not None:
                self._held[job_id] = attrs.evolve(held, **attrs.asdict(progress))
        return recorded

    def heartbeat(self, owner: str, job_ids: Sequence[str], now: datetime) -> "builtins.list[str]":
        self._flush()
        if not job_ids:
            return []
        marks = ", ".join("?" for _ in job_ids)
        with self._index.write() as db:
            db.execute(
                f"UPDATE jobs SET heartbeat_at = ? WHERE owner = ? AND status = 'downloading'"  # noqa: S608
                f" AND id IN ({marks})",
                (time_to_text(now), owner, *job_ids),
            )
            ours = {
                job_id
                for (job_id,) in db.execute(
                    f"SELECT id FROM jobs WHERE owner = ? AND status = 'downloading'"  # noqa: S608
                    f" AND id IN ({marks})",
                    (owner, *job_ids),
                )
            }
        return [job_id for job_id in job_ids if job_id not in ours]

    def begin_commit(self, job_id: str, owner: str) -> bool:
        with self._index.write() as db:
            cursor = db.execute(
                "UPDATE jobs SET committing = 1"
                " WHERE id = ? AND owner = ? AND status = 'downloading'",
                (job_id, owner),
            )
            return bool(cursor.rowcount > 0)

    def finish(
        self,
        job_id: str,
        owner: str,
        status: JobStatus,
        now: datetime,
        *,
        result: DownloadResult | None = None,
        error: str | None = None,
        error_kind: str | None = None,
    ) -> Job | None:
        """The job ended. When the index cannot take the end now (disk full, database
        gone), the job is ended in this process's memory: returned, shown by `get` and
        `list`, and recorded as soon as the index takes writes again (ADR 0205)."""
        with self._lock:
            held = self._held.pop(job_id, None)
        in_memory = None
        if held is not None:
            in_memory = ended(held, status, now, result=result, error=error, error_kind=error_kind)
        try:
            return self._ending(
                lambda db: _write_end(db, job_id, owner, status, now, result, error, error_kind)
            )
        except UNWRITABLE as problem:
            if in_memory is None:
                raise
            self.keep_end(owner, in_memory)
            if self._announce is not None:
                self._announce(owner, in_memory)
            log.warning(
                "Job %s ended (%s) but the index cannot record it yet (%s): it is recorded "
                "as soon as the index takes writes again",
                job_id,
                status.value,
                problem,
            )
            return in_memory

    def _ending(self, write: Callable[[Any], T]) -> T:
        """`write` in a write transaction. Ending a job may use the index's reserve: when
        the disk is full, the reserve is given back and the write tried a second time."""
        for attempt in (1, 2):
            try:
                with self._index.write() as db:
                    return write(db)
            except IndexFull as full:
                if attempt == 2 or full.reserve is None:
                    raise
                full.reserve.release()
        raise AssertionError("unreachable")  # pragma: no cover

    def _flush(self) -> None:
        """Record the ends the index did not take (at most every `FLUSH_EVERY_S`)."""
        if not self._unrecorded:
            return
        with self._lock:
            moment = time.monotonic()
            if moment < self._next_flush:
                return
            self._next_flush = moment + FLUSH_EVERY_S
            pending = list(self._unrecorded.items())
        for job_id, (owner, job) in pending:
            try:
                recorded = self._ending(partial(_end_again, owner=owner, job=job))
            except UNWRITABLE:
                return
            with self._lock:
                self._unrecorded.pop(job_id, None)
            if recorded is not None:  # else another process recorded it (or took it over)
                log.info("Recorded the end of job %s (%s)", job_id, job.status.value)

    def release(self, job_id: str, owner: str) -> None:
        with self._lock:
            self._held.pop(job_id, None)

        def put_back(db: Any) -> None:
            db.execute(
                "UPDATE jobs SET status = 'queued', owner = NULL, committing = 0,"
                " bytes_per_second = NULL WHERE id = ? AND owner = ? AND status = 'downloading'",
                (job_id, owner),
            )

        self._ending(put_back)

    def cancel(self, job_id: str, now: datetime) -> Job:
        kept = self._unrecorded.get(job_id)
        if kept is not None:
            check_cancellable(kept[1])
        return self._ending(lambda db: self._cancel(db, job_id, now))

    def _cancel(self, db: Any, job_id: str, now: datetime) -> Job:
        row = db.execute(
            f"SELECT {_COLUMNS}, committing FROM jobs WHERE id = ?",  # noqa: S608
            (job_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"No download job {job_id!r}")
        job = _job(row[:-1])
        check_cancellable(job)
        if row[-1]:
            raise Conflict(
                f"Job {job_id} is moving its files into the vault and can no longer be cancelled"
            )
        db.execute(
            "UPDATE jobs SET status = 'cancelled', completed_at = ?, bytes_per_second = NULL,"
            " error = ?, error_kind = 'cancelled' WHERE id = ?",
            (time_to_text(now), f"The download of {job.model_id} was cancelled", job_id),
        )
        return _job(db.execute(_SELECT + " WHERE id = ?", (job_id,)).fetchone())

    def requeue_orphans(
        self, is_gone: Callable[[str, datetime | None], bool]
    ) -> "builtins.list[str]":
        self._flush()  # an end this process holds is recorded, not requeued
        rows = self._index.reader().execute(
            "SELECT id, owner, heartbeat_at FROM jobs WHERE status = 'downloading'"
        )
        orphans = [(i, o) for i, o, beat in rows if is_gone(o or "", _time(beat))]
        if not orphans:
            return []
        requeued = []
        with self._index.write() as db:
            for job_id, owner in orphans:
                cursor = db.execute(
                    "UPDATE jobs SET status = 'queued', owner = NULL, committing = 0,"
                    " bytes_per_second = NULL"
                    " WHERE id = ? AND status = 'downloading' AND owner IS ?",
                    (job_id, owner),
                )
                if cursor.rowcount:
                    requeued.append(job_id)
        return requeued

    def prune(self, now: datetime) -> int:
        cutoff = time_to_text(now - timedelta(days=HISTORY_DAYS))
        with self._index.write() as db:
            cursor = db.execute(
                f"DELETE FROM jobs WHERE status IN {_FINISHED_SQL} AND completed_at < ?"  # noqa: S608
                f" AND seq NOT IN (SELECT seq FROM jobs WHERE status IN {_FINISHED_SQL}"
                " ORDER BY seq DESC LIMIT ?)",
                (cutoff, HISTORY_KEEP),
            )
            return int(cursor.rowcount)


def _end_again(db: Any, owner: str, job: Job) -> Job | None:
    """Record the end of `job`, ended in memory earlier."""
    assert job.completed_at is not None
    return _write_end(
        db, job.id, owner, job.status, job.completed_at, job.result, job.error, job.error_kind
    )


def _write_end(
    db: Any,
    job_id: str,
    owner: str,
    status: JobStatus,
    now: datetime,
    result: DownloadResult | None,
    error: str | None,
    error_kind: str | None,
) -> Job | None:
    """End the job if it is still downloading under `owner`; the job, else None."""
    cursor = db.execute(
        "UPDATE jobs SET status = ?, completed_at = ?, result = ?, error = ?,"
        " error_kind = ?, committing = 0, bytes_per_second = NULL"
        " WHERE id = ? AND owner = ? AND status = 'downloading'",
        (status.value, time_to_text(now), _result_text(result), error, error_kind, job_id, owner),
    )
    if cursor.rowcount == 0:
        return None
    return _job(db.execute(_SELECT + " WHERE id = ?", (job_id,)).fetchone())


SqliteJobStore = IndexJobStore
"""Its name before the index could be PostgreSQL."""
