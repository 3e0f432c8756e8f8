"""`MemoryJobStore`: the `JobStore` port in a dict, for one process.

What a `Devon` on a store other than the disk vault uses (tests, a custom store): jobs last
as long as the process. The disk vault's jobs live in its index (`IndexJobStore`).
"""

import builtins
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs

from devon_core.errors import Conflict, NotFound
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


@attrs.define
class _Row:
    job: Job
    owner: str | None = None
    heartbeat_at: datetime | None = None
    committing: bool = False


class MemoryJobStore:
    def __init__(self, *, max_queued: int | None = DEFAULT_MAX_QUEUED) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, _Row] = {}  # in order of creation
        self.max_queued = max_queued

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._rows.get(job_id)
            return row.job if row else None

    def list(
        self, status: JobStatus | None = None, *, limit: int | None = None, after: str | None = None
    ) -> "builtins.list[Job]":
        with self._lock:
            jobs = [row.job for row in reversed(self._rows.values())]
        if after is not None:
            older = next((i for i, job in enumerate(jobs) if job.id == after), None)
            if older is None:
                raise NotFound(unknown_cursor(after))
            jobs = jobs[older + 1 :]
        chosen = [job for job in jobs if status is None or job.status is status]
        return chosen if limit is None else chosen[:limit]

    def submit(self, request: JobRequest, new_id: str, now: datetime) -> Job:
        with self._lock:
            active = [
                row.job
                for row in self._rows.values()
                if not row.job.finished
                and (row.job.source, row.job.model_id) == (request.source, request.model_id)
            ]
            queued = sum(1 for row in self._rows.values() if row.job.status is JobStatus.QUEUED)
            match plan_submission(request, active, queued, self.max_queued):
                case Join(job):
                    return job
                case Widen(job, patterns):
                    return self._change(job.id, include_patterns=patterns)
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
                    self._rows[job.id] = _Row(job)
                    return job
        raise AssertionError("unreachable")  # pragma: no cover

    def add(self, job: Job) -> Job:
        with self._lock:
            self._rows[job.id] = _Row(job)
        return job

    def claim(self, owner: str, limit: int, now: datetime) -> Job | None:
        with self._lock:
            running = [r.job for r in self._rows.values() if r.job.status is JobStatus.DOWNLOADING]
            if len(running) >= limit:
                return None
            busy = {(job.source, job.model_id) for job in running}
            for row in self._rows.values():
                job = row.job
                if job.status is JobStatus.QUEUED and (job.source, job.model_id) not in busy:
                    row.owner, row.heartbeat_at, row.committing = owner, now, False
                    return self._change(
                        job.id,
                        status=JobStatus.DOWNLOADING,
                        started_at=job.started_at or now,
                        bytes_per_second=None,
                    )
        return None

    def _mine(self, job_id: str, owner: str) -> _Row | None:
        row = self._rows.get(job_id)
        if row is None or row.owner != owner or row.job.status is not JobStatus.DOWNLOADING:
            return None
        return row

    def record_progress(
        self, job_id: str, owner: str, progress: JobProgress, now: datetime
    ) -> bool:
        with self._lock:
            row = self._mine(job_id, owner)
            if row is None:
                return False
            row.heartbeat_at = now
            self._change(job_id, **attrs.asdict(progress))
            return True

    def heartbeat(self, owner: str, job_ids: Sequence[str], now: datetime) -> "builtins.list[str]":
        gone = []
        with self._lock:
            for job_id in job_ids:
                row = self._mine(job_id, owner)
                if row is None:
                    gone.append(job_id)
                else:
                    row.heartbeat_at = now
        return gone

    def begin_commit(self, job_id: str, owner: str) -> bool:
        with self._lock:
            row = self._mine(job_id, owner)
            if row is None:
                return False
            row.committing = True
            return True

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
        with self._lock:
            row = self._mine(job_id, owner)
            if row is None:
                return None
            row.committing = False
            row.job = ended(row.job, status, now, result=result, error=error, error_kind=error_kind)
            return row.job

    def release(self, job_id: str, owner: str) -> None:
        with self._lock:
            row = self._mine(job_id, owner)
            if row is not None:
                row.owner, row.committing = None, False
                self._change(job_id, status=JobStatus.QUEUED, bytes_per_second=None)

    def cancel(self, job_id: str, now: datetime) -> Job:
        with self._lock:
            row = self._rows.get(job_id)
            if row is None:
                raise NotFound(f"No download job {job_id!r}")
            check_cancellable(row.job)
            if row.committing:
                raise Conflict(
                    f"Job {job_id} is moving its files into the vault and can no longer be "
                    "cancelled"
                )
            return self._change(
                job_id,
                status=JobStatus.CANCELLED,
                completed_at=now,
                bytes_per_second=None,
                error=f"The download of {row.job.model_id} was cancelled",
                error_kind="cancelled",
            )

    def requeue_orphans(
        self, is_gone: Callable[[str, datetime | None], bool]
    ) -> "builtins.list[str]":
        requeued = []
        with self._lock:
            for job_id, row in self._rows.items():
                if row.job.status is JobStatus.DOWNLOADING and is_gone(
                    row.owner or "", row.heartbeat_at
                ):
                    row.owner, row.committing = None, False
                    self._change(job_id, status=JobStatus.QUEUED, bytes_per_second=None)
                    requeued.append(job_id)
        return requeued

    def prune(self, now: datetime) -> int:
        cutoff = now - timedelta(days=HISTORY_DAYS)
        with self._lock:
            finished = [row.job for row in reversed(self._rows.values()) if row.job.finished]
            old = [
                job.id
                for job in finished[HISTORY_KEEP:]
                if job.completed_at is not None and job.completed_at < cutoff
            ]
            for job_id in old:
                del self._rows[job_id]
        return len(old)

    def _change(self, job_id: str, **changes: object) -> Job:
        row = self._rows[job_id]
        row.job = attrs.evolve(row.job, **changes)  # type: ignore[arg-type]
        return row.job
