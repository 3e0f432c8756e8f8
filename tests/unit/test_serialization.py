from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given

from devon_core import CleanResult, ExportResult, RemoteFile, SearchResult
from devon_core.serialization import parse_timestamp, timestamp, unstructure
from tests.support.fakes import local_model, remote_model
from tests.support.strategies import aware_datetimes

SEARCH_RESULT_KEYS = {
    "source", "model_id", "model_name", "author", "total_size_bytes", "file_count",
    "parameter_count", "architecture", "format", "quantization", "tags", "license",
    "downloads", "likes", "created_at", "updated_at", "web_url", "repo_url",
    "quantizations",  # additive (ADR 0170)
}  # fmt: skip
LOCAL_MODEL_KEYS = {
    "source", "model_id", "path", "size_bytes", "downloaded_at", "last_used", "files", "metadata",
}  # fmt: skip


def test_timestamps_are_utc_with_offset_and_microseconds() -> None:
    when = datetime(2025, 2, 12, 15, 30, tzinfo=timezone(timedelta(hours=1)))
    assert timestamp(when) == "2025-02-12T14:30:00.000000+00:00"


@given(aware_datetimes)
def test_timestamps_round_trip(when: datetime) -> None:
    assert parse_timestamp(timestamp(when)) == when


def test_naive_timestamps_from_old_vaults_are_read_as_utc() -> None:
    assert parse_timestamp("2025-02-12T14:30:00.123456") == datetime(
        2025, 2, 12, 14, 30, 0, 123456, tzinfo=UTC
    )


def test_a_search_result_has_exactly_the_documented_fields() -> None:
    model = remote_model(files=(("a.gguf", 1),), format=("gguf",))
    data = unstructure(SearchResult(query="q", source="huggingface", results=(model,)))
    assert set(data) == {"query", "source", "count", "results"}
    assert data["count"] == 1
    assert set(data["results"][0]) == SEARCH_RESULT_KEYS
    assert data["results"][0]["format"] == ["gguf"]


def test_internal_revision_and_files_stay_out_of_the_wire_shape() -> None:
    model = remote_model(files=(("a", 1),))
    assert isinstance(model.files[0], RemoteFile)
    data = unstructure(model)
    assert "revision" not in data
    assert "files" not in data


def test_a_local_model_has_exactly_the_documented_fields() -> None:
    data = unstructure(local_model())
    assert set(data) == LOCAL_MODEL_KEYS
    assert data["downloaded_at"] == "2025-02-12T14:30:00.000000+00:00"
    assert data["files"] == ["config.json", "model.safetensors"]


def test_clean_and_export_results_include_their_counts() -> None:
    clean = unstructure(CleanResult(freed_bytes=3, dry_run=True, models=("huggingface/a/b",)))
    assert clean == {"removed": 1, "freed_bytes": 3, "dry_run": True, "models": ["huggingface/a/b"]}
    export = unstructure(ExportResult.kitt(["/p"]))
    assert export == {"format": "kitt", "count": 1, "content": ["/p"]}


def test_a_clean_result_names_removed_staging_only_when_there_is_some() -> None:
    result = CleanResult(
        freed_bytes=0,
        dry_run=False,
        models=(),
        partial_models=("huggingface/a/b",),
        partial_freed_bytes=9,
    )
    assert unstructure(result)["partial_models"] == ["huggingface/a/b"]
    assert unstructure(result)["partial_freed_bytes"] == 9


def test_kitt_export_content_is_the_text_kitt_reads_in_python() -> None:
    export = ExportResult.kitt(["/v/a", "/v/b"])
    assert export.content == "/v/a\n/v/b\n"
    assert export.paths == ("/v/a", "/v/b")
