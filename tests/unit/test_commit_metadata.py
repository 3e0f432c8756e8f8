"""The keys a commit records are named once (`CommitMetadata`), and what it records is the
shape the index, the manifest and the API have always carried (ADR 0196)."""

import json

from devon_core import CommitMetadata, Devon, ModelDescription
from devon_core.commit_metadata import DeclaredFile

DESCRIBED_KEYS = [
    "revision",
    "include_patterns",
    "parameter_count",
    "format",
    "quantization",
    "architecture",
    "license",
]


def test_a_described_model_records_all_seven_keys_in_order_with_nulls() -> None:
    recorded = CommitMetadata(described=ModelDescription(revision="abc")).as_dict()
    assert list(recorded) == DESCRIBED_KEYS
    assert recorded == {
        "revision": "abc",
        "include_patterns": None,
        "parameter_count": None,
        "format": [],
        "quantization": None,
        "architecture": None,
        "license": None,
    }


def test_sequences_are_recorded_as_json_lists() -> None:
    described = ModelDescription(include_patterns=("*.json",), format=("gguf",))
    recorded = CommitMetadata(described=described).as_dict()
    assert json.dumps(recorded["include_patterns"]) == '["*.json"]'
    assert json.dumps(recorded["format"]) == '["gguf"]'


def test_adoption_markers_follow_the_described_keys() -> None:
    metadata = CommitMetadata(
        described=ModelDescription(), adopted_from="/cache", metadata_from="huggingface"
    )
    assert list(metadata.as_dict()) == [*DESCRIBED_KEYS, "adopted_from", "metadata_from"]


def test_no_metadata_records_nothing() -> None:
    assert CommitMetadata().as_dict() == {}


def test_metadata_recorded_elsewhere_is_carried_verbatim_in_its_order() -> None:
    written = {"zeta": 1, "revision": None, "format": "gguf"}
    recorded = CommitMetadata.as_recorded(written).as_dict()
    assert json.dumps(recorded) == json.dumps(written)


def test_inferred_metadata_keeps_the_files_description_order_then_the_marker() -> None:
    described = {"format": ["gguf"], "architecture": None, "license": "mit"}
    recorded = CommitMetadata(recorded=described, inferred=True).as_dict()
    assert list(recorded) == ["format", "architecture", "license", "inferred"]


def test_a_download_records_the_sources_description_as_before(devon: Devon) -> None:
    model = devon.download("acme/widget-7b")
    remote = devon.source().info("acme/widget-7b")
    assert list(model.metadata) == DESCRIBED_KEYS
    assert model.metadata["revision"] == remote.revision
    assert model.metadata["format"] == list(remote.format)
    assert model.metadata["include_patterns"] is None


def test_declared_file_identities_stay_out_of_the_recorded_metadata() -> None:
    metadata = CommitMetadata(
        described=ModelDescription(revision="abc"),
        declared_files={"model.safetensors": DeclaredFile(10, "f" * 64)},
    )

    assert "declared_files" not in metadata.as_dict()
    assert (
        metadata.as_dict() == CommitMetadata(described=ModelDescription(revision="abc")).as_dict()
    )
