"""End to end through the core: `Devon` with the Hugging Face source on the test hub and the
real disk vault."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from devon_adapters.clock import SystemClock
from devon_adapters.vault.store import DiskModelStore
from devon_core import Devon, DownloadFailed
from devon_testhub import TestHub
from tests.support.hf_helpers import SHARDY, WIDGET, files_under, hub_bytes, source_for


@pytest.fixture
def devon(test_hub: TestHub, tmp_path: Path) -> Iterator[Devon]:
    store = DiskModelStore(tmp_path / "vault")
    yield Devon(source=source_for(test_hub), store=store, clock=SystemClock())
    store.close()


def test_downloaded_model_is_in_the_vault_byte_identical_to_the_hub(
    devon: Devon, test_hub: TestHub
) -> None:
    local = devon.download(SHARDY)

    repo = test_hub.catalogue[SHARDY]
    assert files_under(Path(local.path)) == {f.path: f.content.read() for f in repo.files}
    assert local.files == tuple(sorted(f.path for f in repo.files))
    assert local.size_bytes == sum(f.size for f in repo.files)
    assert local.metadata["revision"] == repo.sha
    assert [m.model_id for m in devon.list()] == [SHARDY]


def test_filtered_download_keeps_only_the_matching_quantisation(
    devon: Devon, test_hub: TestHub
) -> None:
    local = devon.download(WIDGET, include_patterns=["*Q4_K_M*"])

    assert local.files == ("widget-8b.Q4_K_M.gguf",)
    assert files_under(Path(local.path)) == {
        "widget-8b.Q4_K_M.gguf": hub_bytes(test_hub, WIDGET, "widget-8b.Q4_K_M.gguf")
    }


def test_interrupted_download_leaves_the_vault_as_it_was_and_resumes(
    test_hub: TestHub, tmp_path: Path
) -> None:
    store = DiskModelStore(tmp_path / "vault")
    devon = Devon(source=source_for(test_hub, download_retries=0), store=store, clock=SystemClock())
    shard = "model-00002-of-00003.safetensors"
    test_hub.faults.cut_transfers(after_bytes=30_000, times=1, path_contains=shard)
    test_hub.faults.fail_requests(503, times=1, path_contains=shard, skip=1)

    with pytest.raises(DownloadFailed):
        devon.download(SHARDY)
    assert devon.list() == []
    local = devon.download(SHARDY)

    assert test_hub.stats.range_starts(shard)[-1] == 30_000
    assert (Path(local.path) / shard).read_bytes() == hub_bytes(test_hub, SHARDY, shard)
    store.close()


def test_search_through_devon_applies_filters_and_limit(devon: Devon) -> None:
    result = devon.search(format="gguf", size="<1gb", limit=7)

    assert result.count == 7
    assert all("gguf" in m.format for m in result.results)
    downloads = [m.downloads for m in result.results]
    assert downloads == sorted(downloads, reverse=True)


def test_info_through_devon_describes_the_remote_model(devon: Devon) -> None:
    info = devon.info(SHARDY)

    assert info.local is None
    assert info.remote is not None
    assert info.remote.parameter_count == 7.24
