"""The registry of source plugins: the `devon.sources` entry-point group.

The plugin contract: an entry point in the group names an object (usually the source class)
with a `from_settings(settings) -> ModelSource` method. DEVON calls it once at start-up; the
source's `name` is what users pass as `source`. A plugin that fails to load or build is
skipped with a warning, so one broken plugin never breaks the tool::

    [project.entry-points."devon.sources"]
    mysource = "my_package.source:MySource"
"""

import logging
import warnings
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol

from devon_app.settings import Settings
from devon_core.identifiers import LOCAL_SOURCE
from devon_core.ports import ModelSource

ENTRY_POINT_GROUP = "devon.sources"
_SOURCE_MEMBERS = ("name", "search", "info", "download")

log = logging.getLogger(__name__)


class SourcePluginWarning(UserWarning):
    """A source plugin could not be loaded and was skipped."""


class SourceFactory(Protocol):
    """What an entry point of the `devon.sources` group names."""

    def from_settings(self, settings: Settings) -> ModelSource: ...


def discover_sources(
    settings: Settings, plugins: Iterable[EntryPoint] | None = None
) -> list[ModelSource]:
    """Build every registered source (or those of `plugins`), skipping broken ones."""
    found = entry_points(group=ENTRY_POINT_GROUP) if plugins is None else plugins
    sources: dict[str, ModelSource] = {}
    for plugin in sorted(found, key=lambda p: p.name):
        source = _build(plugin, settings)
        if source is None:
            continue
        if source.name in sources:
            _skip(plugin, f"a source named {source.name!r} is already registered")
            continue
        if source.name == LOCAL_SOURCE:
            _skip(plugin, f"{LOCAL_SOURCE!r} is DEVON's built-in source of models placed by hand")
            continue
        sources[source.name] = source
    return list(sources.values())


def _build(plugin: EntryPoint, settings: Settings) -> ModelSource | None:
    try:
        factory = plugin.load()
        source: ModelSource = factory.from_settings(settings)
    except Exception as error:  # a plugin is someone else's code: never let it break DEVON
        _skip(plugin, f"{type(error).__name__}: {error}")
        return None
    missing = [member for member in _SOURCE_MEMBERS if not hasattr(source, member)]
    if missing:
        _skip(plugin, f"the object it built lacks {', '.join(missing)}")
        return None
    return source


def _skip(plugin: EntryPoint, reason: str) -> None:
    message = f"Skipping source plugin {plugin.name!r} ({plugin.value}): {reason}"
    log.warning(message)
    warnings.warn(message, SourcePluginWarning, stacklevel=3)
