"""The vault answers the Hub's model API: the real huggingface_hub client (and the `hf`
command, and transformers) pointed at a served DEVON get the vault's bytes, the Hub's
headers, its errors, and its cache layout."""

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from devon_testhub import TestHub
from tests.support.hf_helpers import SHARDY, TINY, files_under, hub_bytes, sha256_of
from tests.support.hub_endpoint_support import (
    ServedVault,
    hf_env,
    run_python,
    served_vault,
)

KEY = "lab-key-123"


@pytest.fixture
def served(test_hub: TestHub, tmp_path: Path) -> Iterator[ServedVault]:
    with served_vault(test_hub, tmp_path / "vault", holding=(TINY, SHARDY)) as vault:
        yield vault


def commit_of(test_hub: TestHub, model_id: str) -> str:
    return test_hub.catalogue[model_id].sha


def test_model_info_lists_every_vault_file_with_its_size_and_lfs_sha256(
    served: ServedVault, test_hub: TestHub
) -> None:
    info = HfApi(endpoint=served.url).model_info(SHARDY, files_metadata=True)

    repo = test_hub.catalogue[SHARDY]
    assert info.id == SHARDY
    assert info.sha == repo.sha
    siblings = {s.rfilename: s for s in info.siblings or []}
    assert sorted(siblings) == sorted(f.path for f in repo.files)
    for item in repo.files:
        assert siblings[item.path].size == item.size
        lfs = siblings[item.path].lfs
        assert (lfs.sha256 if lfs else None) == (item.sha256 if item.lfs else None)


def test_model_info_at_a_prefix_of_the_held_commit_is_that_commit(
    served: ServedVault, test_hub: TestHub
) -> None:
    sha = commit_of(test_hub, TINY)

    info = HfApi(endpoint=served.url).model_info(TINY, revision=sha[:7])

    assert info.sha == sha


def test_hf_hub_download_puts_the_vaults_bytes_in_the_cache_layout(
    served: ServedVault, test_hub: TestHub, tmp_path: Path
) -> None:
    cache = tmp_path / "hf-cache"

    path = hf_hub_download(TINY, "model.safetensors", endpoint=served.url, cache_dir=cache)

    sha = commit_of(test_hub, TINY)
    data = hub_bytes(test_hub, TINY, "model.safetensors")
    folder = cache / "models--tinyco--Tiny-0.5B-Instruct"
    assert Path(path) == folder / "snapshots" / sha / "model.safetensors"
    assert Path(path).read_bytes() == data
    assert (folder / "blobs" / sha256_of(data)).read_bytes() == data
    assert (folder / "refs" / "main").read_text() == sha


def test_snapshot_download_with_allow_patterns_fetches_only_those_files(
    served: ServedVault, test_hub: TestHub, tmp_path: Path
) -> None:
    folder = snapshot_download(
        SHARDY,
        endpoint=served.url,
        cache_dir=tmp_path / "hf-cache",
        allow_patterns=["*.json", "model-00002-*"],
    )

    repo = test_hub.catalogue[SHARDY]
    wanted = {
        f.path: f.content.read()
        for f in repo.files
        if f.path.endswith(".json") or f.path.startswith("model-00002-")
    }
    assert Path(folder).name == repo.sha
    assert files_under(Path(folder)) == wanted


def test_transformers_loads_a_config_and_a_tokenizer_from_devon(
    test_hub: TestHub, tmp_path: Path
) -> None:
    vault = tmp_path / "vault"
    folder = vault / "huggingface" / "labco" / "word-tokenizer"
    write_tokenizer_model(folder)
    with served_vault(test_hub, vault) as served:
        served.devon.scan()
        code = (
            "from transformers import AutoConfig, AutoTokenizer\n"
            "config = AutoConfig.from_pretrained('labco/word-tokenizer')\n"
            "tokenizer = AutoTokenizer.from_pretrained('labco/word-tokenizer')\n"
            "print(config.model_type, tokenizer('hello vault')['input_ids'])\n"
        )
        done = run_python(code, hf_env(served.url, tmp_path / "hf-home"))

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["bert", "[2,", "3]"]


