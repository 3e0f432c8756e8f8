import pytest

from devon_core import Devon, InvalidInput, SearchFilters
from tests.support.fakes import FakeSource, remote_model


def test_search_returns_matches_most_downloaded_first(devon: Devon) -> None:
    result = devon.search("widget")
    assert [m.model_id for m in result.results] == ["acme/Widget-8B-GGUF", "acme/widget-7b"]
    assert result.count == 2
    assert result.source == "huggingface"
    assert result.query == "widget"


def test_search_applies_the_params_filter(devon: Devon) -> None:
    result = devon.search(params="<=1b")
    assert [m.model_id for m in result.results] == ["tinyco/Tiny-0.5B"]


def test_search_applies_the_license_filter(devon: Devon) -> None:
    assert [m.model_id for m in devon.search(license="MIT").results] == ["tinyco/Tiny-0.5B"]


def test_search_applies_the_format_filter(devon: Devon) -> None:
    assert [m.model_id for m in devon.search(format="gguf").results] == ["acme/Widget-8B-GGUF"]


def test_search_applies_the_size_filter(devon: Devon) -> None:
    assert [m.model_id for m in devon.search(size=">5kb").results] == ["acme/Widget-8B-GGUF"]


def test_size_filter_matches_a_gguf_repo_by_one_quantisation_not_its_total(devon: Devon) -> None:
    # The repo totals 12,010 bytes; its Q4_K_M file alone is 4,000.
    assert [m.model_id for m in devon.search(size="<5kb", format="gguf").results] == [
        "acme/Widget-8B-GGUF"
    ]
    assert devon.search(size=">10kb", format="gguf").results == ()


def test_quant_filter_keeps_repos_holding_that_quantisation(devon: Devon) -> None:
    assert [m.model_id for m in devon.search(quant="q8_0").results] == ["acme/Widget-8B-GGUF"]
    assert devon.search(quant="Q2_K").results == ()


def test_results_carry_each_quantisation_with_its_size_and_files(devon: Devon) -> None:
    (widget,) = devon.search(format="gguf").results
    assert [(q.name, q.size_bytes, q.files) for q in widget.quantizations] == [
        ("Q4_K_M", 4000, ("widget-8b.Q4_K_M.gguf",)),
        ("Q8_0", 8000, ("widget-8b.Q8_0.gguf",)),
    ]


def test_search_never_returns_more_than_the_limit(devon: Devon) -> None:
    assert devon.search(limit=1).count == 1


def test_search_drops_results_a_source_returns_that_fail_the_filters() -> None:
    class LaxSource(FakeSource):
        def search(self, query, filters, limit):  # type: ignore[no-untyped-def]
            return list(self.catalogue.values())

    lax = LaxSource(
        [remote_model("a/big", parameter_count=70.0), remote_model("a/small", parameter_count=1.0)]
    )
    devon = Devon(source=lax, store=None, clock=None)  # type: ignore[arg-type]
    assert [m.model_id for m in devon.search(params="<2b").results] == ["a/small"]


@pytest.mark.parametrize("limit", [0, -1, 201, True])
def test_search_limit_outside_1_to_200_is_invalid(devon: Devon, limit: int) -> None:
    with pytest.raises(InvalidInput, match="limit must be between 1 and 200"):
        devon.search(limit=limit)


def test_search_with_an_unparseable_size_is_invalid(devon: Devon) -> None:
    with pytest.raises(InvalidInput, match="Invalid size filter"):
        devon.search(size="huge")


def test_search_on_an_unknown_source_names_the_known_ones(devon: Devon) -> None:
    with pytest.raises(
        InvalidInput, match="Unknown source 'modelscope': known sources are huggingface"
    ):
        devon.search(source="modelscope")


def test_blank_query_and_filters_count_as_absent(devon: Devon) -> None:
    result = devon.search("  ", params="", size=" ")
    assert result.query is None
    assert result.count == 3


def test_search_takes_the_filters_parsed_as_one_object(devon: Devon) -> None:
    filters = SearchFilters.parse(params="<=1b")
    assert devon.search(filters=filters) == devon.search(params="<=1b")


def test_search_refuses_filters_given_both_parsed_and_by_name(devon: Devon) -> None:
    with pytest.raises(TypeError, match="not both"):
        devon.search(filters=SearchFilters(), license="MIT")


def test_parsing_a_filter_that_is_not_declared_names_the_declared_ones() -> None:
    with pytest.raises(TypeError, match="'colour' is not a search filter: use one of provider"):
        SearchFilters.parse(colour="red")


def test_blank_filter_texts_count_as_absent() -> None:
    assert SearchFilters.parse(provider=" ", size="", quant="\t") == SearchFilters()
