"""End to end through the `Devon` facade, on a real vault, with a source writing real files."""

from pathlib import Path

import pytest

from devon_adapters import DiskModelStore
from devon_app import Settings, build_devon
from devon_core import Devon, DownloadFailed, InsufficientStorage, NotFound
from tests.support.file_source import DEFAULT_CATALOGUE, FileSource
from tests.support.vault_builders import assert_consistent, files_on_disk

WIDGET = DEFAULT_CATALOGUE["acme/widget-7b"]


def make_devon(tmp_path: Path, source: FileSource, quota: int | None = None) -> Devon:
    settings = Settings(storage_path=tmp_path / "vault", max_storage_bytes=quota)
    return build_devon(settings, sources=[source])


def store_of(devon: Devon) -> DiskModelStore:
    assert isinstance(devon.store, DiskModelStore)
    return devon.store


def test_download_list_get_use_and_remove_a_model(tmp_path: Path) -> None:
    devon = make_devon(tmp_path, FileSource())
    model = devon.download("acme/widget-7b")
    assert files_on_disk(model.path) == WIDGET
    assert model.metadata["revision"] == "1" * 40
    assert [m.key for m in devon.list()] == ["huggingface/acme/widget-7b"]
    assert devon.get("acme/widget-7b") == model
    used = devon.info("acme/widget-7b").local
    assert used is not None
    assert used.last_used is not None
    assert devon.export("kitt").content == f"{model.path}\n"
    devon.remove("acme/widget-7b")
    assert devon.list() == []
    assert not Path(model.path).exists()
    with pytest.raises(NotFound):
        devon.remove("acme/widget-7b")


def test_download_with_include_patterns_keeps_only_matching_files(tmp_path: Path) -> None:
    devon = make_devon(tmp_path, FileSource())
    model = devon.download("acme/widget-7b", include_patterns=["*.json"])
    assert model.files == ("config.json",)


def test_a_failed_download_leaves_the_vault_as_it_was(tmp_path: Path) -> None:
    source = FileSource()
    devon = make_devon(tmp_path, source)
    devon.download("acme/gadget-1b")
    before = devon.list()
    source.fail_after_files = 1
    with pytest.raises(DownloadFailed):
        devon.download("acme/widget-7b")
    assert devon.list() == before
    assert not (tmp_path / "vault" / "huggingface" / "acme" / "widget-7b").exists()
    assert_consistent(store_of(devon))


def test_the_next_attempt_resumes_from_what_staging_holds(tmp_path: Path) -> None:
    source = FileSource()
    devon = make_devon(tmp_path, source)
    source.fail_after_files = 1
    with pytest.raises(DownloadFailed):
        devon.download("acme/widget-7b")
    assert source.fetched == ["config.json"]
    model = devon.download("acme/widget-7b")
    assert source.fetched == ["config.json", "model.safetensors"]
    assert files_on_disk(model.path) == WIDGET


def test_a_forced_redownload_that_fails_keeps_the_old_copy(tmp_path: Path) -> None:
    source = FileSource()
    devon = make_devon(tmp_path, source)
    old = devon.download("acme/widget-7b")
    source.catalogue["acme/widget-7b"] = {"config.json": b"{}", "model.safetensors": b"v2"}
    source.fail_after_files = 1
    with pytest.raises(DownloadFailed):
        devon.download("acme/widget-7b", force=True)
    assert devon.get("acme/widget-7b") == old
    assert files_on_disk(old.path) == WIDGET


def test_a_download_beyond_the_quota_is_refused_before_it_starts(tmp_path: Path) -> None:
    source = FileSource()
    devon = make_devon(tmp_path, source, quota=4096)
    with pytest.raises(InsufficientStorage, match="quota"):
        devon.download("acme/widget-7b")
    assert source.fetched == []
    assert devon.list() == []


def test_a_refusal_over_the_quota_tells_to_raise_devon_max_storage(
    tmp_path: Path, database_url: str | None
) -> None:
    settings = Settings(
        storage_path=tmp_path / "vault", max_storage_bytes=4096, database_url=database_url
    )
    devon = build_devon(settings, sources=[FileSource()])
    with pytest.raises(
        InsufficientStorage, match=r"\(raise DEVON_MAX_STORAGE or clean the vault\)"
    ):
        devon.download("acme/widget-7b")
    store_of(devon).close()


def test_a_download_within_the_quota_lands(tmp_path: Path) -> None:
    devon = make_devon(tmp_path, FileSource(), quota=8192)
    devon.download("acme/gadget-1b")
    assert devon.status().total_size_bytes == 1026


def test_status_of_the_vault_through_the_facade(tmp_path: Path) -> None:
    devon = make_devon(tmp_path, FileSource())
    devon.download("acme/widget-7b")
    devon.download("acme/gadget-1b")
    status = devon.status()
    assert status.model_count == 2
    assert status.total_size_bytes == sum(len(b) for b in WIDGET.values()) + 1026
