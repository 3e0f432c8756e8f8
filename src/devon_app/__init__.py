"""DEVON's composition root: the settings, the source plugins, and `build_devon`, the one call
that builds the adapters and wires them into a ready `Devon` (ADR 0260). The drivers (the CLI,
the HTTP server, the jobs' child process) start here; the adapters never import it."""

from devon_app.bootstrap import attach_jobs, build_devon, build_store
from devon_app.settings import Settings
from devon_app.sources import (
    ENTRY_POINT_GROUP,
    SourceFactory,
    SourcePluginWarning,
    discover_sources,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Settings",
    "SourceFactory",
    "SourcePluginWarning",
    "attach_jobs",
    "build_devon",
    "build_store",
    "discover_sources",
]
