"""Pull-through: with DEVON_HUB_PULL_THROUGH on, a Hub request for a model or file the
vault lacks downloads it from the upstream source (the test hub) into the vault first, once
however many clients ask; gated and missing models answer as the Hub would."""

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import EntryNotFoundError, GatedRepoError, RepositoryNotFoundError

from devon_testhub import TestHub
from devon_testhub.default_catalogue import GATED_REPO
from tests.contract.hf_helpers import SHARDY, TINY, files_under
from tests.contract.hub_endpoint_support import ServedVault, served_vault
from tests.contract.test_http_serve import serve_process


@pytest.fixture
def mirror(test_hub: TestHub, tmp_path: Path) -> Iterator[ServedVault]:
    with served_vault(test_hub, tmp_path / "vault", DEVON_HUB_PULL_THROUGH="1") as served:
        test_hub.stats.reset()
        yield served


def upstream_file_reads(hub: TestHub, model_id: str) -> dict[str, int]:
    """How many times the test hub sent each file of `model_id`."""
    prefix = f"/{model_id}/resolve/"
    return {
        path.split("/resolve/", 1)[1].split("/", 1)[1]: count
        for path, count in hub.stats.by_path("GET").items()
        if path.startswith(prefix)
    }


def test_without_pull_through_a_model_the_vault_lacks_is_not_fetched(
    test_hub: TestHub, tmp_path: Path
) -> None:
    with served_vault(test_hub, tmp_path / "vault") as served:
        test_hub.stats.reset()
        with pytest.raises(RepositoryNotFoundError):
            HfApi(endpoint=served.url).model_info(TINY)

    assert test_hub.stats.count(TINY) == 0
    assert served.devon.get(TINY) is None


def test_two_clients_snapshotting_one_model_fetch_it_once_from_upstream(
    mirror: ServedVault, test_hub: TestHub, tmp_path: Path
) -> None:
    folders: list[str] = []

    def client(n: int) -> None:
        folders.append(
            snapshot_download(SHARDY, endpoint=mirror.url, cache_dir=tmp_path / f"client-{n}")
        )

    threads = [threading.Thread(target=client, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    repo = test_hub.catalogue[SHARDY]
    expected = {f.path: f.content.read() for f in repo.files}
    assert len(folders) == 2
    assert all(files_under(Path(folder)) == expected for folder in folders)
    assert upstream_file_reads(test_hub, SHARDY) == dict.fromkeys(expected, 1)


def test_two_clients_asking_for_one_missing_file_fetch_it_once(
    mirror: ServedVault, test_hub: TestHub, tmp_path: Path
) -> None:
    def client(n: int) -> str:
        return hf_hub_download(
            TINY, "model.safetensors", endpoint=mirror.url, cache_dir=tmp_path / f"c{n}"
        )

    with ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(client, range(2)))

    item = test_hub.catalogue[TINY].file("model.safetensors")
    assert item is not None
    assert [Path(p).read_bytes() for p in paths] == [item.content.read()] * 2
    assert upstream_file_reads(test_hub, TINY) == {"model.safetensors": 1}


def test_hf_hub_download_pulls_only_the_file_asked_for(
    mirror: ServedVault, test_hub: TestHub, tmp_path: Path
) -> None:
    path = hf_hub_download(TINY, "config.json", endpoint=mirror.url, cache_dir=tmp_path / "c")

    item = test_hub.catalogue[TINY].file("config.json")
    assert item is not None
    assert Path(path).read_bytes() == item.content.read()
    assert upstream_file_reads(test_hub, TINY) == {"config.json": 1}
    held = mirror.devon.get(TINY)
    assert held is not None
    assert held.files == ("config.json",)


def test_the_info_of_a_partly_held_model_pulls_the_rest_of_it(
    mirror: ServedVault, test_hub: TestHub, tmp_path: Path
) -> None:
    hf_hub_download(TINY, "config.json", endpoint=mirror.url, cache_dir=tmp_path / "c")

    info = HfApi(endpoint=mirror.url).model_info(TINY)

    every = sorted(f.path for f in test_hub.catalogue[TINY].files)
    assert sorted(s.rfilename for s in info.siblings or []) == every
    assert sorted(upstream_file_reads(test_hub, TINY)) == every


def test_a_gated_model_raises_gated_repo_error(mirror: ServedVault, tmp_path: Path) -> None:
    with pytest.raises(GatedRepoError):
        hf_hub_download(GATED_REPO, "config.json", endpoint=mirror.url, cache_dir=tmp_path / "c")

    assert mirror.devon.get(GATED_REPO) is None


def test_a_gated_models_error_says_the_token_that_matters_is_the_servers(
    mirror: ServedVault, tmp_path: Path
) -> None:
    with pytest.raises(GatedRepoError) as raised:
        hf_hub_download(GATED_REPO, "config.json", endpoint=mirror.url, cache_dir=tmp_path / "c")

    assert "HF_TOKEN of the server" in str(raised.value.server_message)


def test_a_model_missing_upstream_raises_repository_not_found(mirror: ServedVault) -> None:
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=mirror.url).model_info("acme/never-published")


def test_a_file_missing_upstream_raises_entry_not_found(
    mirror: ServedVault, tmp_path: Path
) -> None:
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(TINY, "missing.bin", endpoint=mirror.url, cache_dir=tmp_path / "c")


@pytest.mark.slow
def test_devon_serve_pulls_through_with_its_jobs_in_a_child_process(
    test_hub: TestHub, tmp_path: Path
) -> None:
    env = {
        "DEVON_STORAGE_PATH": str(tmp_path / "vault"),
        "DEVON_CONFIG_PATH": "",
        "HF_ENDPOINT": test_hub.url,
        "DEVON_API_KEY": "",
        "DEVON_HUB_PULL_THROUGH": "true",
    }
    with serve_process(env) as (url, _):
        folder = snapshot_download(TINY, endpoint=url, cache_dir=tmp_path / "c")

    expected = {f.path: f.content.read() for f in test_hub.catalogue[TINY].files}
    assert files_under(Path(folder)) == expected
