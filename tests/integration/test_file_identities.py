"""Each vault file's Hub identity (LFS sha256 or git blob id): as the source declared it at
download time, recorded in the vault; by the Hub's default rule when nothing was declared;
hashes computed once."""

import os
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from huggingface_hub import HfApi

from devon_adapters.clock import SystemClock
from devon_adapters.huggingface.cache import HuggingFaceCache
from devon_adapters.model_files.identities import FileIdentity, file_identities, file_identity
from devon_adapters.vault.store import DiskModelStore
from devon_core import Devon
from devon_testhub import Catalogue, Repo, TestHub, hub_file
from devon_testhub.content import FileContent, git_blob_oid
from tests.support.hf_cache_builder import download as cache_download
from tests.support.hf_helpers import SHARDY, TINY, WIDGET, sha256_of, source_for

ODD = "acme/odd-lfs"
"""A repo whose LFS choice is not the default rule's: a small `.bin` outside LFS, a text
file inside it."""


def odd_repo() -> Repo:
    return Repo(
        ODD,
        files=(
            hub_file("config.json", FileContent.text('{"model_type": "odd"}\n')),
            hub_file("weights.bin", FileContent(b"w" * 300), lfs=False),
            hub_file("notes.txt", FileContent(b"n" * 200), lfs=True),
        ),
    )


@pytest.fixture(scope="module")
def odd_hub() -> Iterator[TestHub]:
    with TestHub(Catalogue.default().with_repo(odd_repo())) as hub:
        yield hub


def _devon(hub: TestHub, vault: Path) -> Devon:
    return Devon(
        source=source_for(hub),
        store=DiskModelStore(vault),
        clock=SystemClock(),
        open_cache=lambda location: HuggingFaceCache(location or ""),
    )


def _hub_etags(hub: TestHub, repo_id: str) -> dict[str, tuple[bool, str]]:
    """Each file's (is LFS, ETag) as huggingface_hub reads them from the hub."""
    info = HfApi(endpoint=hub.url, token=False).model_info(repo_id, files_metadata=True)
    return {
        s.rfilename: (s.lfs is not None, s.lfs.sha256 if s.lfs else str(s.blob_id))
        for s in info.siblings or []
    }


def _by_path(found: tuple[FileIdentity, ...]) -> dict[str, tuple[bool, str]]:
    return {f.path: (f.is_lfs, f.etag) for f in found}


def test_downloaded_model_files_have_the_hubs_etags(test_hub: TestHub, tmp_path: Path) -> None:
    devon = _devon(test_hub, tmp_path / "vault")
    model = devon.download(SHARDY)

    assert _by_path(file_identities(model, tmp_path / "vault")) == _hub_etags(test_hub, SHARDY)


def test_lfs_follows_what_the_source_declared_not_the_file_name(
    odd_hub: TestHub, tmp_path: Path
) -> None:
    devon = _devon(odd_hub, tmp_path / "vault")
    model = devon.download(ODD)

    found = {f.path: f for f in file_identities(model, tmp_path / "vault")}

    assert not found["weights.bin"].is_lfs
    assert found["weights.bin"].git_blob_id == git_blob_oid(b"w" * 300)
    assert found["notes.txt"].sha256 == sha256_of(b"n" * 200)
    assert _by_path(tuple(found.values())) == _hub_etags(odd_hub, ODD)


def test_the_declared_record_survives_a_restart(odd_hub: TestHub, tmp_path: Path) -> None:
    _devon(odd_hub, tmp_path / "vault").download(ODD)

    reopened = DiskModelStore(tmp_path / "vault")
    model = reopened.get("huggingface", ODD)
    assert model is not None

    assert _by_path(file_identities(model, tmp_path / "vault")) == _hub_etags(odd_hub, ODD)


def test_removing_a_model_removes_its_records(odd_hub: TestHub, tmp_path: Path) -> None:
    devon = _devon(odd_hub, tmp_path / "vault")
    file_identities(devon.download(ODD), tmp_path / "vault")
    records = tmp_path / "vault" / ".devon" / "hub-files"
    assert sorted(p.name for p in records.rglob("*.json")) == ["odd-lfs.json", "odd-lfs.json"]

    devon.remove(ODD)

    assert list(records.rglob("*.json")) == []


def test_one_quantisation_downloaded_alone_has_its_hub_identity(
    test_hub: TestHub, tmp_path: Path
) -> None:
    devon = _devon(test_hub, tmp_path / "vault")
    model = devon.download(WIDGET, include_patterns=["*Q4_K_M*"])

    found = _by_path(file_identities(model, tmp_path / "vault"))

    expected = _hub_etags(test_hub, WIDGET)
    assert found == {"widget-8b.Q4_K_M.gguf": expected["widget-8b.Q4_K_M.gguf"]}


