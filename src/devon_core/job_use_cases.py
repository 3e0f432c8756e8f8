"""The use cases of download jobs: start (or join), cancel, restart, and run one job.

Running a job is the plain `download` use case with a progress callback that records how
far it is (a few times a second) and stops the transfer once the job is cancelled.
"""

import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from devon_core.errors import DevonError, DownloadCancelled, NotFound
from devon_core.filters import validate_include_patterns
from devon_core.identifiers import validate_model_id
from devon_core.jobs import (
    Job,
    JobProgress,
    JobRequest,
    JobStatus,
    SpeedMeter,
    check_cancellable,
    check_restartable,
    error_kind,
)
from devon_core.models import LocalModel
from devon_core.ports import Clock, JobStore, ModelSource, ModelStore, StopSignal
from devon_core.results import DownloadResult
from devon_core.use_cases import covers, download, resolve_source

log = logging.getLogger("devon.jobs")

RECORD_EVERY = timedelta(seconds=0.25)
"""How often a running job writes its progress to the job store (at most)."""


def new_job_id() -> str:
    return uuid.uuid4().hex


def job_request(
    sources: Mapping[str, ModelSource],
    model_id: str,
    source: str,
    force: bool,
    include_patterns: Sequence[str] | None,
) -> JobRequest:
    """A checked request: bad input is refused before any job exists."""
    resolve_source(sources, source)
    validate_model_id(model_id)
    patterns = validate_include_patterns(include_patterns)
    return JobRequest(source, model_id, patterns, bool(force))


def already_present(store: ModelStore, clock: Clock, request: JobRequest) -> LocalModel | None:
    """The vault's copy when it answers `request` without a download (marked used)."""
    present = store.get(request.source, request.model_id)
    if present is None or not covers(present, request.include_patterns, request.force, clock.now()):
        return None
    return store.mark_used(request.source, request.model_id, clock.now()) or present


def start_download(store: ModelStore, jobs: JobStore, clock: Clock, request: JobRequest) -> Job:
    """The job for `request`: a job already finished when the vault holds what it asks for,
    else the active job it joins, or a new queued one."""
    present = already_present(store, clock, request)
    if present is not None:
        now = clock.now()
        return jobs.add(
            Job(
                id=new_job_id(),
                source=request.source,
                model_id=request.model_id,
                status=JobStatus.COMPLETED,
                include_patterns=request.include_patterns,
                force=request.force,
                created_at=now,
                started_at=now,
                completed_at=now,
                bytes_done=0,
                bytes_total=0,
                files_done=0,
                files_total=0,
                result=DownloadResult.of(present),
            )
        )
    return jobs.submit(request, new_job_id(), clock.now())


def get_job(jobs: JobStore, job_id: str) -> Job:
    job = jobs.get(job_id) if isinstance(job_id, str) else None
    if job is None:
        raise NotFound(f"No download job {job_id!r}")
    return job


def cancel(jobs: JobStore, clock: Clock, job_id: str) -> Job:
    check_cancellable(get_job(jobs, job_id))
    return jobs.cancel(job_id, clock.now())


def restart(jobs: JobStore, clock: Clock, job_id: str) -> Job:
    """A failed or cancelled job again, under a new id (joining an active job of the same
    model if there is one); it resumes from what staging kept."""
    job = get_job(jobs, job_id)
    check_restartable(job)
    return jobs.submit(job.request, new_job_id(), clock.now())


