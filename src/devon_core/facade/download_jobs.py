"""`DownloadJobs`: downloads queued and run in the background (ADR 0110)."""

from devon_core import job_use_cases
from devon_core.download_request import DownloadRequest
from devon_core.errors import DevonError, about
from devon_core.facade.downloads import Downloads
from devon_core.facade.parts import FacadeParts
from devon_core.jobs import Job, JobList, JobRequest, JobStatus, check_page_limit, page_of
from devon_core.models import LocalModel
from devon_core.ports import JobRunner, JobStore

_BUILD = "build it with devon_app.build_devon(), or pass `jobs` and `runner` to Devon"


class DownloadJobs:
    """`devon.download_jobs`: start, list, wait for, cancel and restart download jobs."""

    def __init__(
        self,
        parts: FacadeParts,
        downloads: Downloads,
        store: JobStore | None,
        runner: JobRunner | None,
    ) -> None:
        self._parts = parts
        self._downloads = downloads
        self._store = store
        self._runner = runner

    @property
    def store(self) -> JobStore | None:
        """Where the jobs are kept (None: this Devon runs no jobs)."""
        return self._store

    @property
    def runner(self) -> JobRunner | None:
        """What runs the jobs (None: this Devon runs no jobs)."""
        return self._runner

    def attach(self, store: JobStore, runner: JobRunner) -> None:
        """Give a Devon built without them a job store and runner (`devon_app.attach_jobs` and
        `run_jobs_in_child` do)."""
        self._store = store
        self._runner = runner

    def start(self, request: DownloadRequest) -> Job:
        """Queue a download and return its job at once, without waiting. A request for a
        model that already has a queued or downloading job joins it (same id); a model the
        vault already holds gives a job that has completed."""
        job_request = self._job_request(request)
        with about(job_request.source, job_request.model_id):
            job = job_use_cases.start_download(
                self._parts.store, self._jobs(), self._parts.clock, job_request
            )
        if not job.finished:
            self.running().wake()
        return job

    def already_present(self, request: DownloadRequest) -> LocalModel | None:
        """The vault's copy (marked used) when a download of it would fetch nothing."""
        job_request = self._job_request(request)
        with about(job_request.source, job_request.model_id):
            return job_use_cases.already_present(self._parts.store, self._parts.clock, job_request)

    def get(self, job_id: str) -> Job:
        """A download job by id; NotFound if there is none."""
        return job_use_cases.get_job(self._jobs(), job_id)

    def list(
        self,
        *,
        status: JobStatus | str | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> JobList:
        """The download jobs (of one status if given), newest first: every one, or a page
        of at most `limit` (1 to 1000) whose `next` is the `after` of the following page
        (None on the last). NotFound when no job has the id `after`."""
        wanted = JobStatus.parse(status) if isinstance(status, str) else status
        limit = check_page_limit(limit)
        found = self._jobs().list(
            wanted, limit=None if limit is None else limit + 1, after=after or None
        )
        return page_of(found, limit)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """The job once it has finished (whatever the outcome: see `Job.outcome()`).
        TimeoutError after `timeout` seconds."""
        self.get(job_id)
        return self.running().wait(job_id, timeout)

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued or downloading job; its partial files stay in staging, so asking
        for the model again resumes. Conflict if the job has finished."""
        return job_use_cases.cancel(self._jobs(), self._parts.clock, job_id)

    def restart(self, job_id: str) -> Job:
        """Start a failed or cancelled job again under a new id, resuming its partial files."""
        job = job_use_cases.restart(self._jobs(), self._parts.clock, job_id)
        if not job.finished:
            self.running().wake()
        return job

    def _job_request(self, request: DownloadRequest) -> JobRequest:
        source, model_id, patterns = self._downloads.selection(request)
        with about(source, model_id):
            return job_use_cases.job_request(
                self._parts.sources, model_id, source, request.force, patterns
            )

    def _jobs(self) -> JobStore:
        if self._store is None:
            raise DevonError(f"This Devon has no job store: {_BUILD}")
        return self._store

    def running(self) -> JobRunner:
        """The runner; DevonError when this Devon has none."""
        if self._runner is None:
            raise DevonError(f"This Devon has no job runner: {_BUILD}")
        return self._runner