def test_a_model_with_no_record_follows_the_hubs_default_rule(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    folder = vault / "local" / "mine"
    folder.mkdir(parents=True)
    (folder / "config.json").write_bytes(b"{}")
    (folder / "model.safetensors").write_bytes(b"s" * 100)
    (folder / "big.txt").write_bytes(b"b" * (10 * 1024 * 1024 + 1))
    store = DiskModelStore(vault)
    store.scan(["local"])
    model = store.get("local", "mine")
    assert model is not None

    found = {f.path: f for f in file_identities(model, vault)}

    assert found["config.json"].git_blob_id == git_blob_oid(b"{}")
    assert found["model.safetensors"].sha256 == sha256_of(b"s" * 100)
    assert found["big.txt"].is_lfs  # the Hub keeps no file over 10 MiB outside LFS


def test_a_models_own_gitattributes_decides_when_there_is_no_record(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    folder = vault / "local" / "mine"
    folder.mkdir(parents=True)
    (folder / ".gitattributes").write_text("*.txt filter=lfs diff=lfs merge=lfs -text\n")
    (folder / "notes.txt").write_bytes(b"n")
    (folder / "weights.safetensors").write_bytes(b"w")
    store = DiskModelStore(vault)
    store.scan(["local"])
    model = store.get("local", "mine")
    assert model is not None

    found = {f.path: f.is_lfs for f in file_identities(model, vault)}

    assert found == {".gitattributes": False, "notes.txt": True, "weights.safetensors": False}


def test_hashes_are_computed_once_and_kept_while_size_mtime_and_inode_stay(
    tmp_path: Path,
) -> None:
    vault = tmp_path / "vault"
    folder = vault / "local" / "mine"
    folder.mkdir(parents=True)
    weights = folder / "model.safetensors"
    weights.write_bytes(b"a" * 64)
    store = DiskModelStore(vault)
    store.scan(["local"])
    model = store.get("local", "mine")
    assert model is not None
    first = file_identities(model, vault)
    stamp = weights.stat()

    with open(weights, "r+b") as out:  # same size, same inode, mtime put back: not re-read
        out.write(b"b" * 64)
    os.utime(weights, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert file_identities(model, vault) == first

    os.utime(weights, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))
    assert file_identities(model, vault)[0].sha256 == sha256_of(b"b" * 64)


def test_adopted_model_files_are_named_by_their_cache_blobs(
    test_hub: TestHub, tmp_path: Path
) -> None:
    cache = tmp_path / "hf-cache"
    cache_download(test_hub, cache, TINY)
    vault = tmp_path / "vault"
    devon = _devon(test_hub, vault)
    devon.adopt(cache=str(cache))
    model = devon.get(TINY)
    assert model is not None
    blobs = {p.name for p in (cache / f"models--{TINY.replace('/', '--')}" / "blobs").iterdir()}

    found = file_identities(model, vault)

    assert {f.etag for f in found} == blobs
    assert _by_path(found) == _hub_etags(test_hub, TINY)


def test_a_quantisation_added_later_keeps_the_earlier_files_identities(
    test_hub: TestHub, tmp_path: Path
) -> None:
    devon = _devon(test_hub, tmp_path / "vault")
    devon.download(WIDGET, include_patterns=["*Q4_K_M*"])
    model = devon.download(WIDGET, include_patterns=["*Q8_0*"])

    found = _by_path(file_identities(model, tmp_path / "vault"))

    expected = _hub_etags(test_hub, WIDGET)
    assert found == {p: expected[p] for p in model.files}
    assert len(found) == 2


def test_a_record_of_another_revision_is_not_used(odd_hub: TestHub, tmp_path: Path) -> None:
    """What a commit that never finished leaves: the copy that stayed is not described by
    the record of the copy that failed."""
    model = _devon(odd_hub, tmp_path / "vault").download(ODD)
    other = attrs.evolve(model, metadata={**model.metadata, "revision": "f" * 40})

    found = {f.path: f.is_lfs for f in file_identities(other, tmp_path / "vault")}

    assert found["weights.bin"]  # the default rule, not the record


def test_one_files_identity_is_the_same_as_in_the_whole_list(
    odd_hub: TestHub, tmp_path: Path
) -> None:
    model = _devon(odd_hub, tmp_path / "vault").download(ODD)
    whole = {f.path: f for f in file_identities(model, tmp_path / "vault")}

    for path in model.files:
        assert file_identity(model, tmp_path / "vault", path) == whole[path]
    with pytest.raises(KeyError):
        file_identity(model, tmp_path / "vault", "not-there.bin")


def test_a_file_the_source_did_not_list_follows_the_hubs_rule(
    odd_hub: TestHub, tmp_path: Path
) -> None:
    """A file kept from an earlier copy that the source no longer lists."""
    model = _devon(odd_hub, tmp_path / "vault").download(ODD)
    extra = Path(model.path) / "extra.safetensors"
    extra.write_bytes(b"x" * 10)
    grown = attrs.evolve(model, files=(*model.files, "extra.safetensors"))

    found = {f.path: f for f in file_identities(grown, tmp_path / "vault")}

    assert found["extra.safetensors"].sha256 == sha256_of(b"x" * 10)
    assert not found["weights.bin"].is_lfs  # the others still as declared
