"""`Devon`: the one object a library user, the HTTP app and the CLI all talk to."""

import logging
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from typing import BinaryIO

import attrs

from devon_core import adoption, cache_view, hints, hub_protocol, job_use_cases, use_cases
from devon_core.adoption import AdoptReport
from devon_core.cache_view import CacheView, ViewReport
from devon_core.download_plan import DownloadPlan, plan_download
from devon_core.errors import (
    DevonError,
    DownloadFailed,
    InvalidInput,
    NotFound,
    SelectionNotFound,
    about,
)
from devon_core.fleet import (
    THIS_HOST,
    Fleet,
    MemoryFleetStore,
    Placement,
    PlacementState,
)
from devon_core.hub_protocol import FileIdentities, ServedFile, ServedModel
from devon_core.identifiers import LOCAL_SOURCE, validate_model_id, validate_source_name
from devon_core.jobs import Job, JobList, JobStatus, check_page_limit, page_of
from devon_core.models import LocalModel
from devon_core.partial_downloads import clean_partial
from devon_core.ports import (
    Clock,
    IndexedStore,
    JobRunner,
    JobStore,
    ListingWriter,
    Located,
    ModelCache,
    ModelPages,
    ModelSource,
    ModelStore,
    ObservableStore,
    ProgressCallback,
    SourcedCache,
)
from devon_core.quantizations import Quantization, literal_pattern, parse_quant_tag
from devon_core.references import ModelReference, ReferenceParser, parse_reference
from devon_core.results import (
    DEFAULT_CLEAN_DAYS,
    DEFAULT_SEARCH_LIMIT,
    CleanRequest,
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
from devon_core.rules import select_files
from devon_core.runtime_paths import held_file_path, runtime_path, stored_quantizations
from devon_core.suggestions import did_you_mean

log = logging.getLogger(__name__)


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
        sources: Iterable[ModelSource] | Callable[[], Iterable[ModelSource]] = (),
        default_source: str | None = None,
        open_cache: Callable[[str | None], ModelCache] | None = None,
        cache_source: str | None = None,
        import_legacy: Callable[[str, bool], ImportReport] | None = None,
        jobs: JobStore | None = None,
        runner: JobRunner | None = None,
        open_view: Callable[[str | None], CacheView] | None = None,
        keep_view: bool = False,
        file_identities: FileIdentities | None = None,
    ) -> None:
        given = [source] if source is not None else []
        self.store = store
        self.clock = clock
        self.open_cache = open_cache
        """Opens the Hugging Face cache at a directory (None: the configured one)."""
        self.cache_source = cache_source
        """The source the cache's models are adopted under (default: the default source)."""
        self._import_legacy = import_legacy
        if callable(sources):
            load = sources
            self.sources: Mapping[str, ModelSource] = SourcePlugins(lambda: [*given, *load()])
        else:
            every = [*given, *sources]
            self.sources = {s.name: s for s in every}
        self._default_source = (
            default_source
            if default_source is not None
            else (source.name if source is not None else None)
        )
        if self._default_source is None and isinstance(self.sources, dict) and self.sources:
            self._default_source = next(iter(self.sources))
        self.job_store = jobs
        self.runner = runner
        """Set both (`devon_app.attach_jobs` does) to use the job methods."""
        self.open_view = open_view
        """Opens a Hugging Face cache view at a directory (None: the configured cache)."""
        self.kept_view: CacheView | None = None
        """The view kept current after every change of the vault (`keep_view`), if any."""
        if keep_view and open_view is not None:
            self.kept_view = open_view(None)
            if isinstance(store, ObservableStore):
                store.observe(self._follow)
        self.file_identities = file_identities
        """Reads the Hub identities of a model's files (for `hub_model`, `hub_file`)."""
        self.fleet: Fleet | None = Fleet(MemoryFleetStore(), clock)
        """Hosts and placements (in memory; `devon_app.build_devon` keeps them in the
        vault's index)."""

    @property
    def default_source(self) -> str:
        """The source used when a call names none: `default_source` as given (the
        `default_source` setting), else the first source given."""
        if self._default_source is None:
            raise InvalidInput("No source named and this Devon has no default source")
        return self._default_source

    def _named(self, source: str | None) -> str:
        return self.default_source if source is None else source

    def source(self, name: str | None = None) -> ModelSource:
        """The source plugin called `name` (default: the default source); InvalidInput if
        there is none."""
        return use_cases.resolve_source(self.sources, self._named(name))

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

    def resolve(self, text: str, *, source: str | None = None) -> tuple[str, ModelReference]:
        """The source and the reference a user typed, read by that source: an id,
        `owner/name:QUANT`, a URL the source knows, or an id as DEVON prints it,
        `<source>/<id>` (ADR 0172). A source that parses no references of its own gets the
        generic forms (`owner/name`, `name`, `owner/name:QUANT`)."""
        source, text = self._source_prefix(text, source)
        plugin = self.sources.get(source)
        if isinstance(plugin, ReferenceParser):
            return source, plugin.parse_reference(text)
        if isinstance(text, str) and "://" in text:
            raise InvalidInput(
                f"{text!r} is a URL, and source {source!r} reads none: give the model's id"
            )
        return source, parse_reference(text)

    def _source_prefix(self, text: str, source: str | None) -> tuple[str, str]:
        """`<source>/<id>` -> (`source`, `id`) when `source` is a known source (a plugin,
        or one the vault holds models of) and the rest is one of its ids: for a source
        that reads references, one it reads (unless the whole text is already a reference
        of the chosen source: `huggingface/gpt2` is a Hub id); for any other, `owner/name`.
        Anything else is left as it is, for the chosen source."""
        chosen = self._named(source)
        if not isinstance(text, str) or "://" in text:
            return chosen, text
        first, _, rest = text.strip().partition("/")
        if not rest or not self._may_name_a_source(first, rest):
            return chosen, text
        plugin = self.sources.get(first)
        if isinstance(plugin, ReferenceParser):
            if first == chosen and self._reads(chosen, text.strip()):
                return chosen, text  # an id of the chosen source (`huggingface/gpt2`)
            if not self._reads(first, rest):
                return chosen, text
        elif rest.count("/") != 1:
            return chosen, text
        if source not in (None, first):
            raise InvalidInput(f"{text!r} names source {first!r}, but --source is {source!r}")
        return first, rest

    def plain_id(self, text: str, *, source: str | None = None) -> str:
        """`text` if it is a plain id of `source` (no URL, quantisation or file), checked
        by the source's own grammar when it has one, else by the core's path safety;
        InvalidInput otherwise. Touches neither the vault nor the network."""
        name = self._named(source)
        validate_model_id(text)
        plugin = self.sources.get(name)
        if isinstance(plugin, ReferenceParser):
            reference = plugin.parse_reference(text)
            if reference.selects or reference.model_id != text:
                raise InvalidInput(f"Invalid model id {text!r}: expected a plain id")
        return text

    def _reads(self, source: str, text: str) -> bool:
        """Whether `text` is a reference `source` accepts."""
        plugin = self.sources.get(source)
        try:
            if isinstance(plugin, ReferenceParser):
                plugin.parse_reference(text)
            else:
                parse_reference(text)
        except InvalidInput:
            return False
        return True

    def _may_name_a_source(self, first: str, rest: str) -> bool:
        """Whether `first/rest` may be a printed id `<source>/<id>`: `first` is a known
        source, or `rest` is `<owner>/<name>` and the vault holds models of a source
        `first` (the vault is read only then: a plain `owner/name` never reads it)."""
        if first in self._known_sources:
            return True
        return rest.count("/") == 1 and self._is_source(first)

    def _is_source(self, name: str) -> bool:
        """A known source, or one the vault holds models of (read only for an unknown name)."""
        return name in self._known_sources or name in self.store.status().sources

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
        source, plain_id, patterns = self.selection(
            model_id,
            source=source,
            quant=quant,
            include_patterns=include_patterns,
            require_choice=require_choice,
        )
        plugin = self.source(source)
        with about(source, plain_id), self._suggesting(plugin, plain_id):
            return use_cases.download_outcome(
                plugin,
                self.store,
                self.clock,
                plain_id,
                force=force,
                include_patterns=patterns,
                progress=progress,
            )

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

    def _reference(
        self, model: str, source: str | None, quant: str | None
    ) -> tuple[str, ModelReference]:
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

    def info(self, model_id: str, *, source: str | None = None) -> ModelInfo:
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
        source: str | None = None,
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
        return self.download_outcome(
            model_id,
            source=source,
            force=force,
            include_patterns=include_patterns,
            progress=progress,
            quant=quant,
            require_choice=require_choice,
        ).model

    def selection(
        self,
        model: str,
        *,
        source: str | None = None,
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
        source: str | None = None,
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
        source: str | None = None,
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

    def jobs(
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
                "This Devon has no job store: build it with devon_app.build_devon(), "
                "or call devon_app.attach_jobs(devon)"
            )
        return self.job_store

    def _runner(self) -> JobRunner:
        if self.runner is None:
            raise DevonError(
                "This Devon has no job runner: build it with devon_app.build_devon(), "
                "or call devon_app.attach_jobs(devon)"
            )
        return self.runner

    # -- the vault as the Hub shows a repository (ADR 0215) ----------------------------------

    def hub_model(
        self, model_id: str, revision: str = "main", *, pull: bool = False
    ) -> ServedModel:
        """The vault's copy of `model_id` (of the default source) as a Hub repository at
        `revision`: `main`, its commit, or a prefix of it (RevisionNotFound otherwise).
        NotFound when the vault lacks it, unless `pull`: then a model the vault lacks or
        holds only some files of is listed from the upstream source's metadata, merged with
        what the vault holds; no file is downloaded (ADR 0255)."""
        source = self.default_source
        with about(source, model_id):
            return hub_protocol.served_model(
                self.store,
                self._identities(),
                source,
                model_id,
                revision,
                partial(self.source(source).info, model_id) if pull else None,
            )

    def hub_file(
        self, model_id: str, revision: str, path: str, *, pull: bool = False, use: bool = True
    ) -> tuple[ServedModel, ServedFile]:
        """File `path` of `hub_model(model_id, revision)`: EntryNotFound when the copy has no
        such file. With `use`, reading it marks the model used. With `pull`, a file the vault
        lacks is downloaded first (that file only), by a job other requests join."""
        source = self.default_source
        with about(source, model_id):
            return hub_protocol.served_file(
                self.store,
                self.clock,
                self._identities(),
                source,
                model_id,
                revision,
                path,
                partial(self._pull, source, model_id) if pull else None,
                use=use,
            )

    PULL_ATTEMPTS = 3
    """Jobs a pull may wait for: a running job it joins may fetch other files than it needs."""

    def _pull(self, source: str, model_id: str, patterns: tuple[str, ...] | None) -> LocalModel:
        for _ in range(self.PULL_ATTEMPTS):
            job = self.start_download(model_id, source=source, include_patterns=patterns)
            self.wait(job.id).outcome()
            present = self.store.get(source, model_id)
            if present is not None and use_cases.covers(present, patterns, False, job.created_at):
                return present
        raise DownloadFailed(
            f"The vault did not receive {model_id} after {self.PULL_ATTEMPTS} downloads"
        )

    def _identities(self) -> FileIdentities:
        if self.file_identities is None:
            raise DevonError(
                "This Devon cannot read its files' Hub identities: build it with "
                "devon_app.build_devon()"
            )
        return self.file_identities

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
        model = self.download(reference, source=source, quant=quant, require_choice=not every_file)
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
        if self.fleet is None:
            raise DevonError("This Devon keeps no fleet: build it with devon_app.build_devon()")
        return self.fleet

    def list(self, *, source: str | None = None) -> list[LocalModel]:
        known = self._known_sources if source is not None else frozenset()  # no plugin load
        return use_cases.list_models(self.store, source, known)

    def list_json(self, *, source: str | None = None) -> tuple[int, str]:
        """`list` as the model count and the JSON text of the models (as `json.dumps` writes
        their unstructured form), without an object per model: for large listings."""
        known = self._known_sources if source is not None else frozenset()  # no plugin load
        return use_cases.list_models_json(self.store, source, known)

    def write_list_json(
        self, out: BinaryIO, *, source: str | None = None, head: bytes = b""
    ) -> int:
        """Write `head` and then `list_json`'s text to `out` as UTF-8, and return the model
        count: the whole listing goes from the store's kept copy to `out` without passing
        through Python when the store can (`devon list --json` at 100,000 models). Nothing
        reaches `out` unless the listing could be read, so a failure leaves no half JSON."""
        if source is None and isinstance(self.store, ListingWriter):
            return self.store.write_list_json(out, head)
        count, text = self.list_json(source=source)
        out.write(head + text.encode("utf-8"))
        return count

    def get(self, model_id: str, *, source: str | None = None) -> LocalModel | None:
        """The vault's entry for a model, without touching `last_used`."""
        source = self._named(source)
        with about(source, model_id):
            return use_cases.get(self.store, source, model_id)

    def held(self, model_id: str, *, source: str | None = None) -> LocalModel:
        """The vault's entry for a model named as `remove` takes it (an id, a URL its source
        reads, `<source>/<id>`), without touching `last_used`; NotFound (with "did you
        mean" ids of the vault) when the vault does not hold it."""
        source, reference = self.resolve(model_id, source=source)
        with about(source, reference.model_id):
            present = use_cases.get(self.store, source, reference.model_id)
            if present is not None:
                return present
            try:
                use_cases.remove(self.store, source, reference.model_id, self._known_sources)
            except NotFound as error:
                raise self._not_held(error, source, reference.model_id) from error
            raise NotFound(f"Model {reference.model_id!r} is not in the vault")

    def remove(self, model_id: str, *, source: str | None = None) -> RemoveResult:
        """Delete a model (its id, URL, or `<source>/<owner>/<name>` as DEVON prints it)."""
        source, reference = self.resolve(model_id, source=source)
        with about(source, reference.model_id):
            try:
                return use_cases.remove(self.store, source, reference.model_id, self._known_sources)
            except NotFound as error:
                raise self._not_held(error, source, reference.model_id) from error

    def _not_held(self, error: NotFound, source: str, model_id: str) -> NotFound:
        known = [m.model_id for m in self.store.list(source)] if self._is_source(source) else []
        return NotFound(f"{error}{did_you_mean(model_id, known)}")

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

    def diagnose(self) -> Diagnosis:
        """What `devon doctor` shows: the vault's status and free space, and each source
        asked for one model."""
        return use_cases.diagnose(self.store, self.sources)

    def rebuild_index(self) -> int:
        """Re-derive the vault's index from the model directories on disk; the number of
        models it then lists. InvalidInput for a store that has no index."""
        if not isinstance(self.store, IndexedStore):
            raise InvalidInput("this vault's store has no index to rebuild")
        count = self.store.rebuild_index()
        self._relink()
        return count

    def copy_index(self, target: str, *, replace: bool = False) -> IndexCopy:
        """Copy the vault's index to `target` (for the disk vault: `sqlite`, the index file
        in the vault, or a postgresql:// URL); the files stay where they are. InvalidInput
        for a store that has no index, or a target it refuses."""
        if not isinstance(self.store, IndexedStore):
            raise InvalidInput("this vault's store has no index to copy")
        return self.store.copy_index(target, replace=replace)

    def import_legacy(self, legacy_root: str, *, move: bool = False) -> ImportReport:
        """Bring the models of a DEVON 1.x vault into this vault (see
        `devon_adapters.import_legacy_vault`); its report. InvalidInput when this vault
        cannot import one."""
        if self._import_legacy is None:
            raise InvalidInput("this vault's store cannot import a 1.x vault")
        return self._import_legacy(legacy_root, move)  # commits: the kept view follows

    def status(self) -> StorageStatus:
        return use_cases.status(self.store)

    def staging_bytes(self) -> int:
        """Bytes unfinished downloads hold in staging, read on its own (cheap): what
        `status().staging_bytes` says."""
        return self.store.staging_bytes()

    def partial_bytes(self) -> int:
        """Bytes that have arrived for unfinished downloads (`status().partial_bytes`): less
        than `staging_bytes` while preallocated files wait for the rest."""
        return self.store.partial_bytes()

    def unfinished_downloads(self) -> "tuple[StagedDownload, ...]":
        """Each unfinished download's staging, with its bytes arrived and on disk, sorted by
        (source, model_id): what `clean(partial=True)` may remove."""
        return tuple(self.store.staged())

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
        source: str | None = None,
    ) -> CleanResult:
        """Remove unused models, or all. `only` (keys `<source>/<model_id>`) limits the run
        to models a person was shown, e.g. by a dry run, and confirmed. `partial` also
        removes what unfinished downloads hold in staging, except a running one's (and,
        with `only`, just the staging of those keys). `source` limits it to that source's
        models; models of the `local` source (placed by hand) are removed only when it
        names `local`, and are otherwise reported in `skipped_local`."""
        if source is not None:
            validate_source_name(source)
        request = CleanRequest(unused=unused, days=days, all=all, dry_run=dry_run, source=source)
        result = use_cases.clean(self.store, self.clock, request, only)
        if not partial:
            return result
        staged = clean_partial(self.store, dry_run, only)
        return attrs.evolve(
            result, partial_models=staged.models, partial_freed_bytes=staged.freed_bytes
        )

    def export(
        self, format: ExportFormat | str = ExportFormat.KITT, *, gguf_files: bool = False
    ) -> ExportResult:
        """The vault's models for KITT (one path a line) or as JSON. `gguf_files` (kitt
        only): one line per GGUF quantisation a model holds, the file a runtime opens."""
        export_format = format if isinstance(format, ExportFormat) else ExportFormat.parse(format)
        return use_cases.export(self.store, export_format, gguf_files)

    def held_quantizations(self, model: LocalModel) -> tuple[Quantization, ...]:
        """The GGUF quantisations the vault's copy of `model` holds, with their sizes."""
        return stored_quantizations(self.store, model)

    def path(self, reference: str, *, source: str | None = None) -> str:
        """The one file or folder a runtime should load for `reference` (`owner/name` or
        `owner/name:QUANT`, any form `resolve` reads) from the vault (ADR 0237): the
        quantisation's GGUF file (its first shard), the model's only GGUF file, or its
        folder when it holds none. NotFound when the vault lacks the model or the
        quantisation; ChoiceNeeded when it holds several and none is named. Counts as a
        use of the model (a runtime is about to load it)."""
        _, selection = self.resolve(reference, source=source)
        model = self.held(reference, source=source)
        with about(model.source, model.model_id):
            if selection.files:  # a file URL: that file
                found = held_file_path(model, selection.files)
            else:
                held = self.held_quantizations(model)
                found = runtime_path(model, selection.quantization, held)
        self.store.mark_used(model.source, model.model_id, self.clock.now())
        return found

    def scan(
        self, *, reconcile: bool = False, move: bool = False, dry_run: bool = False
    ) -> ScanResult:
        """Register model folders placed in the vault by hand, where they are: under a
        source's folder as that source, anywhere else under the built-in `local` source,
        with metadata inferred from their files. Nothing moves unless `move` (then a folder
        outside a source's folder goes to `local/<name>`, reported in `moved`); nothing is
        written outside the vault. Folders with no model file, still being written, or
        resolving outside the vault are skipped and reported. `reconcile` also drops the
        models whose folder is gone. `dry_run` reports what would be done, changing
        nothing."""
        result = use_cases.scan(
            self.store, self.sources.keys(), reconcile, move=move, dry_run=dry_run
        )
        if not dry_run:
            moved = [m.model for m in result.moved]
            self._follow_keys(
                cache_view.changed_keys([*result.registered, *result.dropped, *moved])
            )
        return result

    def link_cache(self, cache: str | None = None, *, dry_run: bool = False) -> ViewReport:
        """Make the Hugging Face cache at `cache` (default: the configured one) show every
        model of the vault, as hard links to the vault's files (symbolic links across
        filesystems), and remove what DEVON made there for models no longer held. Folders
        DEVON did not make are never touched (ADR 0221).

        >>> report = devon.link_cache(dry_run=True)
        >>> [(r.repo_id, r.revision) for r in report.linked]
        """
        return cache_view.link(self._view(cache), self.store, dry_run)

    def unlink_cache(self, cache: str | None = None, *, dry_run: bool = False) -> ViewReport:
        """Remove from the cache everything `link_cache` made there, and nothing else."""
        return cache_view.unlink(self._view(cache), dry_run)

    def _view(self, cache: str | None) -> CacheView:
        if self.open_view is None:
            raise InvalidInput("This DEVON has no Hugging Face cache view configured")
        return self.open_view(cache)

    def _follow(self, source: str, model_id: str) -> None:
        self._follow_keys([(source, model_id)])

    def _follow_keys(self, changed: Sequence[tuple[str, str]]) -> None:
        """Bring the kept view up to date with models that changed; a view that cannot be
        written is logged, never the vault operation's failure."""
        if self.kept_view is None or not changed:
            return
        try:
            sources = {*self._known_sources, LOCAL_SOURCE}  # `local` is built in
            report = cache_view.follow(self.kept_view, self.store, changed, sources)
        except Exception:
            log.exception("Could not update the Hugging Face cache view")
            return
        for skip in report.skipped:
            log.warning("Hugging Face cache view: %s not shown: %s", skip.repo_id, skip.detail)

    def _relink(self) -> None:
        """The whole kept view again, after a change of many models at once."""
        if self.kept_view is None:
            return
        try:
            cache_view.link(self.kept_view, self.store)
        except Exception:
            log.exception("Could not update the Hugging Face cache view")

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
        opened = self.open_cache(cache)
        name = self.cache_source or (
            opened.source_name if isinstance(opened, SourcedCache) else self.default_source
        )
        return adoption.adopt(
            opened,
            self.store,
            self.clock,
            self.sources.get(name),
            name,
            model_ids,
            move=move,
            dry_run=dry_run,
            valid_id=lambda text: self.plain_id(text, source=name),
        )


def _filters(filters: SearchFilters | None, texts: dict[str, str | None]) -> SearchFilters:
    """One SearchFilters from a parsed object or from typed texts, not both."""
    if filters is None:
        return SearchFilters.parse(**texts)
    if texts:
        raise TypeError("give search filters either as `filters` or by name, not both")
    return filters
