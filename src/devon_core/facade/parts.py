"""`FacadeParts`: what every group of the facade works on."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import attrs

from devon_core import hints, use_cases
from devon_core.errors import NotFound, SelectionNotFound
from devon_core.ports import Clock, ModelSource, ModelStore
from devon_core.references import ReferenceResolver
from devon_core.suggestions import did_you_mean


@attrs.frozen
class FacadeParts:
    """The vault, the clock, the source plugins by name and how typed references are read."""

    store: ModelStore
    clock: Clock
    sources: Mapping[str, ModelSource]
    references: ReferenceResolver

    def source(self, name: str | None = None) -> ModelSource:
        """The source plugin called `name` (default: the default source); InvalidInput if
        there is none."""
        return use_cases.resolve_source(self.sources, self.references.named(name))

    @property
    def known_sources(self) -> frozenset[str]:
        return use_cases.known_source_names(self.sources)

    def not_held(self, error: NotFound, source: str, model_id: str) -> NotFound:
        """`error` with "did you mean" ids of the vault's models of `source`."""
        is_source = self.references.is_source(source)
        known = [m.model_id for m in self.store.list(source)] if is_source else []
        return NotFound(f"{error}{did_you_mean(model_id, known)}")

    @contextmanager
    def suggesting(self, plugin: ModelSource, model_id: str) -> Iterator[None]:
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
