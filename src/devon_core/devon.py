"""`Devon`: the one object a library user, the HTTP app and the CLI all talk to.

Its surface is grouped (ADR 0265) in `devon_core.facade`; the flat methods here delegate."""

import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import BinaryIO

from devon_core import hints, use_cases
from devon_core.adoption import AdoptReport
from devon_core.cache_view import CacheView, ViewReport
from devon_core.download_plan import DownloadPlan
from devon_core.download_request import DownloadRequest
from devon_core.errors import DevonError, InvalidInput, about
from devon_core.facade.download_jobs import DownloadJobs
from devon_core.facade.downloads import Downloads
from devon_core.facade.hf_cache import HuggingFaceCache
from devon_core.facade.hub import PULL_ATTEMPTS, HubPaths
from devon_core.facade.maintenance import Maintenance
from devon_core.facade.parts import FacadeParts
from devon_core.facade.vault import Vault
from devon_core.fleet import THIS_HOST, Fleet, MemoryFleetStore, Placement, PlacementState
from devon_core.hub_protocol import FileIdentities, ServedFile, ServedModel
from devon_core.identifiers import LOCAL_SOURCE
from devon_core.jobs import Job, JobList, JobStatus
from devon_core.models import LocalModel
from devon_core.ports import (
    Clock,
    JobRunner,
    JobStore,
    Located,
    ModelCache,
    ModelPages,
    ModelSource,
    ModelStore,
    ProgressCallback,
)
from devon_core.quantizations import Quantization
from devon_core.references import ModelReference, ReferenceResolver
from devon_core.results import (
    DEFAULT_CLEAN_DAYS,
    DEFAULT_SEARCH_LIMIT,
    CleanResult,
    Diagnosis,
    Downloaded,
    ExportFormat,
    ExportResult,
    ImportReport,
    IndexCopy,
    ModelInfo,
    RemoveResult,
    ScanResult,
    SearchFilters,
    SearchResult,
    StagedDownload,
    StorageSpace,
    StorageStatus,
)
from devon_core.runtime_paths import runtime_path

CLOSE_WAIT_S = 10.0
"""How long `Devon.close` waits, by default, for running jobs to go back to the queue."""


class SourcePlugins(Mapping[str, ModelSource]):
    """Sources by name, loaded on first use (so a command that only reads the vault never
    imports a plugin), once, whichever thread asks first."""

    def __init__(self, load: Callable[[], Iterable[ModelSource]]) -> None:
        self._load = load
        self._loaded: dict[str, ModelSource] | None = None
        self._lock = threading.Lock()

    def _sources(self) -> dict[str, ModelSource]:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = {s.name: s for s in self._load()}
        return self._loaded

    def __getitem__(self, name: str) -> ModelSource:
        return self._sources()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources())

    def __len__(self) -> int:
        return len(self._sources())


