"""The use cases. Each takes the ports it needs and holds no state of its own."""

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import ExitStack
from datetime import datetime

from devon_core.commit_metadata import CommitMetadata, DeclaredFile, ModelDescription
from devon_core.errors import (
    DevonError,
    DownloadFailed,
    Forbidden,
    InvalidInput,
    NotFound,
    SourceUnavailable,
)
from devon_core.filters import validate_include_patterns
from devon_core.identifiers import LOCAL_SOURCE, validate_model_id, validate_source_name
from devon_core.jobs import merge_patterns, patterns_cover
from devon_core.models import LocalModel, RemoteModel
from devon_core.ports import (
    Clock,
    FileProgressCallback,
    IndexedStore,
    Located,
    ModelSource,
    ModelStore,
    ProgressCallback,
    StopSignal,
)
from devon_core.results import (
    MAX_SEARCH_LIMIT,
    MIN_SEARCH_LIMIT,
    CleanFailure,
    CleanRequest,
    CleanResult,
    Diagnosis,
    Downloaded,
    ExportFormat,
    ExportResult,
    ModelInfo,
    RemoveResult,
    ScanResult,
    SearchFilters,
    SearchResult,
    SourceCheck,
    StorageSpace,
    StorageStatus,
)
from devon_core.rules import (
    build_export,
    check_room,
    quantization_of,
    select_files,
    select_for_clean,
    spared_by_clean,
)
from devon_core.runtime_paths import stored_quantizations


def resolve_source(sources: Mapping[str, ModelSource], name: str) -> ModelSource:
    validate_source_name(name)
    try:
        return sources[name]
    except KeyError:
        if name == LOCAL_SOURCE:
            raise InvalidInput(
                f"The {LOCAL_SOURCE!r} source holds models placed in the vault by hand "
                "(devon scan): it has nothing to search or download"
            ) from None
        raise _unknown_source(name, sources) from None


def known_source_names(sources: Iterable[str]) -> frozenset[str]:
    """The source names models can be listed and removed under: every plugin's, and the
    built-in `local`."""
    return frozenset({*sources, LOCAL_SOURCE})


def _unknown_source(name: str, sources: Iterable[str]) -> InvalidInput:
    known = ", ".join(sorted(sources)) or "none"
    return InvalidInput(f"Unknown source {name!r}: known sources are {known}")


def search(
    source: ModelSource, query: str | None, filters: SearchFilters, limit: int
) -> SearchResult:
    if isinstance(limit, bool) or not MIN_SEARCH_LIMIT <= limit <= MAX_SEARCH_LIMIT:
        raise InvalidInput(
            f"limit must be between {MIN_SEARCH_LIMIT} and {MAX_SEARCH_LIMIT}, got {limit}"
        )
    query = query.strip() or None if query else None
    found = source.search(query, filters, limit)
    ranked = sorted((m for m in found if filters.matches(m)), key=lambda m: -m.downloads)
    return SearchResult(query=query, source=source.name, results=tuple(ranked[:limit]))


def local_info(store: ModelStore, clock: Clock, source: str, model_id: str) -> ModelInfo:
    """The vault's entry of a model no plugin describes (the `local` source), marking it
    used; NotFound if the vault lacks it."""
    validate_model_id(model_id)
    local = store.mark_used(source, model_id, clock.now())
    if local is None:
        raise NotFound(f"Model {source}/{model_id} is not in the vault")
    return _info(store, local, None)


def info(source: ModelSource, store: ModelStore, clock: Clock, model_id: str) -> ModelInfo:
    """The vault's entry (marking it used) and the source's description. Either may be
    missing, not both. The source being unreachable only matters when the vault lacks it."""
    validate_model_id(model_id)
    local = store.mark_used(source.name, model_id, clock.now())
    return _info(store, local, _remote_info(source, model_id, local))


