"""Properties of export, for any vault."""

from hypothesis import given

from devon_core import Devon, ExportEntry, ExportFormat, LocalModel
from tests.support.fakes import FakeSource, MemoryStore, SettableClock
from tests.support.strategies import vaults


def _devon(models: list[LocalModel]) -> tuple[Devon, MemoryStore]:
    store = MemoryStore()
    for model in models:
        store.add(model)
    return Devon(source=FakeSource(), store=store, clock=SettableClock()), store


@given(vaults())
def test_count_equals_the_number_of_models(models: list[LocalModel]) -> None:
    devon, _ = _devon(models)
    for export_format in ExportFormat:
        result = devon.export(export_format)
        assert result.count == len(models) == len(result.paths)


@given(vaults())
def test_kitt_paths_are_the_json_paths_in_the_same_order(models: list[LocalModel]) -> None:
    devon, _ = _devon(models)
    kitt = devon.export(ExportFormat.KITT).content
    entries = devon.export(ExportFormat.JSON).content
    assert isinstance(kitt, str)
    assert kitt.splitlines() == [e.path for e in entries if isinstance(e, ExportEntry)]


@given(vaults())
def test_json_entries_are_sorted_by_source_and_id(models: list[LocalModel]) -> None:
    devon, _ = _devon(models)
    entries = [e for e in devon.export(ExportFormat.JSON).content if isinstance(e, ExportEntry)]
    keys = [(e.source, e.model_id) for e in entries]
    assert keys == sorted(keys)


@given(vaults())
def test_each_model_appears_once(models: list[LocalModel]) -> None:
    devon, _ = _devon(models)
    entries = [e for e in devon.export(ExportFormat.JSON).content if isinstance(e, ExportEntry)]
    keys = [(e.source, e.model_id) for e in entries]
    assert sorted(keys) == sorted((m.source, m.model_id) for m in models)
    assert len(set(devon.export(ExportFormat.KITT).paths)) == len(models)


@given(vaults())
def test_export_changes_nothing_in_the_store(models: list[LocalModel]) -> None:
    devon, store = _devon(models)
    before = store.list()
    devon.export(ExportFormat.KITT)
    devon.export(ExportFormat.JSON)
    assert store.list() == before


@given(vaults())
def test_json_entries_carry_each_models_details(models: list[LocalModel]) -> None:
    devon, _ = _devon(models)
    by_key = {(m.source, m.model_id): m for m in models}
    for entry in devon.export(ExportFormat.JSON).content:
        assert isinstance(entry, ExportEntry)
        model = by_key[(entry.source, entry.model_id)]
        assert (entry.path, entry.size_bytes, entry.downloaded_at, entry.files) == (
            model.path,
            model.size_bytes,
            model.downloaded_at,
            model.files,
        )
