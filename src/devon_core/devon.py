"""`Devon`: the one object a library user, the HTTP app and the CLI all talk to."""

from collections.abc import Callable, Collection, Iterable, Sequence

from devon_core import adoption, job_use_cases, use_cases
from devon_core.adoption import AdoptReport
from devon_core.errors import DevonError, InvalidInput, about
from devon_core.identifiers import DEFAULT_SOURCE, LOCAL_SOURCE
from devon_core.jobs import Job, JobList, JobStatus
from devon_core.models import LocalModel
from devon_core.ports import (
    Clock,
    JobRunner,
    JobStore,
    ModelCache,
    ModelSource,
    ModelStore,
    ProgressCallback,
)
from devon_core.results import (
    DEFAULT_CLEAN_DAYS,
    DEFAULT_SEARCH_LIMIT,
    CleanRequest,
    CleanResult,
    ExportFormat,
    ExportResult,
    ModelInfo,
    RemoveResult,
    ScanResult,
    SearchFilters,
    SearchResult,
    StorageStatus,
)


class Devon:
    """The vault and its sources, with every use case as a method.

    >>> devon = build_devon()                       # from devon_adapters
    >>> devon.search("qwen", params="<=8b", limit=5)
    >>> devon.download("Qwen/Qwen2.5-0.5B")
    >>> devon.clean(unused=True, days=30)
    """

    def __init__(
        self,
        *,
        store: ModelStore,
        clock: Clock,
        source: ModelSource | None = None,
        sources: Iterable[ModelSource] = (),
        open_cache: Callable[[str | None], ModelCache] | None = None,
        jobs: JobStore | None = None,
        runner: JobRunner | None = None,
    ) -> None:
        every = [*([source] if source is not None else []), *sources]
        self.store = store
        self.clock = clock
        self.open_cache = open_cache
        """Opens the Hugging Face cache at a directory (None: the configured one)."""
        self.sources: dict[str, ModelSource] = {s.name: s for s in every}
        self.job_store = jobs
        self.runner = runner
        """Set both (`devon_adapters.attach_jobs` does) to use the job methods."""

    def source(self, name: str = DEFAULT_SOURCE) -> ModelSource:
        """The source plugin called `name`; InvalidInput if there is none."""
        return use_cases.resolve_source(self.sources, name)

    @property
    def _known_sources(self) -> frozenset[str]:
        return use_cases.known_source_names(self.sources)

    @property
    def storage_path(self) -> str:
        return self.store.root

    def search(
        self,
        query: str | None = None,
        *,
        source: str = DEFAULT_SOURCE,
        provider: str | None = None,
        params: str | None = None,
        size: str | None = None,
        format: str | None = None,
        task: str | None = None,
        license: str | None = None,
        limit: int = DEFAULT_SEARCH_LIMIT,
    ) -> SearchResult:
        filters = SearchFilters.parse(
            provider=provider, params=params, size=size, format=format, task=task, license=license
        )
        return use_cases.search(self.source(source), query, filters, limit)

    def info(self, model_id: str, *, source: str = DEFAULT_SOURCE) -> ModelInfo:
        with about(source, model_id):
            if source == LOCAL_SOURCE and source not in self.sources:
                return use_cases.local_info(self.store, self.clock, source, model_id)
            return use_cases.info(self.source(source), self.store, self.clock, model_id)

    def download(
        self,
        model_id: str,
        *,
        source: str = DEFAULT_SOURCE,
        force: bool = False,
        include_patterns: Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
    ) -> LocalModel:
        with about(source, model_id):
            return use_cases.download(
                self.source(source),
                self.store,
                self.clock,
                model_id,
                force=force,
                include_patterns=include_patterns,
                progress=progress,
            )

    # -- download jobs (ADR 0110) --------------------------------------------------------

    def start_download(
        self,
        model_id: str,
        *,
        source: str = DEFAULT_SOURCE,
        force: bool = False,
        include_patterns: Sequence[str] | None = None,
    ) -> Job:
        """Queue a download and return its job at once, without waiting. A request for a
        model that already has a queued or downloading job joins it (same id); a model the
        vault already holds gives a job that has completed."""
        with about(source, model_id):
            request = job_use_cases.job_request(
                self.sources, model_id, source, force, include_patterns
            )
            job = job_use_cases.start_download(self.store, self._jobs(), self.clock, request)
        if not job.finished:
            self._runner().wake()
        return job

    def already_present(
        self,
        model_id: str,
        *,
        source: str = DEFAULT_SOURCE,
        force: bool = False,
        include_patterns: Sequence[str] | None = None,
    ) -> LocalModel | None:
        """The vault's copy (marked used) when a download of it would fetch nothing."""
        with about(source, model_id):
            request = job_use_cases.job_request(
                self.sources, model_id, source, force, include_patterns
            )
            return job_use_cases.already_present(self.store, self.clock, request)

    def job(self, job_id: str) -> Job:
        """A download job by id; NotFound if there is none."""
        return job_use_cases.get_job(self._jobs(), job_id)

    def jobs(self, *, status: JobStatus | str | None = None) -> JobList:
        """Every download job (of one status if given), newest first."""
        wanted = JobStatus.parse(status) if isinstance(status, str) else status
        return JobList(tuple(self._jobs().list(wanted)))

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """The job once it has finished (whatever the outcome: see `Job.outcome()`).
        TimeoutError after `timeout` seconds."""
        self.job(job_id)
        return self._runner().wait(job_id, timeout)

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued or downloading job; its partial files stay in staging, so asking
        for the model again resumes. Conflict if the job has finished."""
        return job_use_cases.cancel(self._jobs(), self.clock, job_id)

    def restart(self, job_id: str) -> Job:
        """Start a failed or cancelled job again under a new id, resuming its partial files."""
        job = job_use_cases.restart(self._jobs(), self.clock, job_id)
        if not job.finished:
            self._runner().wake()
        return job

    def _jobs(self) -> JobStore:
        if self.job_store is None:
            raise DevonError(
                "This Devon has no job store: build it with devon_adapters.build_devon(), "
                "or call devon_adapters.attach_jobs(devon)"
            )
        return self.job_store

    def _runner(self) -> JobRunner:
        if self.runner is None:
            raise DevonError(
                "This Devon has no job runner: build it with devon_adapters.build_devon(), "
                "or call devon_adapters.attach_jobs(devon)"
            )
        return self.runner

    def list(self, *, source: str | None = None) -> list[LocalModel]:
        return use_cases.list_models(self.store, source, self._known_sources)

    def get(self, model_id: str, *, source: str = DEFAULT_SOURCE) -> LocalModel | None:
        """The vault's entry for a model, without touching `last_used`."""
        with about(source, model_id):
            return use_cases.get(self.store, source, model_id)

    def remove(self, model_id: str, *, source: str = DEFAULT_SOURCE) -> RemoveResult:
        with about(source, model_id):
            return use_cases.remove(self.store, source, model_id, self._known_sources)

    def status(self) -> StorageStatus:
        return use_cases.status(self.store)

    def clean(
        self,
        *,
        unused: bool = False,
        days: int = DEFAULT_CLEAN_DAYS,
        all: bool = False,
        dry_run: bool = False,
        only: Collection[str] | None = None,
    ) -> CleanResult:
        """Remove unused models, or all. `only` (keys `<source>/<model_id>`) limits the run
        to models a person was shown, e.g. by a dry run, and confirmed."""
        request = CleanRequest(unused=unused, days=days, all=all, dry_run=dry_run)
        return use_cases.clean(self.store, self.clock, request, only)

    def export(self, format: ExportFormat | str = ExportFormat.KITT) -> ExportResult:
        export_format = format if isinstance(format, ExportFormat) else ExportFormat.parse(format)
        return use_cases.export(self.store, export_format)

    def scan(self, *, reconcile: bool = False) -> ScanResult:
        """Register model folders placed in the vault by hand: under a source's folder as
        that source, anywhere else under the built-in `local` source, with metadata inferred
        from their files. Folders with no model file, or still being written, are skipped
        and reported. `reconcile` also drops the models whose folder is gone."""
        return use_cases.scan(self.store, self.sources.keys(), reconcile)

    def adopt(
        self,
        model_ids: Sequence[str] | None = None,
        *,
        cache: str | None = None,
        move: bool = False,
        dry_run: bool = False,
    ) -> AdoptReport:
        """Bring models already in the Hugging Face cache into the vault without downloading
        them: all of its model repos, or only `model_ids`. `cache` is its directory (default:
        the configured one, DEVON_HF_CACHE, else where huggingface_hub keeps it). The cache
        keeps its files (hard links) unless `move`. Works with the Hub unreachable.

        >>> report = devon.adopt(dry_run=True)
        >>> [m.model_id for m in report.adopted], report.skipped
        """
        if self.open_cache is None:
            raise InvalidInput("This DEVON has no Hugging Face cache reader configured")
        source = self.sources.get(DEFAULT_SOURCE)
        return adoption.adopt(
            self.open_cache(cache),
            self.store,
            self.clock,
            source,
            DEFAULT_SOURCE,
            model_ids,
            move=move,
            dry_run=dry_run,
        )