def info_unless_held(
    source: ModelSource,
    store: ModelStore,
    clock: Clock,
    model_id: str,
    held: Callable[[ModelInfo], bool],
) -> ModelInfo | None:
    """`info`, unless the caller already holds the answer as it stands (`held` says so for
    the model's current entry and description): then None, and the model is not marked
    used. Checking that a copy is still current is not a use of the model; marking it would
    make that copy stale at once (conditional GET, docs/http-api.md)."""
    validate_model_id(model_id)
    current = store.get(source.name, model_id)
    remote = _remote_info(source, model_id, current)
    if held(_info(store, current, remote)):
        return None
    local = store.mark_used(source.name, model_id, clock.now()) if current else None
    return _info(store, local, remote)


def _info(store: ModelStore, local: LocalModel | None, remote: RemoteModel | None) -> ModelInfo:
    """A model's info, with the quantisations the vault's copy holds."""
    held = stored_quantizations(store, local) if local is not None else ()
    return ModelInfo(local=local, remote=remote, local_quantizations=held)


def _remote_info(
    source: ModelSource, model_id: str, local: LocalModel | None
) -> RemoteModel | None:
    try:
        remote: RemoteModel | None = source.info(model_id)
    except NotFound:
        remote = None
    except (SourceUnavailable, Forbidden):
        if local is None:
            raise
        remote = None
    if local is None and remote is None:
        raise NotFound(f"Model {model_id!r} is neither in the vault nor on {source.name}")
    return remote


def download(
    source: ModelSource,
    store: ModelStore,
    clock: Clock,
    model_id: str,
    *,
    force: bool = False,
    include_patterns: Sequence[str] | None = None,
    progress: ProgressCallback | None = None,
    before_commit: Callable[[], None] | None = None,
    stop: StopSignal | None = None,
) -> LocalModel:
    """The vault's copy after `download_outcome` with the same arguments."""
    return download_outcome(
        source,
        store,
        clock,
        model_id,
        force=force,
        include_patterns=include_patterns,
        progress=progress,
        before_commit=before_commit,
        stop=stop,
    ).model


def download_outcome(
    source: ModelSource,
    store: ModelStore,
    clock: Clock,
    model_id: str,
    *,
    force: bool = False,
    include_patterns: Sequence[str] | None = None,
    progress: ProgressCallback | None = None,
    before_commit: Callable[[], None] | None = None,
    stop: StopSignal | None = None,
) -> Downloaded:
    """Bring a model into the vault, or return it if it is already there (`transferred`
    says which).

    A model already in the vault gains the files `include_patterns` name that it lacks (its
    files become the union; nothing it holds is fetched again); `force` fetches again the
    files the patterns name (all, without patterns) and keeps the others. The download
    lands in staging and is committed only once complete, so a failure leaves the vault as
    it was. Concurrent calls for one model download it once: the later caller waits on the
    lock and then finds it present. `before_commit` runs just before the commit and may
    raise to stop it (a cancelled job); `stop` goes to the source, which closes its
    connections and raises DownloadCancelled once it is set.
    """
    validate_model_id(model_id)
    patterns = validate_include_patterns(include_patterns)
    requested_at = clock.now()
    with store.lock(source.name, model_id):
        present = store.get(source.name, model_id)
        if present is not None and covers(present, patterns, force, requested_at):
            return _held(store, clock, source.name, present)
        remote = source.info(model_id)
        wanted = select_files(remote, patterns)
        if not wanted:
            raise InvalidInput(
                f"include_patterns {list(patterns or [])} match none of the "
                f"{len(remote.files)} files of {model_id}"
            )
        held = set(present.files) if present is not None else set()
        fetch = [f for f in wanted if force or f.path not in held]
        if not fetch and present is not None:  # other patterns naming only files it holds
            return _held(store, clock, source.name, present)
        carry = sorted(held - {f.path for f in fetch})
        with ExitStack() as room:  # the reservation, held until the commit is done
            staging = store.stage(source.name, model_id)
            try:
                needed = staging.bytes_still_needed(fetch)
                replaced = sum(f.size_bytes for f in fetch if f.path in held)
                adding = sum(f.size_bytes for f in fetch)

                def fits(space: StorageSpace) -> None:
                    check_room(needed, space, replaced, adding)

                # Room is held vault-wide until the commit, so downloads running at once (in
                # any process) can never together pass the quota or the free disk (ADR 0102).
                room.enter_context(store.reserve(staging, adding, replaced, fits))
                if isinstance(progress, FileProgressCallback):
                    progress.files(0, len(fetch))
                files = source.download(remote, fetch, staging.path, progress, stop=stop)
                if sorted(files) != sorted(f.path for f in fetch):
                    raise DownloadFailed(f"Download of {model_id} did not deliver every file")
                if before_commit is not None:
                    before_commit()
            except BaseException:
                store.unstage(staging)
                raise
            everything = sorted({*files, *carry})
            recorded = (
                merge_patterns(recorded_patterns(present), patterns)
                if present is not None
                else patterns
            )
            metadata = _metadata(remote, recorded, everything)
            now = clock.now()
            committed = store.commit(staging, everything, now, metadata, carry_over=carry)
            if present is not None:
                # Files added to a held model at the user's request: a use of it, so that
                # `last_used` is never older than the `downloaded_at` the commit moved.
                committed = store.mark_used(source.name, model_id, now) or committed
            return Downloaded(
                committed,
                transferred=True,
                fetched=tuple(sorted(files)),
                fetched_bytes=sum(f.size_bytes for f in fetch),
            )


