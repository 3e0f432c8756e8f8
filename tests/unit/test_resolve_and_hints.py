"""`Devon.resolve` (ids as DEVON prints them), "did you mean", and the partial clean."""

import attrs
import pytest

from devon_core import Devon, InvalidInput, NotFound, SearchFilters
from devon_core.suggestions import closest
from tests.support.fakes import MemoryStore, local_model


def test_a_source_prefix_is_read_off_a_three_part_id(devon: Devon) -> None:
    source, reference = devon.resolve("huggingface/acme/widget-7b")
    assert (source, reference.model_id) == ("huggingface", "acme/widget-7b")


def test_a_two_part_id_is_an_owner_and_name_even_if_the_owner_is_a_source(devon: Devon) -> None:
    source, reference = devon.resolve("huggingface/widget")
    assert (source, reference.model_id) == ("huggingface", "huggingface/widget")


def test_a_prefix_naming_another_source_than_asked_is_refused(devon: Devon) -> None:
    with pytest.raises(InvalidInput, match="names source"):
        devon.resolve("huggingface/acme/x", source="other")


def test_a_source_the_vault_holds_models_of_is_known_without_its_plugin(
    devon: Devon, store: MemoryStore
) -> None:
    store.add(local_model("acme/old", source="oldhub"))
    source, reference = devon.resolve("oldhub/acme/old")
    assert (source, reference.model_id) == ("oldhub", "acme/old")


def test_download_of_a_near_miss_id_names_the_real_one(devon: Devon) -> None:
    with pytest.raises(NotFound, match=r"did you mean acme/Widget-8B-GGUF\?"):
        devon.download("acme/Widget-8b-GGUF")


@pytest.mark.parametrize(
    ("typed", "known", "expected"),
    [
        ("apache", ["mit", "apache-2.0", "llama3.1"], ["apache-2.0"]),
        ("Q4_K_X", ["Q4_K_M", "Q8_0"], ["Q4_K_M"]),
        ("MIT", ["mit"], ["mit"]),
        ("zzz", ["mit", "apache-2.0"], []),
    ],
)
def test_closest_finds_what_was_meant(typed: str, known: list[str], expected: list[str]) -> None:
    assert closest(typed, known, limit=1) == expected


def test_search_hints_suggest_a_licence_the_source_carries(devon: Devon) -> None:
    assert devon.search(license="mi").results == ()
    assert devon.search_hints(license="mi") == {"license": ["mit"]}


def test_search_hints_suggest_a_quantisation_the_source_carries(devon: Devon) -> None:
    assert devon.search(quant="Q4_K_S").results == ()
    assert devon.search_hints(quant="Q4_K_S") == {"quant": ["Q4_K_M"]}


def test_search_hints_suggest_a_licence_a_model_in_the_vault_records(
    devon: Devon, store: MemoryStore
) -> None:
    store.add(attrs.evolve(local_model("acme/held"), metadata={"license": "apache-2.0"}))
    assert devon.search_hints(license="apache-2") == {"license": ["apache-2.0"]}


def test_the_filters_with_hints_are_those_declared_with_them() -> None:
    hinted = [d.name for d in SearchFilters.declarations() if d.hints is not None]
    assert hinted == ["license", "quant"]


def test_clean_partial_removes_staging_and_reports_it(devon: Devon, store: MemoryStore) -> None:
    store.disk["/vault/.devon/staging/huggingface/acme/x"] = {"a.part": 700}
    result = devon.clean(partial=True)
    assert (result.partial_models, result.partial_freed_bytes) == (("huggingface/acme/x",), 700)
    assert result.models == ()
    assert store.staged() == []


def test_clean_partial_dry_run_removes_nothing(devon: Devon, store: MemoryStore) -> None:
    store.disk["/vault/.devon/staging/huggingface/acme/x"] = {"a.part": 700}
    assert devon.clean(partial=True, dry_run=True).partial_models == ("huggingface/acme/x",)
    assert len(store.staged()) == 1
