"""What `Devon` answers so that the CLI and HTTP need nothing else (issue 10, item 3)."""

import pytest

from devon_core import Devon, InvalidInput
from devon_core.errors import NotFound, SourceUnavailable
from devon_core.models import RemoteModel
from devon_core.results import SearchFilters
from tests.support.fakes import FakeSource, MemoryStore, SettableClock, remote_model


def devon_with(*sources: FakeSource, store: MemoryStore | None = None) -> Devon:
    store = store or MemoryStore()
    for source in sources:
        source.disk = store.disk
    return Devon(store=store, clock=SettableClock(), sources=sources)


def test_first_download_says_it_transferred_files() -> None:
    devon = devon_with(FakeSource([remote_model("acme/widget-7b")]))

    assert devon.download_outcome("acme/widget-7b").transferred is True


def test_download_of_present_model_returns_it_without_transfer() -> None:
    source = FakeSource([remote_model("acme/widget-7b")])
    devon = devon_with(source)
    devon.download("acme/widget-7b")

    outcome = devon.download_outcome("acme/widget-7b")

    assert (outcome.transferred, outcome.model.model_id) == (False, "acme/widget-7b")
    assert len(source.downloads) == 1


def test_forced_download_of_present_model_transfers_again() -> None:
    devon = devon_with(FakeSource([remote_model("acme/widget-7b")]))
    devon.download("acme/widget-7b")
    devon.clock.advance(seconds=1)  # type: ignore[attr-defined]

    assert devon.download_outcome("acme/widget-7b", force=True).transferred is True


class DownSource(FakeSource):
    def search(self, query: str | None, filters: SearchFilters, limit: int) -> list[RemoteModel]:
        raise SourceUnavailable("the mirror does not answer")


def test_diagnosis_reports_free_space_and_each_source_answer() -> None:
    store = MemoryStore()
    store.free_bytes = 12345
    devon = devon_with(FakeSource([remote_model()]), DownSource(name="mirror"), store=store)

    diagnosis = devon.diagnose()

    assert diagnosis.free_bytes == 12345
    assert [(c.name, c.ok, c.detail) for c in diagnosis.sources] == [
        ("huggingface", True, ""),
        ("mirror", False, "the mirror does not answer"),
    ]


def test_held_names_the_vault_copy_of_a_printed_id() -> None:
    devon = devon_with(FakeSource([remote_model("acme/widget-7b")]))
    devon.download("acme/widget-7b")

    assert devon.held("huggingface/acme/widget-7b").model_id == "acme/widget-7b"


def test_held_of_a_model_not_in_the_vault_suggests_close_ids() -> None:
    devon = devon_with(FakeSource([remote_model("acme/widget-7b")]))
    devon.download("acme/widget-7b")

    with pytest.raises(NotFound, match="did you mean acme/widget-7b"):
        devon.held("acme/widget-7c")


def test_source_names_are_the_plugins_sorted() -> None:
    devon = devon_with(FakeSource(name="zoo"), FakeSource(name="huggingface"))

    assert devon.source_names() == ("huggingface", "zoo")


def test_a_store_without_an_index_refuses_to_rebuild_one() -> None:
    with pytest.raises(InvalidInput, match="no index to rebuild"):
        devon_with(FakeSource()).rebuild_index()


def test_a_store_without_an_index_refuses_to_copy_one() -> None:
    with pytest.raises(InvalidInput, match="no index to copy"):
        devon_with(FakeSource()).copy_index("sqlite")


def test_a_vault_without_an_importer_refuses_a_legacy_import() -> None:
    with pytest.raises(InvalidInput, match=r"cannot import a 1\.x vault"):
        devon_with(FakeSource()).import_legacy("/nowhere")


def test_without_sources_or_a_default_a_call_naming_no_source_is_refused() -> None:
    devon = Devon(store=MemoryStore(), clock=SettableClock())

    with pytest.raises(InvalidInput, match="no default source"):
        devon.get("acme/widget-7b")


def test_sources_given_as_a_loader_load_only_when_first_needed() -> None:
    loaded: list[str] = []

    def load() -> list[FakeSource]:
        loaded.append("once")
        return [FakeSource([remote_model()], disk=store.disk)]

    store = MemoryStore()
    devon = Devon(store=store, clock=SettableClock(), sources=load, default_source="huggingface")
    assert devon.list() == []
    assert devon.status().model_count == 0
    assert loaded == []

    devon.download("acme/widget-7b")
    devon.download("acme/widget-7b")
    assert loaded == ["once"]
