import pytest
from hypothesis import given
from hypothesis import strategies as st

from devon_adapters.huggingface.ids import validate_hub_id
from devon_adapters.huggingface.references import parse_hub_reference
from devon_core import InvalidInput
from devon_core.identifiers import validate_model_id, validate_source_name
from tests.support.strategies import model_ids


def parse_model_reference(reference: str) -> str:
    return parse_hub_reference(reference).model_id


@pytest.mark.parametrize(
    "model_id",
    ["Qwen/Qwen2.5-7B-Instruct", "gpt2", "meta-llama/Llama-3.1-8B", "a/b", "x_y/z.gguf-Q4_K_M"],
)
def test_valid_hub_ids_are_accepted(model_id: str) -> None:
    assert validate_hub_id(model_id) == model_id
    assert validate_model_id(model_id) == model_id


@pytest.mark.parametrize(
    "model_id",
    [
        "",
        "/",
        "a/",
        "/a",
        "a/b/c",
        "../etc",
        "a/..",
        "owner/na..me",
        "owner/na--me",
        "-owner/name",
        "owner/name-",
        ".hidden/name",
        "owner/name.",
        "own er/name",
        "owner/na\u2215me",
        "owner/\u202ename",
        "owner\\name",
        "C:/x",
        "a" * 97,
        "owner/" + "n" * 97,
        "owner/name\n",
    ],
)
def test_invalid_hub_ids_are_rejected_with_the_id_in_the_message(model_id: str) -> None:
    with pytest.raises(InvalidInput, match="Invalid model id"):
        validate_hub_id(model_id)


@pytest.mark.parametrize(
    "model_id",
    [
        "",
        "/",
        "a/",
        "/a",
        "a/b/c",
        "../etc",
        "a/..",
        "-owner/name",
        ".hidden/name",
        "own er/name",
        "owner/na\u2215me",
        "owner/\u202ename",
        "owner\\name",
        "a" * 97,
        "owner/name\n",
    ],
)
def test_ids_unsafe_as_vault_paths_are_rejected_by_the_core(model_id: str) -> None:
    with pytest.raises(InvalidInput, match="Invalid model id"):
        validate_model_id(model_id)


@pytest.mark.parametrize("model_id", ["llama3.1:8b", "library/qwen2.5:0.5b-instruct", "a--b"])
def test_the_core_accepts_ids_other_sources_may_use(model_id: str) -> None:
    assert validate_model_id(model_id) == model_id


@pytest.mark.parametrize("model_id", ["llama3.1:8b", "owner/na--me", "owner/na..me", "C:/x"])
def test_the_hub_refuses_ids_the_core_would_keep(model_id: str) -> None:
    validate_model_id(model_id)
    with pytest.raises(InvalidInput, match="Invalid model id"):
        validate_hub_id(model_id)


def test_a_part_of_exactly_96_characters_is_accepted() -> None:
    assert validate_hub_id("o/" + "n" * 96)


@given(model_ids)
def test_generated_valid_ids_pass(model_id: str) -> None:
    assert validate_hub_id(model_id) == model_id


@given(st.text(max_size=40))
def test_any_accepted_id_is_safe_as_a_relative_path(text: str) -> None:
    try:
        validate_model_id(text)
    except InvalidInput:
        return
    parts = text.split("/")
    assert all(p not in {"", ".", ".."} for p in parts)
    assert not text.startswith("/")


@pytest.mark.parametrize("name", ["huggingface", "hf-mirror", "local_2"])
def test_valid_source_names_are_accepted(name: str) -> None:
    assert validate_source_name(name) == name


@pytest.mark.parametrize("name", ["", "HuggingFace", "hugging face", "../x", "a/b", "x" * 65])
def test_invalid_source_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidInput, match="Invalid source name"):
        validate_source_name(name)


@pytest.mark.parametrize(
    ("reference", "model_id"),
    [
        ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct"),
        ("  Qwen/Qwen2.5-7B-Instruct ", "Qwen/Qwen2.5-7B-Instruct"),
        ("https://huggingface.co/Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct"),
        ("https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/tree/main", "Qwen/Qwen2.5-7B-Instruct"),
        (
            "https://hf.co/Qwen/Qwen2.5-7B-Instruct/blob/main/config.json",
            "Qwen/Qwen2.5-7B-Instruct",
        ),
        ("https://huggingface.co/gpt2", "gpt2"),
        ("https://huggingface.co/gpt2/tree/main", "gpt2"),
    ],
)
def test_model_references_accept_ids_and_hub_urls(reference: str, model_id: str) -> None:
    assert parse_model_reference(reference) == model_id


def test_urls_of_other_sites_are_rejected() -> None:
    with pytest.raises(InvalidInput, match="Not a Hugging Face model URL"):
        parse_model_reference("https://example.com/Qwen/Qwen2.5-7B")


@pytest.mark.parametrize(
    "url",
    ["https://huggingface.co/datasets/foo/bar", "https://huggingface.co/spaces/foo/bar/tree/main"],
)
def test_dataset_and_space_urls_are_rejected_as_not_models(url: str) -> None:
    with pytest.raises(InvalidInput, match="not a model"):
        parse_model_reference(url)
