from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from devon_core import Devon, DownloadFailed, InsufficientStorage, InvalidInput, NotFound
from tests.support.fakes import T0, FakeDisk, FakeSource, MemoryStore, SettableClock


def test_download_lands_the_model_in_the_vault(devon: Devon, store: MemoryStore) -> None:
    model = devon.download("acme/widget-7b")
    assert model.path == "/vault/huggingface/acme/widget-7b"
    assert model.files == ("config.json", "model.safetensors")
    assert model.size_bytes == 5100
    assert model.downloaded_at == T0
    assert store.get("huggingface", "acme/widget-7b") == model


def test_download_records_the_revision_it_fetched(devon: Devon) -> None:
    assert devon.download("acme/widget-7b").metadata["revision"] == "0" * 40


def test_download_of_present_model_returns_it_without_transfer(
    devon: Devon, source: FakeSource, clock: SettableClock
) -> None:
    first = devon.download("acme/widget-7b")
    clock.advance(hours=1)
    again = devon.download("acme/widget-7b")
    assert len(source.downloads) == 1
    assert again.path == first.path
    assert again.last_used == T0 + timedelta(hours=1)


def test_forced_download_fetches_again_and_replaces_the_copy(
    devon: Devon, source: FakeSource, clock: SettableClock
) -> None:
    devon.download("acme/widget-7b")
    clock.advance(hours=1)
    replaced = devon.download("acme/widget-7b", force=True)
    assert len(source.downloads) == 2
    assert replaced.downloaded_at == T0 + timedelta(hours=1)


def test_include_patterns_fetch_only_matching_files(devon: Devon, source: FakeSource) -> None:
    model = devon.download("acme/Widget-8B-GGUF", include_patterns=["*Q4_K_M*"])
    assert model.files == ("widget-8b.Q4_K_M.gguf",)
    assert source.downloads == [("acme/Widget-8B-GGUF", ("widget-8b.Q4_K_M.gguf",))]
    assert model.metadata["include_patterns"] == ["*Q4_K_M*"]


def test_include_patterns_matching_nothing_are_invalid(devon: Devon, store: MemoryStore) -> None:
    with pytest.raises(InvalidInput, match="match none of the 3 files"):
        devon.download("acme/Widget-8B-GGUF", include_patterns=["*Q2_K*"])
    assert store.list() == []