def _held(store: ModelStore, clock: Clock, source: str, present: LocalModel) -> Downloaded:
    """The vault's copy answers the request: marked used, nothing transferred."""
    used = store.mark_used(source, present.model_id, clock.now()) or present
    return Downloaded(used, transferred=False)


def diagnose(store: ModelStore, sources: Mapping[str, ModelSource]) -> Diagnosis:
    """The vault's status and free space, and each source asked for one model."""
    checks = []
    for name, source in sorted(sources.items()):
        endpoint = source.endpoint if isinstance(source, Located) else None
        try:
            source.search(None, SearchFilters(), 1)
        except DevonError as error:
            checks.append(SourceCheck(name, False, str(error), endpoint))
        else:
            checks.append(SourceCheck(name, True, "", endpoint))
    index = store.describe_index() if isinstance(store, IndexedStore) else None
    return Diagnosis(store.status(), store.space().free_bytes, tuple(checks), index)


def recorded_patterns(model: LocalModel) -> tuple[str, ...] | None:
    """The include patterns the vault's copy was downloaded with (None: every file)."""
    patterns = model.metadata.get("include_patterns")
    return tuple(patterns) if isinstance(patterns, list | tuple) and patterns else None


def covers(
    present: LocalModel,
    patterns: Sequence[str] | None,
    force: bool,
    requested_at: datetime,
) -> bool:
    """Whether the vault's copy answers a request without a download: it holds every file
    (or at least what the same patterns named) and the request does not force a new copy,
    or a forced copy arrived after the request was made (a concurrent forced download)."""
    if not patterns_cover(recorded_patterns(present), patterns):
        return False
    return not force or present.downloaded_at >= requested_at


def _metadata(
    remote: RemoteModel, patterns: Sequence[str] | None, files: Sequence[str]
) -> CommitMetadata:
    return CommitMetadata(
        described=ModelDescription(
            revision=remote.revision,
            include_patterns=tuple(patterns) if patterns else None,
            parameter_count=remote.parameter_count,
            format=tuple(remote.format),
            quantization=quantization_of(remote, files) if patterns else remote.quantization,
            architecture=remote.architecture,
            license=remote.license,
        ),
        declared_files=declared_files(remote, files),
    )


def declared_files(remote: RemoteModel, files: Collection[str]) -> dict[str, DeclaredFile]:
    """What the source's listing declares of `files` (size, LFS sha256), by path."""
    wanted = set(files)
    return {f.path: DeclaredFile(f.size_bytes, f.sha256) for f in remote.files if f.path in wanted}


