"""The rules of the vault seen as a Hub repository: which revisions name the held copy,
what commit it is at, which files it lists, and when a read marks it used."""

import hashlib
from datetime import timedelta

import attrs
import pytest

from devon_core.hub_protocol import (
    EntryNotFound,
    RevisionNotFound,
    ServedModel,
    check_revision,
    commit_of,
    git_blob_id,
    lfs_pointer,
    names_commit,
    served_file,
    served_files,
    served_model,
    tree,
    use_is_due,
)
from devon_core.models import LocalModel, RemoteFile, RemoteModel
from tests.support.fakes import T0, MemoryStore, SettableClock, local_model

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@attrs.frozen
class Identity:
    path: str
    size_bytes: int
    sha256: str | None = None
    git_blob_id: str | None = None


def served(*paths: str) -> ServedModel:
    model = attrs.evolve(local_model(), files=paths, metadata={"revision": COMMIT})
    identities = [Identity(p, 10, git_blob_id="b" * 40) for p in paths]
    return ServedModel(model.model_id, COMMIT, served_files(model, identities), model, T0)


@pytest.mark.parametrize("revision", ["main", "refs/heads/main", COMMIT, COMMIT[:7], "0123"])
def test_main_the_commit_and_a_prefix_of_it_name_the_held_copy(revision: str) -> None:
    assert names_commit(revision, COMMIT)


@pytest.mark.parametrize("revision", ["dev", "012", "0123x", "f" * 40, COMMIT + "0"])
def test_other_names_and_prefixes_shorter_than_four_do_not(revision: str) -> None:
    assert not names_commit(revision, COMMIT)


def test_a_revision_the_vault_does_not_hold_is_revision_not_found() -> None:
    with pytest.raises(RevisionNotFound, match="deadbeef"):
        check_revision(local_model(), COMMIT, "deadbeef")


def test_the_commit_is_the_revision_the_source_recorded() -> None:
    model = attrs.evolve(local_model(), metadata={"revision": COMMIT.upper()})

    assert commit_of(model) == COMMIT


def test_a_copy_without_a_recorded_commit_gets_a_stable_one_that_changes_with_the_copy() -> None:
    model = local_model()
    replaced = attrs.evolve(model, downloaded_at=T0 + timedelta(days=1))

    assert commit_of(model) == commit_of(local_model())
    assert len(commit_of(model)) == 40
    assert commit_of(replaced) != commit_of(model)


def test_an_lfs_file_is_listed_with_its_sha256_as_etag_and_its_pointer_as_blob() -> None:
    model = local_model()
    sha = hashlib.sha256(b"weights").hexdigest()
    identities = [
        Identity("config.json", 7, git_blob_id="c" * 40),
        Identity("model.safetensors", 7, sha256=sha),
    ]

    config, weights = served_files(model, identities)

    assert (config.etag, config.is_lfs, config.pointer_size) == ("c" * 40, False, None)
    pointer = lfs_pointer(sha, 7)
    assert weights.etag == sha
    blob = hashlib.sha1(b"blob %d\0" % len(pointer) + pointer, usedforsecurity=False)
    assert weights.blob_id == blob.hexdigest()
    assert weights.pointer_size == len(pointer)
    assert weights.local_path == f"{model.path}/model.safetensors"


def test_a_file_the_copy_lacks_is_entry_not_found_naming_the_commit() -> None:
    with pytest.raises(EntryNotFound) as raised:
        served("config.json").file("tokenizer.json")

    assert raised.value.commit == COMMIT


def test_the_root_of_the_tree_lists_its_folders_then_its_own_files() -> None:
    listing = tree(served("a.json", "sub/b.bin", "sub/deep/c.bin"), "", recursive=False)

    assert listing is not None
    assert listing.folders == ("sub",)
    assert [f.path for f in listing.files] == ["a.json"]


def test_a_recursive_tree_lists_every_folder_and_file_below() -> None:
    listing = tree(served("a.json", "sub/b.bin", "sub/deep/c.bin"), "sub", recursive=True)

    assert listing is not None
    assert listing.folders == ("sub/deep",)
    assert [f.path for f in listing.files] == ["sub/b.bin", "sub/deep/c.bin"]


def test_a_tree_path_that_is_neither_file_nor_folder_lists_nothing() -> None:
    assert tree(served("a.json"), "missing", recursive=False) is None


def test_a_read_marks_use_unless_the_model_was_marked_within_a_minute() -> None:
    assert use_is_due(local_model(last_used=None), T0)
    assert not use_is_due(local_model(last_used=T0), T0 + timedelta(seconds=59))
    assert use_is_due(local_model(last_used=T0), T0 + timedelta(seconds=60))


def identities_of(model: LocalModel) -> list[Identity]:
    return [Identity(p, 10, git_blob_id="b" * 40) for p in model.files]