class Devon:
    """The vault and its sources, with every use case as a method.

    >>> devon = build_devon()                       # from devon_app
    >>> devon.search("qwen", params="<=8b", limit=5)
    >>> devon.download("Qwen/Qwen2.5-0.5B")
    >>> devon.clean(unused=True, days=30)

    The surface is also grouped (ADR 0265): `devon.vault`, `devon.downloads` (taking a
    `DownloadRequest`), `devon.download_jobs`, `devon.hub`, `devon.hf_cache` and
    `devon.maintenance`; the flat methods delegate to them.
    """

    PULL_ATTEMPTS = PULL_ATTEMPTS
    """Jobs a pull may wait for: a running job it joins may fetch other files than it needs."""

    def __init__(
        self,
        *,
        store: ModelStore,
        clock: Clock,
        source: ModelSource | None = None,
        sources: (
            Mapping[str, ModelSource] | Iterable[ModelSource] | Callable[[], Iterable[ModelSource]]
        ) = (),
        default_source: str | None = None,
        open_cache: Callable[[str | None], ModelCache] | None = None,
        cache_source: str | None = None,
        import_legacy: Callable[[str, bool], ImportReport] | None = None,
        jobs: JobStore | None = None,
        runner: JobRunner | None = None,
        open_view: Callable[[str | None], CacheView] | None = None,
        keep_view: bool = False,
        file_identities: FileIdentities | None = None,
        fleet: Fleet | None = None,
    ) -> None:
        """`sources`: the source plugins, as a mapping by name, a list, or a function that
        loads them on first use; `jobs` and `runner` run download jobs (`start()` resumes
        what a process that is gone left, `close()` stops them); `fleet` keeps hosts and
        placements (default: in memory)."""
        given = [source] if source is not None else []
        plugins: Mapping[str, ModelSource]
        if isinstance(sources, Mapping):
            plugins = {**{s.name: s for s in given}, **sources} if given else sources
        elif callable(sources):
            load = sources
            plugins = SourcePlugins(lambda: [*given, *load()])
        else:
            plugins = {s.name: s for s in [*given, *sources]}
        self._default_source = (
            default_source
            if default_source is not None
            else (source.name if source is not None else None)
        )
        if self._default_source is None and isinstance(plugins, dict) and plugins:
            self._default_source = next(iter(plugins))
        self._fleet = fleet if fleet is not None else Fleet(MemoryFleetStore(), clock)
        self._references = ReferenceResolver(
            plugins,
            lambda: self.default_source,
            lambda: use_cases.known_source_names(plugins),
            lambda: store.status().sources,
        )
        self._parts = FacadeParts(store, clock, plugins, self._references)
        self._vault = Vault(self._parts)
        self._downloads = Downloads(self._parts)
        self._download_jobs = DownloadJobs(self._parts, self._downloads, jobs, runner)
        self._hub = HubPaths(self._parts, self._download_jobs, file_identities, self.PULL_ATTEMPTS)
        self._hf_cache = HuggingFaceCache(
            self._parts, open_cache, cache_source, open_view, keep_view
        )
        self._maintenance = Maintenance(self._parts, self._hf_cache, import_legacy)

    # -- the groups (ADR 0265) ------------------------------------------------------------

    @property
    def vault(self) -> Vault:
        """What the vault holds: list, get, remove, path, export, status, space."""
        return self._vault

    @property
    def downloads(self) -> Downloads:
        """Bringing models in, as `DownloadRequest`s: fetch, download, plan, selection."""
        return self._downloads

    @property
    def download_jobs(self) -> DownloadJobs:
        """Downloads run in the background: start, get, list, wait, cancel, restart."""
        return self._download_jobs

    @property
    def hub(self) -> HubPaths:
        """The vault's models as Hub repositories: model, file."""
        return self._hub

    @property
    def hf_cache(self) -> HuggingFaceCache:
        """The Hugging Face cache: adopt, link, unlink, and the view kept current."""
        return self._hf_cache

    @property
    def maintenance(self) -> Maintenance:
        """Keeping the vault in order: clean, scan, the index, 1.x imports, diagnose."""
        return self._maintenance

    # -- the parts, read-only -------------------------------------------------------------

    @property
    def store(self) -> ModelStore:
        return self._parts.store

    @property
    def clock(self) -> Clock:
        return self._parts.clock

    @property
    def sources(self) -> Mapping[str, ModelSource]:
        return self._parts.sources

    @property
    def job_store(self) -> JobStore | None:
        """Where download jobs are kept (None: this Devon runs no jobs)."""
        return self.download_jobs.store

    @property
    def runner(self) -> JobRunner | None:
        """What runs download jobs (None: this Devon runs no jobs)."""
        return self.download_jobs.runner

    @property
    def fleet(self) -> Fleet | None:
        """Hosts and placements (in memory unless given: `devon_app.build_devon` keeps
        them in the vault's index)."""
        return self._fleet

    @property
    def open_cache(self) -> Callable[[str | None], ModelCache] | None:
        return self.hf_cache.open_cache

    @property
    def cache_source(self) -> str | None:
        return self.hf_cache.cache_source

    @property
    def open_view(self) -> Callable[[str | None], CacheView] | None:
        return self.hf_cache.open_view

    @property
    def kept_view(self) -> CacheView | None:
        return self.hf_cache.kept_view

    @property
    def file_identities(self) -> FileIdentities | None:
        return self.hub.identities

    # -- life --------------------------------------------------------------------------

    def start(self) -> None:
        """Start running download jobs, resuming those a process that is gone left behind
        (what a server does as it starts); nothing without a runner."""
        if self.runner is not None:
            # A runner written before `start` was part of the port is started by a wake.
            getattr(self.runner, "start", self.runner.wake)()

    def close(self, timeout: float = CLOSE_WAIT_S) -> None:
        """Stop running download jobs; running ones go back to the queue, waited for up to
        `timeout` seconds. Nothing without a runner."""
        close = getattr(self.runner, "close", None)  # older runners may have none
        if close is not None:
            close(timeout)

    # -- sources and references -----------------------------------------------------------

    @property
    def default_source(self) -> str:
        """The source used when a call names none: `default_source` as given (the
        `default_source` setting), else the first source given."""
        if self._default_source is None:
            raise InvalidInput("No source named and this Devon has no default source")
        return self._default_source

    def source(self, name: str | None = None) -> ModelSource:
        """The source plugin called `name` (default: the default source); InvalidInput if
        there is none."""
        return self._parts.source(name)

    @property
    def storage_path(self) -> str:
        return self.store.root

    def resolve(self, text: str, *, source: str | None = None) -> tuple[str, ModelReference]:
        """The source and the reference a user typed (see `ReferenceResolver.resolve`)."""
        return self._references.resolve(text, source)

    def plain_id(self, text: str, *, source: str | None = None) -> str:
        """`text` if it is a plain id of `source` (see `ReferenceResolver.plain_id`)."""
        return self._references.plain_id(text, source)

    def source_names(self) -> tuple[str, ...]:
        """The names of the source plugins (loading them), sorted: what a delivery offers
        for `source`. The built-in `local` is not one unless a plugin is called that."""
        return tuple(sorted(self.sources))

    def web_url_templates(self) -> dict[str, str]:
        """Each loaded source whose models have web pages, with the page's address,
        `{model_id}` standing for the id (the configured endpoint's, e.g. a mirror's)."""
        return {
            name: plugin.web_url_template
            for name, plugin in sorted(self.sources.items())
            if isinstance(plugin, ModelPages)
        }

    def source_endpoints(self) -> dict[str, str | None]:
        """Each loaded source by name, with where it answers from when it says (`Located`)."""
        return {
            name: plugin.endpoint if isinstance(plugin, Located) else None
            for name, plugin in sorted(self.sources.items())
        }

    def search(
        self,
        query: str | None = None,
        *,
        source: str | None = None,
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
        source: str | None = None,
        filters: SearchFilters | None = None,
        **filter_texts: str | None,
    ) -> dict[str, list[str]]:
        """For a search that found nothing: per filter declared with hints (see
        `search_filter`), values close to the one given that models on the source (matching
        the other filters) or in the vault carry."""
        parsed = _filters(filters, filter_texts)
        return hints.filter_hints(self.source(source), self.store, query, parsed)

    def info(self, model_id: str, *, source: str | None = None) -> ModelInfo:
        """The vault's entry and the source's description of a model (an id, or any
        reference `resolve` reads). Counts as a use of it."""
        source, reference = self.resolve(model_id, source=source)
        model_id = reference.model_id
        with about(source, model_id):
            if source == LOCAL_SOURCE and source not in self.sources:
                return use_cases.local_info(self.store, self.clock, source, model_id)
            plugin = self.source(source)
            with self._parts.suggesting(plugin, model_id):
                return use_cases.info(plugin, self.store, self.clock, model_id)

    def info_unless_held(
        self,
        model_id: str,
        held: Callable[[ModelInfo], bool],
        *,
        source: str | None = None,
    ) -> ModelInfo | None:
        """`info`, or None without marking the model used when `held(current info)` says
        the caller already has exactly that answer (a conditional request)."""
        return use_cases.info_unless_held(
            self.source(source), self.store, self.clock, model_id, held
        )

    # -- downloads: delegates building a DownloadRequest (`devon.downloads`) ---------------

    def download(
        self,
        model_id: str,
        *,
        source: str | None = None,
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
        request = DownloadRequest(model_id, source, quant, include_patterns, force, require_choice)
        return self.downloads.download(request, progress)

    def download_outcome(
        self,
        model_id: str,
        *,
        source: str | None = None,
        force: bool = False,
        include_patterns: Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
        quant: str | None = None,
        require_choice: bool = False,
    ) -> Downloaded:
        """`download`, saying also whether anything was transferred (False: the vault
        already held what was asked for, and its copy is returned marked used)."""
        request = DownloadRequest(model_id, source, quant, include_patterns, force, require_choice)
        return self.downloads.fetch(request, progress)

    def plan_download(
        self,
        model: str,
        *,
        source: str | None = None,
        quant: str | None = None,
        include_patterns: Sequence[str] | None = None,
        force: bool = False,
        require_choice: bool = False,
    ) -> DownloadPlan:
        """What `download` with the same arguments would fetch (files, sizes, total), and
        the same errors, fetching nothing."""
        request = DownloadRequest(model, source, quant, include_patterns, force, require_choice)
        return self.downloads.plan(request)

    def selection(
        self,
        model: str,
        *,
        source: str | None = None,
        quant: str | None = None,
        include_patterns: Sequence[str] | None = None,
        require_choice: bool = False,
    ) -> tuple[str, str, tuple[str, ...] | None]:
        """(source, plain model id, include patterns) for what a user typed (see
        `Downloads.selection`)."""
        request = DownloadRequest(
            model, source, quant, include_patterns, require_choice=require_choice
        )
        return self.downloads.selection(request)

    # -- download jobs (ADR 0110): delegates (`devon.download_jobs`) -------------------------

    def start_download(
        self,
        model_id: str,
        *,
        source: str | None = None,
        force: bool = False,
        include_patterns: Sequence[str] | None = None,
    ) -> Job:
        """Queue a download and return its job at once, without waiting. A request for a
        model that already has a queued or downloading job joins it (same id); a model the
        vault already holds gives a job that has completed. `model_id` may select files
        as in `download`."""
        request = DownloadRequest(model_id, source, include_patterns=include_patterns, force=force)
        return self.download_jobs.start(request)

    def already_present(
        self,
        model_id: str,
        *,
        source: str | None = None,
        force: bool = False,
        include_patterns: Sequence[str] | None = None,
    ) -> LocalModel | None:
        """The vault's copy (marked used) when a download of it would fetch nothing."""
        request = DownloadRequest(model_id, source, include_patterns=include_patterns, force=force)
        return self.download_jobs.already_present(request)

    def job(self, job_id: str) -> Job:
        """A download job by id; NotFound if there is none."""
        return self.download_jobs.get(job_id)

    def jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> JobList:
        """The download jobs (see `DownloadJobs.list`)."""
        return self.download_jobs.list(status=status, limit=limit, after=after)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """The job once it has finished. TimeoutError after `timeout` seconds."""
        return self.download_jobs.wait(job_id, timeout)

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued or downloading job (see `DownloadJobs.cancel`)."""
        return self.download_jobs.cancel(job_id)

    def restart(self, job_id: str) -> Job:
        """Start a failed or cancelled job again under a new id, resuming its partial files."""
        return self.download_jobs.restart(job_id)

    # -- the vault as the Hub shows a repository (ADR 0215): delegates (`devon.hub`) -------

    def hub_model(
        self, model_id: str, revision: str = "main", *, pull: bool = False
    ) -> ServedModel:
        """The vault's copy as a Hub repository (see `HubPaths.model`)."""
        return self.hub.model(model_id, revision, pull=pull)

    def hub_file(
        self,
        model_id: str,
        revision: str,
        path: str,
        *,
        pull: bool = False,
        use: bool = True,
        landed: Callable[[], bool] | None = None,
    ) -> tuple[ServedModel, ServedFile]:
        """File `path` of `hub_model(model_id, revision)` (see `HubPaths.file`)."""
        return self.hub.file(model_id, revision, path, pull=pull, use=use, landed=landed)

    # -- the fleet (ADR 0240) ------------------------------------------------------------

    def ensure(
        self,
        reference: str,
        *,
        source: str | None = None,
        pin: bool = False,
        quant: str | None = None,
        every_file: bool = False,
    ) -> str:
        """Make `reference` (`owner/name[:QUANT]`) present and verified in the vault,
        downloading what is missing (on a fleet host: from its upstream), and return what a
        runtime loads (`devon path`'s rule, ADR 0237; the folder when `every_file` brought
        several quantisations). `pin`: never evicted to make
        room for a placement. `quant` selects a quantisation as `MODEL:QUANT` does; a repo
        of several needs one unless `every_file`."""
        # A repo of several GGUF quantisations needs one named (or `every_file`), as
        # `devon download` does.
        request = DownloadRequest(reference, source, quant, require_choice=not every_file)
        model = self.downloads.download(request)
        _, parsed = self.resolve(reference, source=source)
        if pin:
            fleet = self.fleet_of()
            pinned = Placement(
                model.source,
                model.model_id,
                THIS_HOST,
                True,
                PlacementState.READY,
                self.clock.now(),
                model.size_bytes,
                model.size_bytes,
            )
            fleet.store.put_placements([pinned])
        wanted = quant or parsed.quantization
        held = self.held_quantizations(model)
        if wanted is None and len(held) > 1:
            return model.path  # every file of several quantisations (`every_file`): the folder
        return runtime_path(model, wanted, held)

    def fleet_of(self) -> Fleet:
        """The fleet's hosts and placements kept in this vault's index."""
        if self._fleet is None:
            raise DevonError("This Devon keeps no fleet: build it with devon_app.build_devon()")
        return self._fleet

    # -- the vault: delegates (`devon.vault`) ---------------------------------------------

    def list(self, *, source: str | None = None) -> list[LocalModel]:
        return self.vault.list(source=source)

    def list_json(self, *, source: str | None = None) -> tuple[int, str]:
        """`list` as the model count and the JSON text of the models (see `Vault`)."""
        return self.vault.list_json(source=source)

    def write_list_json(
        self, out: BinaryIO, *, source: str | None = None, head: bytes = b""
    ) -> int:
        """Write `head` and `list_json`'s text to `out`; the model count (see `Vault`)."""
        return self.vault.write_list_json(out, source=source, head=head)

    def get(self, model_id: str, *, source: str | None = None) -> LocalModel | None:
        """The vault's entry for a model, without touching `last_used`."""
        return self.vault.get(model_id, source=source)

    def held(self, model_id: str, *, source: str | None = None) -> LocalModel:
        """The vault's entry for a model named as `remove` takes it (see `Vault.held`)."""
        return self.vault.held(model_id, source=source)

    def remove(self, model_id: str, *, source: str | None = None) -> RemoveResult:
        """Delete a model (its id, URL, or `<source>/<owner>/<name>` as DEVON prints it)."""
        return self.vault.remove(model_id, source=source)

    def change_counter(self) -> int:
        """Changes whenever what `list`, `get` and `status` may return has changed."""
        return self.vault.change_counter()

    def status(self) -> StorageStatus:
        return self.vault.status()

    def staging_bytes(self) -> int:
        """Bytes unfinished downloads hold in staging (`status().staging_bytes`)."""
        return self.vault.staging_bytes()

    def partial_bytes(self) -> int:
        """Bytes that have arrived for unfinished downloads (`status().partial_bytes`)."""
        return self.vault.partial_bytes()

    def unfinished_downloads(self) -> "tuple[StagedDownload, ...]":
        """Each unfinished download's staging (see `Vault.unfinished_downloads`)."""
        return self.vault.unfinished_downloads()

    def space(self) -> StorageSpace:
        """Free bytes on the vault's disk, bytes the vault's models use, and the quota."""
        return self.vault.space()

    def export(
        self, format: ExportFormat | str = ExportFormat.KITT, *, gguf_files: bool = False
    ) -> ExportResult:
        """The vault's models for KITT or as JSON (see `Vault.export`)."""
        return self.vault.export(format, gguf_files=gguf_files)

    def held_quantizations(self, model: LocalModel) -> tuple[Quantization, ...]:
        """The GGUF quantisations the vault's copy of `model` holds, with their sizes."""
        return self.vault.held_quantizations(model)

    def path(self, reference: str, *, source: str | None = None) -> str:
        """The one file or folder a runtime should load for `reference` (see `Vault.path`)."""
        return self.vault.path(reference, source=source)

    # -- maintenance: delegates (`devon.maintenance`, `devon.hf_cache`) --------------------

    def diagnose(self) -> Diagnosis:
        """What `devon doctor` shows (see `Maintenance.diagnose`)."""
        return self.maintenance.diagnose()

    def rebuild_index(self) -> int:
        """Re-derive the vault's index from disk (see `Maintenance.rebuild_index`)."""
        return self.maintenance.rebuild_index()

    def copy_index(self, target: str, *, replace: bool = False) -> IndexCopy:
        """Copy the vault's index to `target` (see `Maintenance.copy_index`)."""
        return self.maintenance.copy_index(target, replace=replace)

    def import_legacy(self, legacy_root: str, *, move: bool = False) -> ImportReport:
        """Bring the models of a DEVON 1.x vault in (see `Maintenance.import_legacy`)."""
        return self.maintenance.import_legacy(legacy_root, move=move)

    def clean(
        self,
        *,
        unused: bool = False,
        days: int = DEFAULT_CLEAN_DAYS,
        all: bool = False,
        dry_run: bool = False,
        only: Collection[str] | None = None,
        partial: bool = False,
        source: str | None = None,
    ) -> CleanResult:
        """Remove unused models, or all (see `Maintenance.clean`)."""
        return self.maintenance.clean(
            unused=unused,
            days=days,
            all=all,
            dry_run=dry_run,
            only=only,
            partial=partial,
            source=source,
        )

    def scan(
        self, *, reconcile: bool = False, move: bool = False, dry_run: bool = False
    ) -> ScanResult:
        """Register model folders placed in the vault by hand (see `Maintenance.scan`)."""
        return self.maintenance.scan(reconcile=reconcile, move=move, dry_run=dry_run)

    def link_cache(self, cache: str | None = None, *, dry_run: bool = False) -> ViewReport:
        """Make the Hugging Face cache show every model of the vault (see
        `HuggingFaceCache.link`).

        >>> report = devon.link_cache(dry_run=True)
        >>> [(r.repo_id, r.revision) for r in report.linked]
        """
        return self.hf_cache.link(cache, dry_run=dry_run)

    def unlink_cache(self, cache: str | None = None, *, dry_run: bool = False) -> ViewReport:
        """Remove from the cache everything `link_cache` made there, and nothing else."""
        return self.hf_cache.unlink(cache, dry_run=dry_run)

    def adopt(
        self,
        model_ids: Sequence[str] | None = None,
        *,
        cache: str | None = None,
        move: bool = False,
        dry_run: bool = False,
    ) -> AdoptReport:
        """Bring models already in the Hugging Face cache into the vault without downloading
        them (see `HuggingFaceCache.adopt`).

        >>> report = devon.adopt(dry_run=True)
        >>> [m.model_id for m in report.adopted], report.skipped
        """
        return self.hf_cache.adopt(model_ids, cache=cache, move=move, dry_run=dry_run)


def _filters(filters: SearchFilters | None, texts: dict[str, str | None]) -> SearchFilters:
    """One SearchFilters from a parsed object or from typed texts, not both."""
    if filters is None:
        return SearchFilters.parse(**texts)
    if texts:
        raise TypeError("give search filters either as `filters` or by name, not both")
    return filters
