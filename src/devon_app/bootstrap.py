"""The composition root: one call builds a ready `Devon` from settings."""

import os
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path

from devon_adapters.clock import SystemClock
from devon_adapters.fleet.store import IndexFleetStore
from devon_adapters.jobs.memory import MemoryJobStore
from devon_adapters.jobs.process import ChildJobRunner
from devon_adapters.jobs.runner import (
    DEFAULT_MAX_CONCURRENT,
    ORPHAN_CHECK_S,
    STALE_AFTER_S,
    ThreadJobRunner,
)
from devon_adapters.jobs.store import IndexJobStore
from devon_adapters.model_files.identities import file_identities
from devon_adapters.vault.legacy import import_legacy_vault
from devon_adapters.vault.paths import VaultPaths
from devon_adapters.vault.store import DiskModelStore
from devon_app.settings import Settings, env_var
from devon_app.sources import discover_sources
from devon_core.cache_view import CacheView
from devon_core.devon import Devon, SourcePlugins
from devon_core.fleet import Fleet
from devon_core.jobs import DEFAULT_MAX_QUEUED
from devon_core.ports import Clock, JobRunner, JobStore, ModelCache, ModelSource, ModelStore
from devon_core.results import ImportReport


def build_store(settings: Settings) -> DiskModelStore:
    return DiskModelStore(
        settings.storage_path,
        quota_bytes=settings.max_storage_bytes,
        quota_setting=env_var(Settings, "max_storage_bytes"),
        database_url=settings.database_url,
    )


def build_devon(
    settings: Settings | None = None,
    *,
    sources: Iterable[ModelSource] | None = None,
    jobs_in_child: bool = False,
) -> Devon:
    """A `Devon` on the vault at `settings.storage_path` with every registered source, its
    download jobs recorded in the vault's index and run by threads of this process (with
    `jobs_in_child`, by a child process at a lower CPU priority, ADR 0133).

    `settings` defaults to `Settings.from_env()`; `sources` replaces plugin discovery (for
    tests, or a script that brings its own source)."""
    settings = Settings.from_env() if settings is None else settings
    plugins: Mapping[str, ModelSource] = (
        SourcePlugins(partial(discover_sources, settings))
        if sources is None
        else {s.name: s for s in sources}
    )
    store = build_store(settings)
    clock = SystemClock()
    jobs = IndexJobStore(store.index, max_queued=settings.max_queued_jobs)
    runner: JobRunner = (
        _child_runner(settings, jobs)
        if jobs_in_child
        else _thread_runner(
            plugins,
            store,
            jobs,
            clock,
            max_concurrent=settings.max_concurrent_downloads,
            host=settings.host_name,
            stale_after_s=settings.job_stale_after,
        )
    )
    return Devon(
        store=store,
        clock=clock,
        sources=plugins,
        default_source=settings.default_source,
        open_cache=partial(open_hf_cache, settings.hf_cache),
        import_legacy=partial(_import_legacy, store),
        open_view=partial(open_hf_cache_view, settings.hf_cache, store.paths),
        keep_view=settings.hf_cache_view,
        file_identities=partial(file_identities, vault=store.root),
        jobs=jobs,
        runner=runner,
        fleet=Fleet(IndexFleetStore(store.index), clock),
    )


def attach_jobs(
    devon: Devon,
    *,
    jobs: JobStore | None = None,
    max_concurrent: int = DEFAULT_MAX_CONCURRENT,
    host: str | None = None,
    stale_after_s: float = STALE_AFTER_S,
    max_queued: int | None = DEFAULT_MAX_QUEUED,
) -> Devon:
    """For a `Devon` built by hand without jobs (`build_devon` builds it whole): give it a
    job store and a runner, unless it has them: the vault's index for a `DiskModelStore`,
    else jobs in memory. The runner starts with the first job (or `devon.start()`, what a
    server does to resume the jobs left by a process that is gone). The store accepts
    `max_queued` queued jobs at once (None: any number). Returns `devon`."""
    if devon.job_store is not None and devon.runner is not None:
        return devon
    if devon.job_store is not None:
        jobs = devon.job_store
    elif jobs is None:
        store = devon.store
        jobs = (
            IndexJobStore(store.index, max_queued=max_queued)
            if isinstance(store, DiskModelStore)
            else MemoryJobStore(max_queued=max_queued)
        )
    runner = devon.runner or _thread_runner(
        devon.sources,
        devon.store,
        jobs,
        devon.clock,
        max_concurrent=max_concurrent,
        host=host,
        stale_after_s=stale_after_s,
    )
    devon.download_jobs.attach(jobs, runner)
    return devon


def _thread_runner(
    sources: Mapping[str, ModelSource],
    store: ModelStore,
    jobs: JobStore,
    clock: Clock,
    *,
    max_concurrent: int,
    host: str | None,
    stale_after_s: float,
) -> ThreadJobRunner:
    return ThreadJobRunner(
        sources,
        store,
        jobs,
        clock,
        max_concurrent=max_concurrent,
        host=host,
        stale_after_s=stale_after_s,
        orphan_check_s=min(ORPHAN_CHECK_S, stale_after_s / 3),
    )


def _child_runner(settings: Settings, jobs: IndexJobStore) -> ChildJobRunner:
    return ChildJobRunner({**os.environ, **settings.as_env()}, jobs)


def run_jobs_in_child(devon: Devon, settings: Settings) -> Devon:
    """Hand `devon`'s download jobs to a child process at a lower CPU priority (what `devon
    serve` does, ADR 0133) when they are kept in the vault's index, which the child shares;
    jobs kept in memory stay with threads of this process. `devon` must be built from
    `settings` (the child builds its own from them); `build_devon(settings,
    jobs_in_child=True)` builds one so at once. Returns `devon`."""
    jobs = devon.job_store
    if isinstance(jobs, IndexJobStore) and not isinstance(devon.runner, ChildJobRunner):
        devon.download_jobs.attach(jobs, _child_runner(settings, jobs))
    return devon


def _import_legacy(store: DiskModelStore, legacy_root: str, move: bool) -> ImportReport:
    return import_legacy_vault(store, Path(legacy_root), move=move)


def open_hf_cache(configured: Path, location: str | None = None) -> ModelCache:
    """The Hugging Face cache at `location`, else at the configured directory. A configured
    directory that does not exist is an empty cache (this machine has none); a `location`
    asked for by name must exist."""
    from devon_adapters.huggingface.cache import HuggingFaceCache

    if location is None:
        return HuggingFaceCache(configured, missing_ok=True)
    return HuggingFaceCache(Path(location))


def open_hf_cache_view(
    configured: Path, vault: VaultPaths, location: str | None = None
) -> CacheView:
    """The Hugging Face cache at `location` (else the configured one) as a view of `vault`."""
    from devon_adapters.huggingface.cache_view import HuggingFaceCacheView

    return HuggingFaceCacheView(configured if location is None else Path(location), vault)
