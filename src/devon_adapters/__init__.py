"""DEVON's driven adapters: the vault on disk (`vault`), its index (`index`), download jobs
(`jobs`), what a model's files are (`model_files`), the fleet (`fleet`), the Hugging Face
source (`huggingface`), downloads (`transfer`, `outbound`) and the clock.

They are built and wired by the composition root, `devon_app` (ADR 0260), which this package
never imports. `Settings`, `build_devon` and the other names that moved there are still
answered here, looked up when first asked for, so code written against DEVON 2.0 keeps working.
"""

import importlib
from typing import Any

from devon_adapters.clock import SystemClock
from devon_adapters.index.copy import copy_index
from devon_adapters.jobs.memory import MemoryJobStore
from devon_adapters.jobs.runner import ThreadJobRunner
from devon_adapters.jobs.store import IndexJobStore, SqliteJobStore
from devon_adapters.vault.legacy import import_legacy_vault
from devon_adapters.vault.store import DiskModelStore
from devon_core.results import (
    ImportReport,
    IndexCopy,  # still importable from here, where it began
)

_MOVED_TO_APP = frozenset(
    {
        "ENTRY_POINT_GROUP",
        "Settings",
        "SourceFactory",
        "SourcePluginWarning",
        "attach_jobs",
        "build_devon",
        "build_store",
        "discover_sources",
    }
)


def __getattr__(name: str) -> Any:
    """The names that moved to `devon_app` (ADR 0260), for code that still imports them
    from here."""
    if name in _MOVED_TO_APP:
        return getattr(importlib.import_module("devon_app"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DiskModelStore",
    "ImportReport",
    "IndexCopy",
    "IndexJobStore",
    "MemoryJobStore",
    "SqliteJobStore",
    "SystemClock",
    "ThreadJobRunner",
    "copy_index",
    "import_legacy_vault",
]
