"""Search equals the brute-force answer: describe every visible model with `info`, keep those
`SearchFilters.matches`, take the most downloaded. Push-down may only save requests."""

import pytest

from devon_core import RemoteModel, SearchFilters
from devon_testhub import TestHub
from tests.support.hf_helpers import source_for

COMBINATIONS = [
    {},
    {"provider": "acme"},
    {"params": "7b"},
    {"params": "<1b"},
    {"size": "<=64kb"},
    {"size": ">200kb", "format": "safetensors"},
    {"format": "gguf", "license": "other"},
    {"format": "pytorch"},
    {"task": "text-generation", "license": "llama3.1", "params": ">=8b"},
    {"provider": "northwind", "size": "<1mb", "format": "gguf"},
    {"license": "cc-by-nc-4.0"},
    {"task": "image-text-to-text"},
]


def _label(filters: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in filters.items()) or "none"


@pytest.fixture(scope="module")
def every_model(session_test_hub: TestHub) -> list[RemoteModel]:
    source = source_for(session_test_hub)
    return [source.info(repo.id) for repo in session_test_hub.catalogue if not repo.private]


@pytest.mark.parametrize("filters", COMBINATIONS, ids=lambda f: _label(f))
@pytest.mark.parametrize("limit", [3, 40])
def test_search_returns_the_most_downloaded_models_passing_every_filter(
    test_hub: TestHub, every_model: list[RemoteModel], filters: dict[str, str], limit: int
) -> None:
    parsed = SearchFilters.parse(**filters)
    passing = sorted((m for m in every_model if parsed.matches(m)), key=lambda m: -m.downloads)
    expected = passing[:limit]
    assert expected, "each combination must select something, or the test proves little"

    found = source_for(test_hub).search(None, parsed, limit)

    assert [m.model_id for m in found] == [m.model_id for m in expected]
    assert found == expected  # the same descriptions, sizes included
