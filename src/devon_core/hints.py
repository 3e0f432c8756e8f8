""" "Did you mean" for a model id or a filter value, from what the source and the vault know."""

import contextlib
from collections.abc import Iterable

import attrs

from devon_core.errors import DevonError
from devon_core.models import RemoteModel, model_name_of
from devon_core.ports import ModelSource, ModelStore
from devon_core.results import SearchFilters
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
    """For a search that found nothing: per filter (`license`, `quant`), the values close to
    the one given that the models matching every other filter, or the vault's, carry."""
    hints: dict[str, list[str]] = {}
    vault = store.list(source.name)
    for field, value in (("license", filters.license), ("quant", filters.quant)):
        if not value:
            continue
        others = attrs.evolve(filters, **{field: None})
        try:
            found = source.search(query, others, HINT_SEARCH_LIMIT)
        except DevonError:
            found = []
        known = _values(field, found) + [v for m in vault for v in _local_values(field, m.metadata)]
        near = [v for v in closest(value, known) if v.lower() != value.lower()]
        if near:
            hints[field] = near
    return hints


def _values(field: str, models: Iterable[RemoteModel]) -> list[str]:
    values: list[str] = []
    for model in models:
        if field == "license" and model.license:
            values.append(model.license)
        elif field == "quant":
            values += [q.name for q in model.quantizations]
            values += [v for v in (model.quantization or "").split(",") if v]
    return values


def _local_values(field: str, metadata: dict[str, object]) -> list[str]:
    value = metadata.get("license" if field == "license" else "quantization")
    return [v for v in value.split(",") if v] if isinstance(value, str) else []
