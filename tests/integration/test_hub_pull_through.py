"""Pull-through: with DEVON_HUB_PULL_THROUGH on, a Hub request for a model or file the
vault lacks downloads it from the upstream source (the test hub) into the vault first, once
however many clients ask; gated and missing models answer as the Hub would."""

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from huggingface_hub import (
    HfApi,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    snapshot_download,
)
from huggingface_hub.errors import EntryNotFoundError, GatedRepoError, RepositoryNotFoundError
from huggingface_hub.hf_api import RepoFile

from devon_testhub import TestHub
from devon_testhub.default_catalogue import GATED_REPO
from tests.support.hf_helpers import SHARDY, TINY, WIDGET, files_under
from tests.support.hub_endpoint_support import ServedVault, served_vault


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


def test_the_info_of_a_partly_held_model_lists_every_upstream_file_and_fetches_none(
    mirror: ServedVault, test_hub: TestHub, tmp_path: Path
) -> None:
    hf_hub_download(TINY, "config.json", endpoint=mirror.url, cache_dir=tmp_path / "c")
    test_hub.stats.reset()

    info = HfApi(endpoint=mirror.url).model_info(TINY, files_metadata=True)

    repo = test_hub.catalogue[TINY]
    assert sorted(s.rfilename for s in info.siblings or []) == sorted(f.path for f in repo.files)
    assert info.sha == repo.sha
    assert upstream_file_reads(test_hub, TINY) == {}
    held = mirror.devon.get(TINY)
    assert held is not None
    assert held.files == ("config.json",)


@pytest.fixture
def one_quant_mirror(mirror: ServedVault, test_hub: TestHub) -> ServedVault:
    """The mirror holding only the Q4_K_M quantisation of the GGUF repo."""
    mirror.devon.download(WIDGET, include_patterns=["*Q4_K_M*"])
    test_hub.stats.reset()
    return mirror


def test_info_and_refs_of_a_model_held_with_one_quantisation_fetch_no_file(
    one_quant_mirror: ServedVault, test_hub: TestHub
) -> None:
    api = HfApi(endpoint=one_quant_mirror.url)

    info = api.model_info(WIDGET, files_metadata=True)
    refs = api.list_repo_refs(WIDGET)

    repo = test_hub.catalogue[WIDGET]
    listed = {s.rfilename: s.lfs.sha256 if s.lfs else None for s in info.siblings or []}
    assert listed == {f.path: f.sha256 if f.lfs else None for f in repo.files}
    assert info.sha == repo.sha
    assert [branch.target_commit for branch in refs.branches] == [repo.sha]
    assert upstream_file_reads(test_hub, WIDGET) == {}


def test_the_tree_of_a_model_the_vault_lacks_lists_upstreams_files_and_fetches_none(
    mirror: ServedVault, test_hub: TestHub
) -> None:
    entries = list(HfApi(endpoint=mirror.url).list_repo_tree(TINY, recursive=True))

    expected = {f.path: f.content.size for f in test_hub.catalogue[TINY].files}
    assert {e.path: e.size for e in entries if isinstance(e, RepoFile)} == expected
    assert upstream_file_reads(test_hub, TINY) == {}
    assert mirror.devon.get(TINY) is None


def test_downloading_another_quantisation_fetches_only_that_file(
    one_quant_mirror: ServedVault, test_hub: TestHub, tmp_path: Path
) -> None:
    name = "widget-8b.Q8_0.gguf"

    path = hf_hub_download(WIDGET, name, endpoint=one_quant_mirror.url, cache_dir=tmp_path / "c")

    item = test_hub.catalogue[WIDGET].file(name)
    assert item is not None
    assert Path(path).read_bytes() == item.content.read()
    assert upstream_file_reads(test_hub, WIDGET) == {name: 1}


def test_a_resolve_answers_the_commit_the_info_names(
    one_quant_mirror: ServedVault, tmp_path: Path
) -> None:
    api = HfApi(endpoint=one_quant_mirror.url)
    sha = api.model_info(WIDGET).sha

    held = get_hf_file_metadata(hf_hub_url(WIDGET, "widget-8b.Q4_K_M.gguf", endpoint=api.endpoint))
    pulled = get_hf_file_metadata(hf_hub_url(WIDGET, "widget-8b.Q2_K.gguf", endpoint=api.endpoint))

    assert held.commit_hash == pulled.commit_hash == sha


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
