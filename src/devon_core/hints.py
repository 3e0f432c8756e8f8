""" "Did you mean" for a model id or a filter value, from what the source and the vault know."""

import contextlib

import attrs

from devon_core.errors import DevonError
from devon_core.filters import SearchFilters
from devon_core.models import model_name_of
from devon_core.ports import ModelSource, ModelStore
from devon_core.suggestions import closest

HINT_SEARCH_LIMIT = 50


def near_model_ids(source: ModelSource, store: ModelStore, model_id: str) -> list[str]:
    """Ids close to `model_id` among the vault's models of `source` and what the source
    finds for its name (nothing when the source cannot be asked)."""
    known = [m.model_id for m in store.list(source.name)]
    with contextlib.suppress(DevonError):
        known += [m.model_id for m in source.search(model_name_of(model_id), _NO_FILTER, 20)]
    return [found for found in closest(model_id, known) if found != model_id]


_NO_FILTER = SearchFilters()


def filter_hints(
    source: ModelSource, store: ModelStore, query: str | None, filters: SearchFilters
) -> dict[str, list[str]]:
    """For a search that found nothing: per filter declared with hints (`search_filter`),
    the values close to the one given that the models matching every other filter, or the
    vault's, carry."""
    hints: dict[str, list[str]] = {}
    vault = store.list(source.name)
    for declaration in SearchFilters.declarations():
        value = getattr(filters, declaration.name)
        where = declaration.hints
        if where is None or not value:
            continue
        typed = str(value)
        others = attrs.evolve(filters, **{declaration.name: None})
        try:
            found = source.search(query, others, HINT_SEARCH_LIMIT)
        except DevonError:
            found = []
        known = [v for m in found for v in where.remote(m)]
        known += [v for m in vault for v in where.stored_values(m.metadata)]
        near = [v for v in closest(typed, known) if v.lower() != typed.lower()]
        if near:
            hints[declaration.name] = near
    return hints
