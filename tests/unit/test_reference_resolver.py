"""`ReferenceResolver`: a typed text read into a source and a reference, with no vault."""

import pytest

from devon_core import InvalidInput
from devon_core.references import ModelReference, ReferenceResolver


class UrlSource:
    """A source that reads its own URLs (`ReferenceParser`)."""

    def parse_reference(self, text: str) -> ModelReference:
        prefix = "https://models.example/"
        if text.startswith(prefix):
            return ModelReference(text.removeprefix(prefix))
        if text == "acme/alias":
            return ModelReference("acme/real")
        if "://" in text:
            raise InvalidInput(f"not a URL of this source: {text}")
        return ModelReference(text)


def resolver(vault_sources: tuple[str, ...] = ()) -> ReferenceResolver:
    sources = {"hub": object(), "urls": UrlSource()}
    return ReferenceResolver(
        sources,
        default_source=lambda: "hub",
        known_sources=lambda: frozenset({*sources, "local"}),
        vault_sources=lambda: vault_sources,
    )


def test_a_printed_id_names_its_source() -> None:
    assert resolver().resolve("urls/acme/widget") == ("urls", ModelReference("acme/widget"))


def test_a_quant_option_selects_the_quantisation_of_a_plain_id() -> None:
    source, reference = resolver().with_quant("acme/widget-gguf", None, "q4_k_m")
    assert (source, reference.quantization) == ("hub", "Q4_K_M")


def test_a_quant_option_against_another_selected_quantisation_is_refused() -> None:
    with pytest.raises(InvalidInput, match="already selects files"):
        resolver().with_quant("acme/widget-gguf:Q8_0", None, "Q4_K_M")


def test_a_url_is_read_by_the_source_that_knows_it() -> None:
    source, reference = resolver().resolve("https://models.example/acme/w", source="urls")
    assert (source, reference.model_id) == ("urls", "acme/w")


def test_a_url_for_a_source_that_reads_none_is_refused() -> None:
    with pytest.raises(InvalidInput, match="is a URL"):
        resolver().resolve("https://models.example/acme/w")


def test_a_source_only_the_vault_holds_models_of_is_read_as_a_prefix() -> None:
    assert resolver(vault_sources=("old",)).resolve("old/acme/w")[0] == "old"


def test_an_id_its_source_reads_as_another_is_not_a_plain_id() -> None:
    with pytest.raises(InvalidInput, match="plain id"):
        resolver().plain_id("acme/alias", "urls")
