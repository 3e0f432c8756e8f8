"""What a source may list as a model's file (ADR 0203)."""

import pytest

from devon_core.listed_files import MAX_FILE_BYTES, file_listing_problem

SHA = "ab" * 32


@pytest.mark.parametrize(
    ("path", "size", "sha256"),
    [
        ("model.gguf", 0, None),
        ("onnx/model_q4.onnx", MAX_FILE_BYTES, SHA),
        ("модель/ファイル weights.safetensors", 12, None),
        (".gitattributes", 1, None),
    ],
)
def test_an_ordinary_listing_is_taken(path: str, size: int, sha256: str | None) -> None:
    assert file_listing_problem(path, size, sha256) is None


@pytest.mark.parametrize(
    ("path", "size", "sha256"),
    [
        ("a\0b", 1, None),
        ("a\x7fb", 1, None),
        ("a\x85b", 1, None),
        ("a\tb", 1, None),
        ("", 1, None),
        (None, 1, None),
        ("a//b", 1, None),
        ("./a", 1, None),
        ("a/../b", 1, None),
        ("/a", 1, None),
        ("a", -1, None),
        ("a", MAX_FILE_BYTES + 1, None),
        ("a", True, None),
        ("a", 1.5, None),
        ("a", 1, "AB" * 32),
        ("a", 1, "ab" * 31),
    ],
)
def test_a_hostile_listing_is_refused(path: object, size: object, sha256: object) -> None:
    assert file_listing_problem(path, size, sha256) is not None