def remove(
    store: ModelStore, source: str, model_id: str, known_sources: Collection[str]
) -> RemoveResult:
    """Delete a model. A source no plugin provides is an error only when the vault holds
    nothing of it: models of an uninstalled plugin stay removable."""
    validate_source_name(source)
    validate_model_id(model_id)
    with store.lock(source, model_id):
        if store.remove(source, model_id) is None:
            if source not in known_sources and not store.list(source):
                raise _unknown_source(source, known_sources)
            raise NotFound(f"Model {source}/{model_id} is not in the vault")
    return RemoveResult(deleted=True, model_id=model_id, source=source)


def get(store: ModelStore, source: str, model_id: str) -> LocalModel | None:
    validate_source_name(source)
    validate_model_id(model_id)
    return store.get(source, model_id)


def list_models(
    store: ModelStore, source: str | None, known_sources: Collection[str]
) -> list[LocalModel]:
    """The vault's models, of one source if given. Naming a source that no plugin provides
    and the vault holds nothing of is an error (most likely a typo), not an empty list."""
    if source is None:
        return store.list()
    validate_source_name(source)
    models = store.list(source)
    _refuse_unknown_empty_source(source, len(models), known_sources)
    return models


def list_models_json(
    store: ModelStore, source: str | None, known_sources: Collection[str]
) -> tuple[int, str]:
    """`list_models` as its count and JSON text (`ModelStore.list_json`), same rules."""
    if source is None:
        return store.list_json()
    validate_source_name(source)
    count, text = store.list_json(source)
    _refuse_unknown_empty_source(source, count, known_sources)
    return count, text


def _refuse_unknown_empty_source(source: str, count: int, known: Collection[str]) -> None:
    if not count and source not in known:
        raise _unknown_source(source, known)


def status(store: ModelStore) -> StorageStatus:
    return store.status()


def clean(
    store: ModelStore,
    clock: Clock,
    request: CleanRequest,
    only: Collection[str] | None = None,
) -> CleanResult:
    """Remove what `request` selects (or, on a dry run, only report it). `only` limits removal
    to those `<source>/<model_id>` keys: what a person was shown and confirmed.

    Each model is checked again under its lock just before it goes, so one used, replaced or
    removed by someone else in the meantime is left alone, and the result reports exactly
    what was removed. A model that cannot be removed is reported in `failed` and the clean
    carries on with the others (ADR 0103)."""
    models = store.list(request.source) if request.source is not None else store.list()
    now = clock.now()
    chosen = select_for_clean(models, request, now)
    spared = tuple(model.key for model in spared_by_clean(models, request, now))
    if only is not None:
        chosen = [model for model in chosen if model.key in only]
    if request.dry_run:
        return _clean_result(request, chosen, spared=spared)
    removed = []
    failed = []
    with store.grouped():
        for model in chosen:
            try:
                with store.lock(model.source, model.model_id):
                    current = store.get(model.source, model.model_id)
                    if current is None or not select_for_clean([current], request, clock.now()):
                        continue
                    store.remove(model.source, model.model_id)
                    removed.append(current)
            except DevonError as error:
                failed.append(CleanFailure(model.key, str(error)))
    return _clean_result(request, removed, failed, spared)


def _clean_result(
    request: CleanRequest,
    models: Sequence[LocalModel],
    failed: Sequence[CleanFailure] = (),
    spared: tuple[str, ...] = (),
) -> CleanResult:
    return CleanResult(
        skipped_local=spared,
        freed_bytes=sum(m.size_bytes for m in models),
        dry_run=request.dry_run,
        models=tuple(m.key for m in models),
        failed=tuple(failed),
    )


def export(
    store: ModelStore, export_format: ExportFormat, gguf_files: bool = False
) -> ExportResult:
    return build_export(store.list(), export_format, gguf_files)


def scan(
    store: ModelStore,
    known_sources: Collection[str],
    reconcile: bool,
    *,
    move: bool = False,
    dry_run: bool = False,
) -> ScanResult:
    """Register the model folders the vault holds but does not list (see `ModelStore.scan`);
    with `reconcile`, drop the models whose folder is gone."""
    return store.scan(known_source_names(known_sources), reconcile, move=move, dry_run=dry_run)