def test_download_reports_progress_up_to_the_total(devon: Devon) -> None:
    seen: list[tuple[int, int]] = []
    devon.download("acme/widget-7b", progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (5100, 5100)


def test_download_of_an_unknown_model_is_not_found(devon: Devon, store: MemoryStore) -> None:
    with pytest.raises(NotFound):
        devon.download("nobody/nothing")
    assert store.list() == []


def test_download_with_an_invalid_id_fails_before_asking_the_source(
    devon: Devon, source: FakeSource
) -> None:
    with pytest.raises(InvalidInput, match="Invalid model id"):
        devon.download("../../etc/passwd")
    assert source.downloads == []


def test_failed_download_leaves_the_vault_as_it_was(
    devon: Devon, source: FakeSource, store: MemoryStore
) -> None:
    source.fail_download = True
    with pytest.raises(DownloadFailed):
        devon.download("acme/widget-7b")
    assert store.list() == []


def test_retry_after_a_failed_download_resumes_from_staging(
    devon: Devon, source: FakeSource, store: MemoryStore
) -> None:
    source.fail_download = True
    with pytest.raises(DownloadFailed):
        devon.download("acme/widget-7b")
    assert store.stage("huggingface", "acme/widget-7b").present_bytes == 100
    assert devon.download("acme/widget-7b").size_bytes == 5100


def test_download_larger_than_free_space_is_refused_before_transfer(
    devon: Devon, source: FakeSource, store: MemoryStore
) -> None:
    store.free_bytes = 5000
    with pytest.raises(InsufficientStorage, match="free disk space"):
        devon.download("acme/widget-7b")
    assert source.downloads == []


def test_download_over_the_quota_is_refused_with_a_hint(devon: Devon, store: MemoryStore) -> None:
    store.quota_bytes = 6000
    store.quota_setting = "DEVON_MAX_STORAGE"
    devon.download("tinyco/Tiny-0.5B")
    with pytest.raises(
        InsufficientStorage, match=r"\(raise DEVON_MAX_STORAGE or clean the vault\)"
    ):
        devon.download("acme/widget-7b")


def test_a_quota_whose_store_names_no_setting_is_hinted_neutrally(
    devon: Devon, store: MemoryStore
) -> None:
    store.quota_bytes = 4000
    with pytest.raises(InsufficientStorage, match=r"\(raise the quota or clean the vault\)"):
        devon.download("acme/widget-7b")


def test_forced_redownload_does_not_count_the_old_copy_against_the_quota(
    devon: Devon, store: MemoryStore
) -> None:
    store.quota_bytes = 6000
    devon.download("acme/widget-7b")
    assert devon.download("acme/widget-7b", force=True).size_bytes == 5100


def test_download_holds_the_model_lock(devon: Devon, store: MemoryStore) -> None:
    devon.download("acme/widget-7b")
    assert store.locks_taken == [("huggingface", "acme/widget-7b")]


class ContendedStore(MemoryStore):
    """A store whose lock, when first taken, lets another request run to completion first:
    as if that request held the lock and this caller waited for it."""

    def __init__(self, disk: FakeDisk) -> None:
        super().__init__(disk)
        self.while_waiting: Callable[[], object] | None = None

    @contextmanager
    def lock(self, source: str, model_id: str) -> Iterator[None]:
        competitor, self.while_waiting = self.while_waiting, None
        if competitor is not None:
            competitor()
        yield


def test_a_request_that_waited_for_a_concurrent_download_gets_its_result(
    source: FakeSource, disk: FakeDisk, clock: SettableClock
) -> None:
    store = ContendedStore(disk)
    devon = Devon(source=source, store=store, clock=clock)
    store.while_waiting = lambda: devon.download("acme/widget-7b")
    model = devon.download("acme/widget-7b")
    assert len(source.downloads) == 1
    assert model.files == ("config.json", "model.safetensors")


def test_a_forced_request_that_waited_for_a_concurrent_forced_download_reuses_it(
    source: FakeSource, disk: FakeDisk, clock: SettableClock
) -> None:
    store = ContendedStore(disk)
    devon = Devon(source=source, store=store, clock=clock)
    devon.download("acme/widget-7b")
    clock.advance(minutes=1)
    store.while_waiting = lambda: devon.download("acme/widget-7b", force=True)
    model = devon.download("acme/widget-7b", force=True)
    assert len(source.downloads) == 2
    assert model.downloaded_at == T0 + timedelta(minutes=1)


def test_a_filtered_download_records_only_the_quantisations_it_holds(devon: Devon) -> None:
    model = devon.download("acme/Widget-8B-GGUF", include_patterns=["*Q4_K_M*"])
    assert model.metadata["quantization"] == "Q4_K_M"


def test_a_full_download_records_every_quantisation(devon: Devon) -> None:
    assert devon.download("acme/Widget-8B-GGUF").metadata["quantization"] == "Q4_K_M,Q8_0"


def test_leftovers_in_staging_do_not_count_as_downloaded_bytes(
    devon: Devon, store: MemoryStore, disk: FakeDisk
) -> None:
    store.quota_bytes = 1000
    staging = store.stage("huggingface", "acme/widget-7b")
    disk[staging.path] = {"old-attempt.bin": 300_000}
    with pytest.raises(InsufficientStorage):
        devon.download("acme/widget-7b")


def test_files_already_complete_in_staging_need_no_more_disk(
    devon: Devon, store: MemoryStore, disk: FakeDisk
) -> None:
    store.free_bytes = 200
    staging = store.stage("huggingface", "acme/widget-7b")
    disk[staging.path] = {"model.safetensors": 5000}
    assert devon.download("acme/widget-7b").size_bytes == 5100


def test_the_quota_counts_the_whole_model_even_when_mostly_staged(
    devon: Devon, store: MemoryStore, disk: FakeDisk
) -> None:
    # The vault would hold 5100 bytes once committed, whatever was fetched earlier.
    store.quota_bytes = 200
    staging = store.stage("huggingface", "acme/widget-7b")
    disk[staging.path] = {"model.safetensors": 5000}
    with pytest.raises(InsufficientStorage, match="quota"):
        devon.download("acme/widget-7b")


def test_a_staged_file_of_the_wrong_size_still_needs_room(
    devon: Devon, store: MemoryStore, disk: FakeDisk
) -> None:
    store.quota_bytes = 200
    staging = store.stage("huggingface", "acme/widget-7b")
    disk[staging.path] = {"model.safetensors": 4999}
    with pytest.raises(InsufficientStorage):
        devon.download("acme/widget-7b")
