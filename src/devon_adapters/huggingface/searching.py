"""Search: push what the Hub can filter into the list query, page through it, enrich the
candidates that can still match with their details (sizes), keep those `filters.matches`.

`SearchFilters.matches` stays the one rule (docs/huggingface.md, ADR 0020): push-down only
narrows what is fetched, never decides alone.
"""

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Any

import attrs

from devon_adapters.huggingface.hub import model_info_from_json
from devon_adapters.huggingface.metadata import RefusedRecord, remote_model
from devon_core.filters import ModelFormat, SearchFilters
from devon_core.models import RemoteModel
from devon_core.stopping import CallStop

log = logging.getLogger(__name__)

# Asked of the list endpoint so that every filter but size can be judged from a list entry.
LIST_FIELDS = (
    "author",
    "cardData",
    "config",
    "createdAt",
    "downloads",
    "gguf",
    "lastModified",
    "library_name",
    "likes",
    "pipeline_tag",
    "safetensors",
    "sha",
    "siblings",
    "tags",
)
# Formats the Hub tags every repo holding such files with. `pytorch` is a library tag on the
# Hub, not a file rule, so it is only checked locally.
TAGGED_FORMATS = frozenset({ModelFormat.GGUF, ModelFormat.SAFETENSORS, ModelFormat.ONNX})

Describe = Callable[[str, str | None, CallStop | None], RemoteModel | None]
"""(model id, commit the list saw, the caller's stop) -> the model with sizes, or None if
it vanished."""
Pages = Callable[[Sequence[tuple[str, str]], CallStop | None], Iterator[list[Mapping[str, Any]]]]
"""(list query, the caller's stop) -> the pages of the model list."""


def list_params(query: str | None, filters: SearchFilters, page_size: int) -> list[tuple[str, str]]:
    """The `/api/models` query: the text search, the author, tags for task, format and
    license, most downloaded first."""
    params = [("sort", "downloads"), ("direction", "-1"), ("limit", str(page_size))]
    if query:
        params.append(("search", query))
    if filters.provider:
        params.append(("author", filters.provider))
    tags = []
    if filters.task:
        tags.append(filters.task)
    if filters.format in TAGGED_FORMATS:
        tags.append(str(filters.format))
    if filters.license:
        tags.append(f"license:{filters.license.lower()}")
    params.extend(("filter", tag) for tag in tags)
    params.extend(("expand", name) for name in LIST_FIELDS)
    return params


def could_match(item: Mapping[str, Any], model: RemoteModel, filters: SearchFilters) -> bool:
    """Whether a list entry may pass `filters` once its sizes are known. When the Hub did not
    send the expanded fields, only the author can be judged."""
    if "siblings" not in item or item.get("siblings") is None:
        return SearchFilters(provider=filters.provider).matches(model)
    return attrs.evolve(filters, size=None).matches(model)


class Searcher:
    """Runs one search at a time against a page source and a detail fetcher."""

    def __init__(
        self,
        pages: Pages,
        describe: Describe,
        web_base: str,
        max_workers: int,
        page_size: int,
        max_pages: int | None = None,
    ) -> None:
        self._pages = pages
        self._max_pages = max_pages
        self._describe = describe
        self._web_base = web_base
        self._max_workers = max_workers
        self._page_size = page_size

    def search(
        self,
        query: str | None,
        filters: SearchFilters,
        limit: int,
        stop: CallStop | None = None,
    ) -> list[RemoteModel]:
        """Exactly `limit` matches when the Hub has that many (within `max_pages` list pages),
        most downloaded first. Details are fetched only for as many candidates as are still
        missing, a batch at a time; every request ends when `stop` is set."""
        params = list_params(query, filters, self._page_size)
        pages = islice(self._pages(params, stop), self._max_pages)
        pending: list[tuple[str, str | None]] = []
        seen: set[str] = set()
        found: list[RemoteModel] = []
        with ThreadPoolExecutor(self._max_workers, thread_name_prefix="devon-hf-search") as pool:
            while len(found) < limit:
                missing = limit - len(found)
                self._fill(pending, seen, pages, filters, missing)
                if not pending:
                    break
                batch, pending[:] = pending[:missing], pending[missing:]
                details = pool.map(lambda c: self._describe(c[0], c[1], stop), batch)
                found.extend(m for m in details if m is not None and filters.matches(m))
        found.sort(key=lambda m: -m.downloads)
        return found[:limit]

    def _fill(
        self,
        pending: list[tuple[str, str | None]],
        seen: set[str],
        pages: Iterator[list[Mapping[str, Any]]],
        filters: SearchFilters,
        wanted: int,
    ) -> None:
        """Read list pages until `wanted` candidates wait or the list ends. A model listed
        twice (pages shift as download counts change) is a candidate once."""
        while len(pending) < wanted:
            page = next(pages, None)
            if page is None:
                return
            for item in page:
                try:
                    model = remote_model(model_info_from_json(item), self._web_base)
                except RefusedRecord as refused:
                    log.warning("search leaves out %s: %s", item.get("id"), refused)
                    continue
                if model.model_id not in seen and could_match(item, model, filters):
                    seen.add(model.model_id)
                    pending.append((model.model_id, model.revision))
