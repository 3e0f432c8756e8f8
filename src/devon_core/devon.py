"""`Devon`: the one object a library user, the HTTP app and the CLI all talk to."""

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager

import attrs

from devon_core import adoption, hints, job_use_cases, use_cases
from devon_core.adoption import AdoptReport
from devon_core.download_plan import DownloadPlan, plan_download
from devon_core.errors import DevonError, InvalidInput, NotFound, SelectionNotFound, about
from devon_core.identifiers import DEFAULT_SOURCE, LOCAL_SOURCE, parse_model_reference
from devon_core.jobs import Job, JobList, JobStatus
from devon_core.models import LocalModel
from devon_core.partial_downloads import clean_partial
from devon_core.ports import (
    Clock,
    JobRunner,
    JobStore,
    ModelCache,
    ModelSource,
    ModelStore,
    ProgressCallback,
)
from devon_core.quantizations import literal_pattern, parse_quant_tag
from devon_core.references import ModelReference, ReferenceParser, parse_reference
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
    StorageSpace,
    StorageStatus,
)
from devon_core.rules import select_files
from devon_core.suggestions import did_you_mean


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
        limit: int = DEFAULT_SEARCH_LIMIT,
        filters: SearchFilters | None = None,
        **filter_texts: str | None,
    ) -> SearchResult:
        """Models on `source` passing every filter: a parsed `filters`, or the filters as a
        user types them by name (`params="<=8b"`, `quant="Q4_K_M"`: see
        `SearchFilters.declarations()`). `quant` keeps GGUF repos holding that quantisation;
        `size` then bounds a quantisation's size, not the repo's total."""
        parsed = _filters(filters, filter_texts)
        return use_cases.search(self.source(source), query, parsed, limit)

    def search_hints(
        self,
        query: str | None = None,
        *,
        source: str = DEFAULT_SOURCE,
        filters: SearchFilters | None = None,
        **filter_texts: str | None,
    ) -> dict[str, list[str]]:
        """For a search that found nothing: values close to the `license` and `quant` given
        that models on the source (matching the other filters) or in the vault carry."""
        parsed = _filters(filters, filter_texts)
        return hints.filter_hints(self.source(source), self.store, query, parsed)

    def resolve(self, text: str, *, source: str = DEFAULT_SOURCE) -> tuple[str, ModelReference]:
        """The source and the reference a user typed: an id, `owner/name:QUANT`, a URL the
        source knows, or an id as DEVON prints it, `<source>/<owner>/<name>` (ADR 0172)."""
        source, text = self._source_prefix(text, source)
        plugin = self.sources.get(source)
        if isinstance(plugin, ReferenceParser):
            return source, plugin.parse_reference(text)
        if "://" in text:  # the vault alone (no plugin loaded) still reads a Hub URL to a repo
            return source, ModelReference(parse_model_reference(text))
        return source, parse_reference(text)

    def _source_prefix(self, text: str, source: str) -> tuple[str, str]:
        """`<source>/<owner>/<name>` -> (`source`, `owner/name`) when `source` is a known
        source (a plugin, or one the vault holds models of): ids have at most two parts,
        so three parts are never an id. Anything else is left as it is."""
        if not isinstance(text, str) or "://" in text:
            return source, text
        first, _, rest = text.strip().partition("/")
        if rest.count("/") != 1 or first not in self._prefix_sources():
            return source, text
        if source not in (DEFAULT_SOURCE, first):
            raise InvalidInput(f"{text!r} names source {first!r}, but --source is {source!r}")
        return first, rest

    def _prefix_sources(self) -> set[str]:
        """Sources a printed id may start with: the known ones and those the vault holds."""
        return {*self._known_sources, *self.store.status().sources}

    def plan_download(
        self,
        model: str,
        *,
        source: str = DEFAULT_SOURCE,
        quant: str | None = None,
        include_patterns: Sequence[str] | None = None,
        force: bool = False,
        require_choice: bool = False,
    ) -> DownloadPlan:
        """What `download` with the same arguments would fetch (files, sizes, total), and
        the same errors, fetching nothing."""
        source, model_id, patterns = self.selection(
            model,
            source=source,
            quant=quant,
            include_patterns=include_patterns,
            require_choice=require_choice,
        )
        plugin = self.source(source)
        with about(source, model_id), self._suggesting(plugin, model_id):
            return plan_download(
                plugin, self.store, self.clock, model_id, include_patterns=patterns, force=force
            )

    def _reference(self, model: str, source: str, quant: str | None) -> tuple[str, ModelReference]:
        source, reference = self.resolve(model, source=source)
        if quant is None:
            return source, reference
        tag = parse_quant_tag(quant)
        if reference.files or reference.quantization not in (None, tag):
            raise InvalidInput(f"{model!r} already selects files: drop --quant {quant}")
        return source, attrs.evolve(reference, quantization=tag)

    @contextmanager
    def _suggesting(self, plugin: ModelSource, model_id: str) -> Iterator[None]:
        """A model the source does not know gets "did you mean" ids added to its error."""
        try:
            yield
        except SelectionNotFound:
            raise
        except NotFound as error:
            near = hints.near_model_ids(plugin, self.store, model_id)
            if not near:
                raise
            raise NotFound(f"{error} (did you mean {' or '.join(near)}?)") from error

    def info(self, model_id: str, *, source: str = DEFAULT_SOURCE) -> ModelInfo:
        """The vault's entry and the source's description of a model (an id, or any
        reference `resolve` reads). Counts as a use of it."""
        source, reference = self.resolve(model_id, source=source)
        model_id = reference.model_id
        with about(source, model_id):
            if source == LOCAL_SOURCE and source not in self.sources:
                return use_cases.local_info(self.store, self.clock, source, model_id)
            plugin = self.source(source)
            with self._suggesting(plugin, model_id):
                return use_cases.info(plugin, self.store, self.clock, model_id)

    def info_unless_held(
        self,
        model_id: str,
        held: Callable[[ModelInfo], bool],
        *,
        source: str = DEFAULT_SOURCE,
    ) -> ModelInfo | None:
        """`info`, or None without marking the model used when `held(current info)` says
        the caller already has exactly that answer (a conditional request)."""
        return use_cases.info_unless_held(
            self.source(source), self.store, self.clock, model_id, held
        )

    def change_counter(self) -> int:
        """Changes whenever what `list`, `get` and `status` return may have changed, by any
        process using the vault: equal readings mean a cached answer is still current."""
        return self.store.change_counter()

    def download(
        self,
        model_id: str,
        *,
        source: str = DEFAULT_SOURCE,
        force: bool = False,
        include_patterns: Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
        quant: str | None = None,
        require_choice: bool = False,
    ) -> LocalModel:
        """Bring a model into the vault. `model_id` may select files: `owner/name:Q4_K_M`,
        or a Hub file URL; so may `quant` (see `selection`). Without a selection the whole
        repo is fetched, unless `require_choice` (what the CLI asks) refuses a repo of
        several GGUF quantisations with ChoiceNeeded."""
        source, plain_id, patterns = self.selection(
            model_id,
            source=source,
            quant=quant,
            include_patterns=include_patterns,
            require_choice=require_choice,
        )
        plugin = self.source(source)
        with about(source, plain_id), self._suggesting(plugin, plain_id):
            return use_cases.download(
                plugin,
                self.store,
                self.clock,
                plain_id,
                force=force,
                include_patterns=patterns,
                progress=progress,
            )

    def selection(
        self,
        model: str,
        *,
        source: str = DEFAULT_SOURCE,
        quant: str | None = None,
        include_patterns: Sequence[str] | None = None,
        require_choice: bool = False,
    ) -> tuple[str, str, tuple[str, ...] | None]:
        """(source, plain model id, include patterns) for what a user typed (ADR 0171): a
        quantisation or file the reference (or `quant`) selects becomes patterns naming
        exactly its files, added to `include_patterns`, so downloads and their jobs deal in
        patterns only. A selection the model lacks is SelectionNotFound and, with
        `require_choice`, a repo of several quantisations and no selection at all (nor a
        whole copy in the vault) is ChoiceNeeded: both before anything is fetched."""
        source, reference = self._reference(model, source, quant)
        given = tuple(include_patterns) if include_patterns is not None else None
        if not reference.selects and not (require_choice and given is None):
            return source, reference.model_id, given
        if not reference.selects:
            present = self.store.get(source, reference.model_id)
            if present is not None and use_cases.recorded_patterns(present) is None:
                return source, reference.model_id, given  # the vault holds every file
        plugin = self.source(source)
        with about(source, reference.model_id), self._suggesting(plugin, reference.model_id):
            chosen = select_files(
                plugin.info(reference.model_id), None, reference, require_choice=require_choice
            )
        if not reference.selects:
            return source, reference.model_id, given
        named = [literal_pattern(f.path) for f in chosen]
        return source, reference.model_id, tuple(dict.fromkeys([*(given or ()), *named]))

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
        vault already holds gives a job that has completed. `model_id` may select files
        as in `download`."""
        source, model_id, include_patterns = self.selection(
            model_id, source=source, include_patterns=include_patterns
        )
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
        source, model_id, include_patterns = self.selection(
            model_id, source=source, include_patterns=include_patterns
        )
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

    def list_json(self, *, source: str | None = None) -> tuple[int, str]:
        """`list` as the model count and the JSON text of the models (as `json.dumps` writes
        their unstructured form), without an object per model: for large listings."""
        return use_cases.list_models_json(self.store, source, self._known_sources)

    def get(self, model_id: str, *, source: str = DEFAULT_SOURCE) -> LocalModel | None:
        """The vault's entry for a model, without touching `last_used`."""
        with about(source, model_id):
            return use_cases.get(self.store, source, model_id)

    def remove(self, model_id: str, *, source: str = DEFAULT_SOURCE) -> RemoveResult:
        """Delete a model (its id, URL, or `<source>/<owner>/<name>` as DEVON prints it)."""
        source, reference = self.resolve(model_id, source=source)
        with about(source, reference.model_id):
            try:
                return use_cases.remove(self.store, source, reference.model_id, self._known_sources)
            except NotFound as error:
                known = (
                    [m.model_id for m in self.store.list(source)]
                    if source in self._prefix_sources()
                    else []
                )
                raise NotFound(f"{error}{did_you_mean(reference.model_id, known)}") from error

    def status(self) -> StorageStatus:
        return use_cases.status(self.store)

    def space(self) -> StorageSpace:
        """Free bytes on the vault's disk, bytes the vault's models use, and the quota."""
        return self.store.space()

    def clean(
        self,
        *,
        unused: bool = False,
        days: int = DEFAULT_CLEAN_DAYS,
        all: bool = False,
        dry_run: bool = False,
        only: Collection[str] | None = None,
        partial: bool = False,
    ) -> CleanResult:
        """Remove unused models, or all. `only` (keys `<source>/<model_id>`) limits the run
        to models a person was shown, e.g. by a dry run, and confirmed. `partial` also
        removes what unfinished downloads hold in staging, except a running one's (and,
        with `only`, just the staging of those keys)."""
        request = CleanRequest(unused=unused, days=days, all=all, dry_run=dry_run)
        result = use_cases.clean(self.store, self.clock, request, only)
        if not partial:
            return result
        staged = clean_partial(self.store, dry_run, only)
        return attrs.evolve(
            result, partial_models=staged.models, partial_freed_bytes=staged.freed_bytes
        )

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


def _filters(filters: SearchFilters | None, texts: dict[str, str | None]) -> SearchFilters:
    """One SearchFilters from a parsed object or from typed texts, not both."""
    if filters is None:
        return SearchFilters.parse(**texts)
    if texts:
        raise TypeError("give search filters either as `filters` or by name, not both")
    return filters
