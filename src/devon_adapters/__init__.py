"""DEVON's driven adapters: the disk vault, the clock, settings, source plugins, and
`build_devon`, the one call that wires them into a ready `Devon`."""

from devon_adapters.bootstrap import attach_jobs, build_devon, build_store
from devon_adapters.clock import SystemClock
from devon_adapters.disk_store import DiskModelStore
from devon_adapters.index_copy import copy_index
from devon_adapters.job_runner import ThreadJobRunner
from devon_adapters.job_store import IndexJobStore, SqliteJobStore
from devon_adapters.legacy import import_legacy_vault
from devon_adapters.memory_jobs import MemoryJobStore
from devon_adapters.settings import Settings
from devon_adapters.sources import (
    ENTRY_POINT_GROUP,
    SourceFactory,
    SourcePluginWarning,
    discover_sources,
)
from devon_core.results import (
    ImportReport,
    IndexCopy,  # still importable from here, where it began
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "DiskModelStore",
    "ImportReport",
    "IndexCopy",
    "IndexJobStore",
    "MemoryJobStore",
    "Settings",
    "SourceFactory",
    "SourcePluginWarning",
    "SqliteJobStore",
    "SystemClock",
    "ThreadJobRunner",
    "attach_jobs",
    "build_devon",
    "build_store",
    "copy_index",
    "discover_sources",
    "import_legacy_vault",
]
