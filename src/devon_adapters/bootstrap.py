"""The composition root: one call builds a ready `Devon` from settings."""

from collections.abc import Iterable
from functools import partial
from pathlib import Path

from devon_adapters.clock import SystemClock
from devon_adapters.disk_store import DiskModelStore
from devon_adapters.settings import Settings
from devon_adapters.sources import discover_sources
from devon_core.devon import Devon
from devon_core.ports import ModelCache, ModelSource


def build_store(settings: Settings) -> DiskModelStore:
    return DiskModelStore(
        settings.storage_path,
        quota_bytes=settings.max_storage_bytes,
        database_url=settings.database_url,
    )


def build_devon(
    settings: Settings | None = None, *, sources: Iterable[ModelSource] | None = None
) -> Devon:
    """A `Devon` on the vault at `settings.storage_path` with every registered source.

    `settings` defaults to `Settings.from_env()`; `sources` replaces plugin discovery (for
    tests, or a script that brings its own source)."""
    settings = Settings.from_env() if settings is None else settings
    chosen = discover_sources(settings) if sources is None else list(sources)
    return Devon(
        store=build_store(settings),
        clock=SystemClock(),
        sources=chosen,
        open_cache=partial(open_hf_cache, settings.hf_cache),
    )


def open_hf_cache(configured: Path, location: str | None = None) -> ModelCache:
    """The Hugging Face cache at `location`, else at the configured directory."""
    from devon_adapters.huggingface.cache import HuggingFaceCache

    return HuggingFaceCache(configured if location is None else Path(location))