def write_tokenizer_model(folder: Path) -> None:
    """A model folder transformers can load a config and a (word-level) tokenizer from."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    folder.mkdir(parents=True)
    vocab = {"[UNK]": 0, "[PAD]": 1, "hello": 2, "vault": 3}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "config.json").write_text('{"model_type": "bert", "vocab_size": 4}')
    (folder / "tokenizer_config.json").write_text(
        '{"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "pad_token": "[PAD]"}'
    )


def test_a_repository_the_vault_lacks_raises_repository_not_found(served: ServedVault) -> None:
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=served.url).model_info("acme/not-in-the-vault")


def test_a_file_the_model_lacks_raises_entry_not_found(served: ServedVault, tmp_path: Path) -> None:
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(TINY, "missing.bin", endpoint=served.url, cache_dir=tmp_path / "c")


def test_a_revision_the_vault_does_not_hold_raises_revision_not_found(
    served: ServedVault, tmp_path: Path
) -> None:
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(
            TINY, "config.json", revision="f" * 40, endpoint=served.url, cache_dir=tmp_path / "c"
        )


def test_an_lfs_file_carries_the_hubs_etag_commit_and_linked_size(
    served: ServedVault, test_hub: TestHub
) -> None:
    item = test_hub.catalogue[TINY].file("model.safetensors")
    assert item is not None

    answer = httpx.head(f"{served.url}/{TINY}/resolve/main/model.safetensors")

    assert answer.status_code == 200
    assert answer.headers["etag"] == f'"{item.sha256}"'
    assert answer.headers["x-linked-etag"] == f'"{item.sha256}"'
    assert answer.headers["x-linked-size"] == str(item.size)
    assert answer.headers["content-length"] == str(item.size)
    assert answer.headers["x-repo-commit"] == commit_of(test_hub, TINY)
    assert answer.headers["accept-ranges"] == "bytes"


def test_a_file_outside_lfs_has_its_git_blob_id_as_etag(
    served: ServedVault, test_hub: TestHub
) -> None:
    item = test_hub.catalogue[TINY].file("config.json")
    assert item is not None

    answer = httpx.head(f"{served.url}/{TINY}/resolve/main/config.json")

    assert answer.headers["etag"] == f'"{item.oid}"'
    assert "x-linked-etag" not in answer.headers


def test_tree_lists_the_files_as_list_repo_tree_reads_them(
    served: ServedVault, test_hub: TestHub
) -> None:
    entries = list(HfApi(endpoint=served.url).list_repo_tree(SHARDY, recursive=True))

    expected = {
        f.path: (f.oid, f.sha256 if f.lfs else None) for f in test_hub.catalogue[SHARDY].files
    }
    listed = {e.path: (e.blob_id, e.lfs.sha256 if e.lfs else None) for e in entries}  # type: ignore[union-attr]
    assert listed == expected


def test_refs_name_main_at_the_held_commit_as_llama_cpp_reads_them(
    served: ServedVault, test_hub: TestHub
) -> None:
    refs = HfApi(endpoint=served.url).list_repo_refs(TINY)

    assert [(b.name, b.target_commit) for b in refs.branches] == [
        ("main", commit_of(test_hub, TINY))
    ]


def test_a_range_is_answered_206_with_exactly_those_bytes(
    served: ServedVault, test_hub: TestHub
) -> None:
    data = hub_bytes(test_hub, TINY, "model.safetensors")

    answer = httpx.get(
        f"{served.url}/{TINY}/resolve/main/model.safetensors", headers={"Range": "bytes=100-4195"}
    )

    assert answer.status_code == 206
    assert answer.headers["content-range"] == f"bytes 100-4195/{len(data)}"
    assert answer.content == data[100:4196]


def test_eight_connections_fetching_ranges_at_once_reassemble_the_file(
    served: ServedVault, test_hub: TestHub
) -> None:
    data = hub_bytes(test_hub, SHARDY, "model-00001-of-00003.safetensors")
    url = f"{served.url}/{SHARDY}/resolve/main/model-00001-of-00003.safetensors"
    step = -(-len(data) // 8)
    spans = [(start, min(start + step, len(data)) - 1) for start in range(0, len(data), step)]

    def fetch(span: tuple[int, int]) -> bytes:
        answer = httpx.get(url, headers={"Range": f"bytes={span[0]}-{span[1]}"})
        assert answer.status_code == 206
        return answer.content

    with ThreadPoolExecutor(8) as pool:
        parts = list(pool.map(fetch, spans))

    assert b"".join(parts) == data


def test_a_range_past_the_end_is_416(served: ServedVault) -> None:
    answer = httpx.get(
        f"{served.url}/{TINY}/resolve/main/config.json", headers={"Range": "bytes=999999-"}
    )

    assert answer.status_code == 416
    assert answer.json()["detail"].startswith("Range")


def test_files_are_byte_identical_under_a_server_without_zero_copy(
    test_hub: TestHub, tmp_path: Path
) -> None:
    with served_vault(test_hub, tmp_path / "vault", holding=(TINY,), zero_copy=False) as served:
        whole = httpx.get(f"{served.url}/{TINY}/resolve/main/model.safetensors")
        part = httpx.get(
            f"{served.url}/{TINY}/resolve/main/model.safetensors", headers={"Range": "bytes=7-"}
        )

    data = hub_bytes(test_hub, TINY, "model.safetensors")
    assert whole.content == data
    assert part.content == data[7:]


def test_a_client_leaving_mid_file_does_not_disturb_the_next_request(
    served: ServedVault, test_hub: TestHub
) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            f"GET /{TINY}/resolve/main/model.safetensors HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        )
        sock.recv(1024)  # the head and a little of the body, then gone

    again = httpx.get(f"{served.url}/{TINY}/resolve/main/model.safetensors")

    assert again.content == hub_bytes(test_hub, TINY, "model.safetensors")


def test_reading_a_file_marks_the_model_used_and_a_head_does_not(served: ServedVault) -> None:
    httpx.head(f"{served.url}/{TINY}/resolve/main/config.json")
    assert _last_used(served, TINY) is None

    httpx.get(f"{served.url}/{TINY}/resolve/main/config.json")

    assert _last_used(served, TINY) is not None


def _last_used(served: ServedVault, model_id: str) -> object:
    model = served.devon.get(model_id)
    assert model is not None
    return model.last_used


def test_with_an_api_key_a_client_needs_it_as_its_hf_token(
    test_hub: TestHub, tmp_path: Path
) -> None:
    vault = tmp_path / "vault"
    with served_vault(test_hub, vault, holding=(TINY,), DEVON_API_KEY=KEY) as served:
        api = HfApi(endpoint=served.url)
        with pytest.raises(HfHubHTTPError) as refused:
            api.model_info(TINY, token="wrong")
        info = api.model_info(TINY, token=KEY)

    assert refused.value.response.status_code == 401
    assert info.sha == commit_of(test_hub, TINY)


def test_hub_paths_answer_only_to_the_allowed_host_names(served: ServedVault) -> None:
    answer = httpx.get(f"{served.url}/api/models/{TINY}", headers={"Host": "rebound.example.com"})

    assert answer.status_code == 400
    assert "not allowed" in answer.json()["detail"]


def test_hub_paths_refuse_a_foreign_browser_origin(served: ServedVault) -> None:
    answer = httpx.get(
        f"{served.url}/{TINY}/resolve/main/config.json", headers={"Origin": "https://evil.example"}
    )

    assert answer.status_code == 403
    assert "Cross-origin" in answer.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/api/datasets/acme/data", "/datasets/acme/data/resolve/main/train.csv"]
)
def test_datasets_and_spaces_are_not_served(served: ServedVault, path: str) -> None:
    answer = httpx.get(f"{served.url}{path}")

    assert answer.status_code == 404
    assert "models only" in answer.json()["detail"]


def test_uploads_are_refused_as_read_only(served: ServedVault) -> None:
    answer = httpx.post(f"{served.url}/api/models/{TINY}/commit/main", json={})

    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"
    assert "read-only" in answer.json()["detail"]


def test_a_write_with_a_form_body_is_refused_as_read_only(served: ServedVault) -> None:
    # what HfApi.get_paths_info sends: a form, not JSON
    answer = httpx.post(
        f"{served.url}/api/models/{TINY}/paths-info/main", data={"paths": "config.json"}
    )

    assert answer.status_code == 405
    assert "read-only" in answer.json()["detail"]