class JobReporter:
    """The progress callback of a running job: records progress in the job store a few
    times a second and raises `DownloadCancelled` once the job is to stop. Called from the
    source's download threads."""

    def __init__(
        self,
        job: Job,
        jobs: JobStore,
        clock: Clock,
        owner: str,
        should_stop: Callable[[], bool],
    ) -> None:
        self._job = job
        self._jobs = jobs
        self._clock = clock
        self._owner = owner
        self._should_stop = should_stop
        self._lock = threading.Lock()
        self._speed = SpeedMeter()
        self._progress = JobProgress(
            bytes_done=job.bytes_done,
            bytes_total=job.bytes_total,
            files_done=job.files_done,
            files_total=job.files_total,
        )
        self._recorded_at: datetime | None = None

    @property
    def progress(self) -> JobProgress:
        return self._progress

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            speed = self._speed.sample(self._clock.now(), done)
            self._progress = JobProgress(
                bytes_done=done,
                bytes_total=total,
                files_done=self._progress.files_done,
                files_total=self._progress.files_total,
                bytes_per_second=speed,
            )
            self._record()

    def files(self, done: int, total: int) -> None:
        with self._lock:
            p = self._progress
            self._progress = JobProgress(
                p.bytes_done, p.bytes_total, done, total, p.bytes_per_second
            )
            self._record(at_once=done == 0)

    def before_commit(self) -> None:
        """Raise if the job was cancelled; else make it uncancellable from now on."""
        self._stop_if_asked()
        if not self._jobs.begin_commit(self._job.id, self._owner):
            raise DownloadCancelled(f"The download of {self._job.model_id} was cancelled")

    def _record(self, at_once: bool = False) -> None:
        self._stop_if_asked()
        now = self._clock.now()
        if not at_once and self._recorded_at and now - self._recorded_at < RECORD_EVERY:
            return
        self._recorded_at = now
        if not self._jobs.record_progress(self._job.id, self._owner, self._progress, now):
            raise DownloadCancelled(f"The download of {self._job.model_id} was cancelled")

    def _stop_if_asked(self) -> None:
        if self._should_stop():
            raise DownloadCancelled(f"The download of {self._job.model_id} was stopped")


def run_job(
    job: Job,
    sources: Mapping[str, ModelSource],
    store: ModelStore,
    clock: Clock,
    jobs: JobStore,
    owner: str,
    *,
    should_stop: Callable[[], bool],
    releasing: Callable[[], bool],
    stop: StopSignal | None = None,
) -> Job | None:
    """Download what a claimed job asks for and end the job with the outcome. When the
    runner is shutting down (`releasing`) and stops the job, the job goes back to the queue
    instead, to resume in the next process. `stop` (set with `should_stop`) goes to the
    source, which then closes the job's connections at once, stalled ones included."""
    reporter = JobReporter(job, jobs, clock, owner, should_stop)
    try:
        model = download(
            resolve_source(sources, job.source),
            store,
            clock,
            job.model_id,
            force=job.force,
            include_patterns=job.include_patterns,
            progress=reporter,
            before_commit=reporter.before_commit,
            stop=stop,
        )
    except DownloadCancelled as error:
        if releasing():
            jobs.release(job.id, owner)
            return None
        return _finish(jobs, job, owner, clock, JobStatus.CANCELLED, error)
    except DevonError as error:
        return _finish(jobs, job, owner, clock, JobStatus.FAILED, error)
    except Exception as error:
        log.exception("Download job %s of %s failed unexpectedly", job.id, job.model_id)
        return _finish(jobs, job, owner, clock, JobStatus.FAILED, error)
    p = reporter.progress
    total = p.bytes_total if p.bytes_total is not None else 0
    try:
        jobs.record_progress(
            job.id,
            owner,
            JobProgress(total, total, p.files_total or 0, p.files_total or 0, p.bytes_per_second),
            clock.now(),
        )
    except DevonError as error:  # the job ends all the same: its end matters, not this
        log.warning("The final progress of job %s was not recorded: %s", job.id, error)
    return jobs.finish(
        job.id, owner, JobStatus.COMPLETED, clock.now(), result=DownloadResult.of(model)
    )


def _finish(
    jobs: JobStore, job: Job, owner: str, clock: Clock, status: JobStatus, error: Exception
) -> Job | None:
    message = (
        str(error)
        if isinstance(error, DevonError)
        else f"The download of {job.model_id} failed on an internal error (logged where the "
        "job ran)"
    )
    return jobs.finish(
        job.id, owner, status, clock.now(), error=message, error_kind=error_kind(error)
    )
