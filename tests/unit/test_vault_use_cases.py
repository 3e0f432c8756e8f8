import pytest

from devon_core import Devon, ExportFormat, InvalidInput, InvalidRequest, NotFound, SourceUsage
from devon_core.serialization import export_text
from tests.support.fakes import FakeSource, MemoryStore, SettableClock, local_model


def test_list_returns_models_sorted_by_source_and_id(store: MemoryStore, devon: Devon) -> None:
    store.add(local_model("b/model", source="huggingface"))
    store.add(local_model("a/model", source="mirror"))
    store.add(local_model("a/model", source="huggingface"))
    assert [m.key for m in devon.list()] == [
        "huggingface/a/model",
        "huggingface/b/model",
        "mirror/a/model",
    ]


def test_list_filters_by_source(store: MemoryStore, devon: Devon) -> None:
    store.add(local_model("a/model", source="mirror"))
    store.add(local_model("a/model", source="huggingface"))
    assert [m.source for m in devon.list(source="mirror")] == ["mirror"]


def test_list_rejects_an_invalid_source_name(devon: Devon) -> None:
    with pytest.raises(InvalidInput):
        devon.list(source="../x")


def test_remove_deletes_the_model(store: MemoryStore, devon: Devon) -> None:
    store.add(local_model("a/model"))
    result = devon.remove("a/model")
    assert (result.deleted, result.model_id, result.source) == (True, "a/model", "huggingface")
    assert store.list() == []


def test_remove_of_a_missing_model_is_not_found(devon: Devon) -> None:
    with pytest.raises(NotFound, match="huggingface/a/model is not in the vault"):
        devon.remove("a/model")


def test_status_totals_per_source(store: MemoryStore, devon: Devon) -> None:
    store.add(local_model("a/one", size_bytes=10))
    store.add(local_model("a/two", size_bytes=20))
    store.add(local_model("a/one", source="mirror", size_bytes=5))
    status = devon.status()
    assert status.model_count == 3
    assert status.total_size_bytes == 35
    assert status.storage_path == "/vault"
    assert status.sources == {"huggingface": SourceUsage(2, 30), "mirror": SourceUsage(1, 5)}


def test_clean_with_negative_days_is_an_invalid_request(devon: Devon) -> None:
    with pytest.raises(InvalidRequest, match="days must be a whole number >= 0"):
        devon.clean(unused=True, days=-1)


def test_clean_with_neither_flag_removes_nothing(store: MemoryStore, devon: Devon) -> None:
    store.add(local_model("a/model"))
    assert devon.clean().removed == 0
    assert len(store.list()) == 1


def test_export_kitt_is_one_path_per_line(store: MemoryStore, devon: Devon) -> None:
    store.add(local_model("b/model"))
    store.add(local_model("a/model"))
    result = devon.export("kitt")
    assert result.content == "/vault/huggingface/a/model\n/vault/huggingface/b/model\n"
    assert export_text(result) == "/vault/huggingface/a/model\n/vault/huggingface/b/model\n"


def test_export_of_an_unknown_format_is_an_invalid_request(devon: Devon) -> None:
    with pytest.raises(InvalidRequest, match="Unknown export format 'csv'"):
        devon.export("csv")


def test_export_json_holds_the_documented_fields(store: MemoryStore, devon: Devon) -> None:
    store.add(local_model("a/model"))
    result = devon.export(ExportFormat.JSON)
    assert result.count == 1
    assert '"downloaded_at": "2025-02-12T14:30:00.000000+00:00"' in export_text(result)


def test_list_of_an_unknown_source_is_invalid(devon: Devon) -> None:
    with pytest.raises(InvalidInput, match="Unknown source 'modelscope'"):
        devon.list(source="modelscope")


def test_list_of_a_known_source_without_models_is_empty(devon: Devon) -> None:
    assert devon.list(source="huggingface") == []


def test_models_of_an_uninstalled_source_can_still_be_listed(
    store: MemoryStore, devon: Devon
) -> None:
    store.add(local_model("a/model", source="oldmirror"))
    assert [m.source for m in devon.list(source="oldmirror")] == ["oldmirror"]


def test_remove_from_an_unknown_source_is_invalid(devon: Devon) -> None:
    with pytest.raises(InvalidInput, match="Unknown source 'modelscope'"):
        devon.remove("a/model", source="modelscope")


def test_models_of_an_uninstalled_source_can_still_be_removed(
    store: MemoryStore, devon: Devon
) -> None:
    store.add(local_model("a/model", source="oldmirror"))
    assert devon.remove("a/model", source="oldmirror").deleted
    assert store.list() == []


def test_clean_carries_on_past_a_model_it_cannot_remove_and_reports_both() -> None:
    store = MemoryStore()
    for model_id in ("acme/a", "acme/b", "acme/c"):
        store.add(local_model(model_id))
    store.fail_remove = {"huggingface/acme/b"}
    devon = Devon(source=FakeSource(), store=store, clock=SettableClock())

    result = devon.clean(all=True)

    assert result.models == ("huggingface/acme/a", "huggingface/acme/c")
    assert [f.model for f in result.failed] == ["huggingface/acme/b"]
    assert "Permission denied" in result.failed[0].detail
    assert [m.model_id for m in devon.list()] == ["acme/b"]
