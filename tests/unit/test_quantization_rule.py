import pytest

from devon_core.rules import quantization_of
from tests.support.fakes import remote_model

GGUF = remote_model(
    "acme/Widget-8B-GGUF",
    files=(
        ("w.Q4_K.gguf", 1),
        ("w.Q4_K_M.gguf", 1),
        ("w-F16.gguf", 1),
        ("BF16/w-BF16-00001-of-00002.gguf", 1),
        ("README.md", 1),
    ),
    quantization="Q4_K,Q4_K_M,BF16,F16",
)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["w.Q4_K_M.gguf"], "Q4_K_M"),
        (["w.Q4_K.gguf"], "Q4_K"),
        (["BF16/w-BF16-00001-of-00002.gguf"], "BF16"),
        (["w-F16.gguf", "README.md"], "F16"),
        (["README.md"], None),
    ],
)
def test_quantisations_are_matched_as_whole_tokens_of_file_names(
    files: list[str], expected: str | None
) -> None:
    assert quantization_of(GGUF, files) == expected


def test_a_quantisation_no_file_names_applies_to_the_whole_repo() -> None:
    awq = remote_model("acme/shardy-7b-AWQ", quantization="AWQ")
    assert quantization_of(awq, ["model.safetensors"]) == "AWQ"


def test_a_model_without_quantisation_has_none() -> None:
    assert quantization_of(remote_model(), ["config.json"]) is None
