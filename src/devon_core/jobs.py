"""Download jobs: the job as the API shows it, and the rules of its life (ADR 0110).

A job is one download of one model: `queued` until a runner claims it, `downloading` while
its files arrive, then `completed`, `failed` or `cancelled` for good. The rules here are
pure: which request joins which job, which state may be cancelled or restarted, how a
failure is remembered so that a waiting caller gets the error it would have got directly.
"""

import enum
from collections.abc import Sequence
from datetime import datetime

import attrs

from devon_core.errors import (
    Conflict,
    DevonError,
    DownloadCancelled,
    DownloadFailed,
    Forbidden,
    InsufficientStorage,
    InvalidInput,
    InvalidRequest,
    NotFound,
    SourceUnavailable,
    StoreUnavailable,
    TooManyJobs,
)
from devon_core.results import DownloadResult

HISTORY_KEEP = 1000
"""Finished jobs kept whatever their age (the newest ones)."""
HISTORY_DAYS = 7
"""Finished jobs younger than this are kept whatever their number."""
DEFAULT_MAX_QUEUED = 1000
"""Queued jobs a vault accepts at once unless told otherwise (`max_queued_jobs`)."""
QUEUE_RETRY_AFTER_S = 60
"""What a refusal for a full queue suggests waiting, in seconds."""


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    DOWNLOADING = "downloading"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in ACTIVE

    @classmethod
    def parse(cls, text: str) -> "JobStatus":
        try:
            return cls(text.strip().lower())
        except ValueError:
            accepted = ", ".join(s.value for s in cls)
            raise InvalidInput(f"Invalid job status {text!r}: use one of {accepted}") from None


ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.DOWNLOADING})


@attrs.frozen
class JobRequest:
    """What a download job is asked to do (validated: see `use_cases.job_request`)."""

    source: str
    model_id: str
    include_patterns: tuple[str, ...] | None = None
    force: bool = False


@attrs.frozen
class JobProgress:
    """How far a running job is. Bytes and files count what staging already held."""

    bytes_done: int = 0
    bytes_total: int | None = None
    files_done: int = 0
    files_total: int | None = None
    bytes_per_second: float | None = None


@attrs.frozen
class Job:
    """A download job, as the API shows it (a superset of DEVON 1.2's job object).

    `error_kind` is not shown: it names the core error a failed job ended with, so that a
    caller who waited gets the same error (and HTTP status) a direct download would raise."""

    id: str
    source: str
    model_id: str
    status: JobStatus
    include_patterns: tuple[str, ...] | None
    force: bool
    created_at: datetime
    bytes_done: int = 0
    bytes_total: int | None = None
    files_done: int = 0
    files_total: int | None = None
    bytes_per_second: float | None = None
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    result: DownloadResult | None = None
    error_kind: str | None = None

    @property
    def request(self) -> JobRequest:
        return JobRequest(self.source, self.model_id, self.include_patterns, self.force)

    @property
    def finished(self) -> bool:
        return self.status.finished

    def outcome(self) -> DownloadResult:
        """The result of a completed job; the error it ended with otherwise (raised)."""
        if self.status is JobStatus.COMPLETED and self.result is not None:
            return self.result
        about = {"model_id": self.model_id, "source": self.source}
        if self.status is JobStatus.CANCELLED:
            raise DownloadCancelled(
                self.error or f"The download of {self.model_id} (job {self.id}) was cancelled",
                **about,
            )
        if not self.finished:
            raise Conflict(f"Job {self.id} has not finished: it is {self.status.value}", **about)
        error = error_of(self.error_kind, self.error or "The download failed")
        error.model_id, error.source = self.model_id, self.source
        raise error


def ended(
    job: Job,
    status: JobStatus,
    at: datetime,
    *,
    result: DownloadResult | None = None,
    error: str | None = None,
    error_kind: str | None = None,
) -> Job:
    """`job` ended in `status` at `at`, with its outcome."""
    return attrs.evolve(
        job,
        status=status,
        completed_at=at,
        result=result,
        error=error,
        error_kind=error_kind,
        bytes_per_second=None,
    )


@attrs.frozen
class JobList:
    """Jobs, newest first: one page of them when `next` is set (the cursor of the next)."""

    jobs: tuple[Job, ...]
    count: int = attrs.field(
        init=False, default=attrs.Factory(lambda self: len(self.jobs), takes_self=True)
    )
    next: str | None = None


def page_of(jobs: Sequence[Job], limit: int | None) -> JobList:
    """The first `limit` of `jobs` (read one past it, to know whether more follow), with
    the cursor of the next page: the id of the last job shown."""
    if limit is None or len(jobs) <= limit:
        return JobList(tuple(jobs))
    shown = tuple(jobs[:limit])
    return JobList(shown, next=shown[-1].id)


def unknown_cursor(after: str) -> str:
    return (
        f"No download job {after!r} to list from (the cursor): it may have been forgotten "
        "meanwhile; list again from the start (without a cursor)"
    )


MIN_PAGE = 1
MAX_PAGE = 1000


