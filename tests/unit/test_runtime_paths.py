"""The file or folder a runtime loads from a model in the vault (ADR 0237)."""

import attrs
import pytest

from devon_core.errors import ChoiceNeeded, SelectionNotFound
from devon_core.models import LocalModel
from devon_core.runtime_paths import (
    held_file_path,
    held_quantizations,
    runtime_path,
    runtime_paths,
)
from tests.support.fakes import local_model

SHARDS = ("BF16/w.BF16-00001-of-00002.gguf", "BF16/w.BF16-00002-of-00002.gguf")


def _model(*files: str) -> LocalModel:
    return attrs.evolve(local_model("acme/w-GGUF"), files=tuple(sorted(files)))


def test_a_sharded_quantisation_is_loaded_from_its_first_shard() -> None:
    model = _model("README.md", *SHARDS)
    assert runtime_path(model, "bf16") == f"{model.path}/{SHARDS[0]}"


def test_a_model_with_one_unnamed_gguf_file_is_loaded_from_that_file() -> None:
    model = _model("config.json", "model.gguf")
    assert runtime_path(model) == f"{model.path}/model.gguf"


def test_a_model_without_gguf_files_is_loaded_from_its_folder() -> None:
    model = _model("config.json", "model.safetensors")
    assert runtime_path(model) == model.path
    assert runtime_paths(model) == (model.path,)


def test_a_model_holding_several_quantisations_needs_one_named() -> None:
    model = _model("w.Q4_K_M.gguf", *SHARDS)
    with pytest.raises(ChoiceNeeded, match="Q4_K_M, BF16"):
        runtime_path(model)
    assert runtime_paths(model) == (f"{model.path}/w.Q4_K_M.gguf", f"{model.path}/{SHARDS[0]}")


def test_held_quantisations_add_up_the_sizes_of_their_files() -> None:
    (bf16,) = held_quantizations(SHARDS, {SHARDS[0]: 70, SHARDS[1]: 30})
    assert (bf16.name, bf16.size_bytes) == ("BF16", 100)


def test_a_file_named_by_a_reference_is_loaded_from_that_file_if_held() -> None:
    model = _model("config.json", *SHARDS)
    assert held_file_path(model, SHARDS) == f"{model.path}/{SHARDS[0]}"
    with pytest.raises(SelectionNotFound, match=r"model\.gguf"):
        held_file_path(model, ["model.gguf"])