def partial_copy() -> LocalModel:
    model = local_model()
    return attrs.evolve(
        model, files=("config.json",), metadata={"include_patterns": ["config.json"]}
    )


class Pulls:
    """A pull that records what it was asked for and puts the whole model in `store`."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.asked: list[tuple[str, ...] | None] = []

    def __call__(self, patterns: tuple[str, ...] | None) -> LocalModel:
        self.asked.append(patterns)
        return self.store.add(local_model())


def test_without_pull_a_partial_copy_lists_only_the_files_it_holds() -> None:
    store = MemoryStore()
    store.add(partial_copy())

    model = served_model(store, identities_of, "huggingface", "acme/widget-7b", "main", None)

    assert [f.path for f in model.files] == ["config.json"]


UPSTREAM_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


def upstream(commit: str = UPSTREAM_COMMIT) -> RemoteModel:
    files = (
        RemoteFile("config.json", 99),
        RemoteFile("model.safetensors", 4096, "e" * 64),
        RemoteFile("notes.txt", 7),
    )
    return RemoteModel(
        "huggingface", "acme/widget-7b", "widget-7b", revision=commit.upper(), files=files
    )


def held_at(commit: str) -> LocalModel:
    return attrs.evolve(partial_copy(), metadata={**partial_copy().metadata, "revision": commit})


def test_with_pull_a_partial_copy_lists_upstreams_files_at_upstreams_commit() -> None:
    store = MemoryStore()
    store.add(held_at(UPSTREAM_COMMIT))

    model = served_model(
        store, identities_of, "huggingface", "acme/widget-7b", "main", lambda: upstream()
    )

    assert model.commit == UPSTREAM_COMMIT
    assert [(f.path, f.size_bytes, f.sha256) for f in model.files] == [
        ("config.json", 10, None),  # the vault's own identity
        ("model.safetensors", 4096, "e" * 64),
        ("notes.txt", 7, None),
    ]
    assert [f.local_path is not None for f in model.files] == [True, False, False]


def test_with_pull_a_model_the_vault_lacks_is_listed_from_upstream_alone() -> None:
    model = served_model(
        MemoryStore(), identities_of, "huggingface", "acme/widget-7b", "main", lambda: upstream()
    )

    assert model.model is None
    assert model.commit == UPSTREAM_COMMIT
    assert model.file("model.safetensors").blob_id == git_blob_id(lfs_pointer("e" * 64, 4096))
    assert model.file("notes.txt").blob_id is None


def test_with_pull_a_partial_copy_at_an_older_commit_answers_as_held() -> None:
    store = MemoryStore()
    store.add(held_at(COMMIT))

    model = served_model(
        store, identities_of, "huggingface", "acme/widget-7b", "main", lambda: upstream()
    )

    assert model.commit == COMMIT
    assert [f.path for f in model.files] == ["config.json"]


def test_with_pull_a_revision_other_than_upstreams_commit_is_not_found() -> None:
    with pytest.raises(RevisionNotFound):
        served_model(
            MemoryStore(), identities_of, "huggingface", "acme/widget-7b", COMMIT, upstream
        )


def test_with_pull_a_file_the_partial_copy_lacks_pulls_that_file_only() -> None:
    store = MemoryStore()
    store.add(partial_copy())
    pull = Pulls(store)

    served_file(
        store,
        SettableClock(),
        identities_of,
        "huggingface",
        "acme/widget-7b",
        "main",
        "model.safetensors",
        pull,
        use=False,
    )

    assert pull.asked == [("model.safetensors",)]


def test_a_file_missing_from_a_whole_copy_is_not_pulled() -> None:
    store = MemoryStore()
    store.add(local_model())
    pull = Pulls(store)

    with pytest.raises(EntryNotFound):
        served_file(
            store,
            SettableClock(),
            identities_of,
            "huggingface",
            "acme/widget-7b",
            "main",
            "missing.bin",
            pull,
            use=False,
        )

    assert pull.asked == []


def test_reads_mark_the_model_used_once_a_minute() -> None:
    store = MemoryStore()
    store.add(local_model())
    clock = SettableClock()

    def read() -> None:
        served_file(
            store,
            clock,
            identities_of,
            "huggingface",
            "acme/widget-7b",
            "main",
            "config.json",
            None,
            use=True,
        )

    read()
    first = store.get("huggingface", "acme/widget-7b")
    clock.advance(seconds=30)
    read()
    assert store.get("huggingface", "acme/widget-7b") == first
    clock.advance(seconds=31)
    read()
    again = store.get("huggingface", "acme/widget-7b")
    assert first is not None
    assert again is not None
    assert first.last_used == T0
    assert again.last_used == T0 + timedelta(seconds=61)