def check_page_limit(limit: int | None) -> int | None:
    if limit is not None and not MIN_PAGE <= limit <= MAX_PAGE:
        raise InvalidInput(f"Invalid limit {limit}: use {MIN_PAGE} to {MAX_PAGE}")
    return limit


# -- which request joins which job ------------------------------------------------------


def patterns_cover(held: Sequence[str] | None, asked: Sequence[str] | None) -> bool:
    """Whether a download with patterns `held` (None: every file) fetches at least what one
    with `asked` names, judged by the patterns themselves."""
    if held is None:
        return True
    return asked is not None and set(asked) <= set(held)


def merge_patterns(
    first: Sequence[str] | None, second: Sequence[str] | None
) -> tuple[str, ...] | None:
    """The patterns of a download that fetches what both name (None: every file)."""
    if first is None or second is None:
        return None
    return tuple(dict.fromkeys([*first, *second]))


@attrs.frozen
class Join:
    """The request is already covered by this active job: the caller gets its id."""

    job: Job


@attrs.frozen
class Widen:
    """This queued job has not started: it takes the request's patterns as well."""

    job: Job
    include_patterns: tuple[str, ...] | None


@attrs.frozen
class Enqueue:
    """No active job covers the request: a new one is queued (behind the model's others)."""


Submission = Join | Widen | Enqueue


def plan_submission(
    request: JobRequest,
    active: Sequence[Job],
    queued: int = 0,
    max_queued: int | None = None,
) -> Submission:
    """What a new request does given the model's active jobs (oldest first):

    - it joins the first one that fetches at least what it names (a forced request joins
      only a forced job);
    - else the newest one that is still queued and forced alike takes its patterns too;
    - else a new job is queued; the runner starts it once the model's running job ends;
      unless the vault already has `max_queued` jobs `queued`: TooManyJobs."""
    for job in active:
        if patterns_cover(job.include_patterns, request.include_patterns) and (
            job.force or not request.force
        ):
            return Join(job)
    for job in reversed(active):
        if job.status is JobStatus.QUEUED and job.force == request.force:
            return Widen(job, merge_patterns(job.include_patterns, request.include_patterns))
    if max_queued is not None and queued >= max_queued:
        raise TooManyJobs(
            f"Too many download jobs are waiting ({queued} queued, at most {max_queued}): "
            f"try again in a while, once some have started",
            retry_after_s=QUEUE_RETRY_AFTER_S,
        )
    return Enqueue()


def check_cancellable(job: Job) -> None:
    if job.finished:
        raise Conflict(
            f"Job {job.id} has already {_ended(job)}: only a queued or downloading job can be "
            "cancelled"
        )


def check_restartable(job: Job) -> None:
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise Conflict(
            f"Job {job.id} is {job.status.value}: only a failed or cancelled job can be restarted"
        )


def _ended(job: Job) -> str:
    return {
        JobStatus.COMPLETED: "completed",
        JobStatus.FAILED: "failed",
        JobStatus.CANCELLED: "been cancelled",
    }.get(job.status, job.status.value)


# -- remembering errors -----------------------------------------------------------------

ERROR_KINDS: dict[str, type[DevonError]] = {
    "invalid_request": InvalidRequest,
    "invalid_input": InvalidInput,
    "not_found": NotFound,
    "forbidden": Forbidden,
    "source_unavailable": SourceUnavailable,
    "insufficient_storage": InsufficientStorage,
    "store_unavailable": StoreUnavailable,
    "cancelled": DownloadCancelled,
    "conflict": Conflict,
    "download_failed": DownloadFailed,
}
"""Stored name -> core error, most specific first."""


def error_kind(error: BaseException) -> str:
    """The stored name of `error`'s kind (anything unexpected is a failed download)."""
    for kind, cls in ERROR_KINDS.items():
        if isinstance(error, cls):
            return kind
    return "download_failed"


def error_of(kind: str | None, message: str) -> DevonError:
    """The core error a job that failed with `kind` stands for."""
    return ERROR_KINDS.get(kind or "", DownloadFailed)(message)


# -- speed ------------------------------------------------------------------------------


class SpeedMeter:
    """Bytes per second over the last few seconds of samples. Bytes a resumed download
    found in staging are not speed: the first sample is where it started. When no byte
    arrived for IDLE_S (a source reports at least once a second while it waits), the speed
    is 0: an average over the window would show a stalled download as still moving."""

    WINDOW_S = 5.0
    MIN_SPAN_S = 0.5
    IDLE_S = 1.0

    def __init__(self) -> None:
        self._samples: list[tuple[datetime, int]] = []
        self._moved_at: datetime | None = None

    def sample(self, when: datetime, done: int) -> float | None:
        if not self._samples or done != self._samples[-1][1]:
            self._moved_at = when
        self._samples.append((when, done))
        while (
            len(self._samples) > 2 and (when - self._samples[1][0]).total_seconds() >= self.WINDOW_S
        ):
            self._samples.pop(0)
        if self._moved_at is not None and (when - self._moved_at).total_seconds() >= self.IDLE_S:
            return 0.0
        first_at, first_done = self._samples[0]
        span = (when - first_at).total_seconds()
        if span < self.MIN_SPAN_S:
            return None
        return max(done - first_done, 0) / span
