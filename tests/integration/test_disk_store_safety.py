"""Nothing a caller passes can make the vault touch a path outside its root."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devon_adapters import DiskModelStore
from devon_adapters.vault import rebuild
from devon_adapters.vault.paths import VaultPaths
from devon_core import DownloadFailed, InvalidInput, StagingArea
from devon_core.commit_metadata import CommitMetadata
from devon_core.results import SOURCE_STATE_DIR
from tests.support.vault_builders import T0, WIDGET, files_on_disk, put_model

BAD_MODEL_IDS = [
    "../etc",
    "acme/../../outside",
    "/etc/passwd",
    "acme/widget/extra",
    "..",
    "acme\uff0fwidget",  # fullwidth solidus
    "acme/wid\u202eget",  # right-to-left override
    "acme/widget\u200f",  # right-to-left mark
    "acme\\widget",
    "acme/widget\x00",
    "",
]
BAD_SOURCES = ["../x", "HuggingFace", "hug/face", ".devon", "", "hf\u2215x"]

Operation = Callable[[DiskModelStore, str, str], object]
OPERATIONS: dict[str, Operation] = {
    "get": lambda s, src, mid: s.get(src, mid),
    "stage": lambda s, src, mid: s.stage(src, mid),
    "remove": lambda s, src, mid: s.remove(src, mid),
    "mark_used": lambda s, src, mid: s.mark_used(src, mid, T0),
    "lock": lambda s, src, mid: s.lock(src, mid).__enter__(),
}


def snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.fixture
def store(tmp_path: Path) -> DiskModelStore:
    return DiskModelStore(tmp_path / "vault")


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("model_id", BAD_MODEL_IDS)
def test_bad_model_id_is_rejected_before_touching_disk(
    store: DiskModelStore, tmp_path: Path, operation: str, model_id: str
) -> None:
    before = snapshot(tmp_path)
    with pytest.raises(InvalidInput):
        OPERATIONS[operation](store, "huggingface", model_id)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("source", BAD_SOURCES)
def test_bad_source_name_is_rejected_before_touching_disk(
    store: DiskModelStore, tmp_path: Path, operation: str, source: str
) -> None:
    before = snapshot(tmp_path)
    with pytest.raises(InvalidInput):
        OPERATIONS[operation](store, source, "acme/widget")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("path", ["../escape.bin", "/etc/passwd", "a/../../b", "./x", "a\\b"])
def test_commit_refuses_file_paths_that_leave_staging(store: DiskModelStore, path: str) -> None:
    staging = store.stage("huggingface", "acme/widget")
    (Path(staging.path) / "config.json").write_bytes(b"{}")
    with pytest.raises(InvalidInput):
        store.commit(staging, ["config.json", path], T0, CommitMetadata())
    assert store.list() == []


def test_commit_refuses_download_metadata_as_a_model_file(store: DiskModelStore) -> None:
    staging = store.stage("huggingface", "acme/widget")
    (Path(staging.path) / ".cache" / "huggingface").mkdir(parents=True)
    (Path(staging.path) / ".cache" / "huggingface" / "state").write_bytes(b"x")
    with pytest.raises(InvalidInput):
        store.commit(staging, [".cache/huggingface/state"], T0, CommitMetadata())


def test_any_sources_resume_state_under_cache_is_neither_staged_nor_committable(
    store: DiskModelStore,
) -> None:
    first = store.stage("othersource", "acme/widget")
    state = Path(first.path) / SOURCE_STATE_DIR / "othersource" / "resume.json"
    state.parent.mkdir(parents=True)
    state.write_bytes(b"{}")
    again = store.stage("othersource", "acme/widget")
    assert again.present_files == {}
    with pytest.raises(InvalidInput):
        store.commit(again, [f"{SOURCE_STATE_DIR}/othersource/resume.json"], T0, CommitMetadata())


def test_commit_refuses_a_staging_area_that_is_not_the_models_own(
    store: DiskModelStore, tmp_path: Path
) -> None:
    staging = store.stage("huggingface", "acme/widget")
    forged = type(staging)("huggingface", "acme/widget", str(tmp_path / "elsewhere"))
    with pytest.raises(InvalidInput):
        store.commit(forged, ["config.json"], T0, CommitMetadata())


def test_a_symlink_in_staging_is_not_taken_as_a_model_file(
    store: DiskModelStore, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy")
    staging = store.stage("huggingface", "acme/widget")
    (Path(staging.path) / "config.json").write_bytes(b"{}")
    os.symlink(secret, Path(staging.path) / "weights.bin")
    model = store.commit(staging, ["config.json"], T0, CommitMetadata())
    assert model.files == ("config.json",)
    assert secret.read_text() == "do not copy"


def test_committing_a_symlink_as_a_model_file_fails(store: DiskModelStore, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy")
    staging = store.stage("huggingface", "acme/widget")
    os.symlink(secret, Path(staging.path) / "weights.bin")
    with pytest.raises(DownloadFailed, match="missing"):
        store.commit(staging, ["weights.bin"], T0, CommitMetadata())
    assert store.get("huggingface", "acme/widget") is None
    assert secret.read_text() == "do not copy"


def test_remove_does_not_follow_a_symlink_out_of_the_vault(
    store: DiskModelStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.bin").write_bytes(b"keep me")
    model = put_model(store)
    os.symlink(outside, Path(model.path) / "link-out")
    store.remove("huggingface", "acme/widget-7b")
    assert files_on_disk(outside) == {"precious.bin": b"keep me"}
    assert not Path(model.path).exists()


def test_a_model_directory_symlinked_out_of_the_vault_is_unlinked_not_emptied(
    store: DiskModelStore, tmp_path: Path
) -> None:
    model = put_model(store)
    outside = tmp_path / "outside"
    os.rename(model.path, outside)
    os.symlink(outside, model.path)
    store.remove("huggingface", "acme/widget-7b")
    assert sorted(files_on_disk(outside)) == ["config.json", "model.safetensors"]
    assert not os.path.lexists(model.path)


def test_an_owner_directory_symlinked_out_of_the_vault_is_refused(
    store: DiskModelStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, Path(store.root) / "huggingface")
    staging = store.stage("huggingface", "acme/widget")
    (Path(staging.path) / "config.json").write_bytes(b"{}")
    with pytest.raises(InvalidInput, match="outside the vault"):
        store.commit(staging, ["config.json"], T0, CommitMetadata())
    assert list(outside.iterdir()) == []
    assert store.get("huggingface", "acme/widget") is None


def test_rebuilt_file_lists_leave_out_symlinks(store: DiskModelStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big.bin").write_bytes(b"x" * 100)
    model = put_model(store)
    os.symlink(outside, Path(model.path) / "link-dir")
    os.symlink(outside / "big.bin", Path(model.path) / "link-file.bin")
    store.rebuild_index()
    rebuilt = store.get("huggingface", "acme/widget-7b")
    assert rebuilt is not None
    assert rebuilt.files == model.files
    assert rebuilt.size_bytes == model.size_bytes


@pytest.mark.parametrize(
    ("present", "incoming"),
    [
        ("acme/widget", "ACME/Widget"),  # one directory on a case-insensitive filesystem
        ("acme", "acme/widget"),  # the bare model's directory would hold the new one
        ("acme/widget", "acme"),  # the new bare model would take the owner folder
        ("acme/widget", "Acme"),
    ],
)
def test_a_model_whose_directory_overlaps_another_is_refused_and_the_other_kept(
    store: DiskModelStore, present: str, incoming: str
) -> None:
    kept = put_model(store, present)
    with pytest.raises(InvalidInput, match="would share a directory"):
        put_model(store, incoming)
    assert store.list() == [kept]
    assert sorted(files_on_disk(kept.path)) == list(kept.files)


def test_models_of_one_owner_and_similar_bare_names_coexist(store: DiskModelStore) -> None:
    for model_id in ["acme/widget", "acme/gadget", "acme-2", "acme0", "acmeX/widget"]:
        put_model(store, model_id)
    assert len(store.list()) == 5


def test_an_index_that_is_a_symlink_out_of_the_vault_is_not_opened(tmp_path: Path) -> None:
    outside = tmp_path / "outside.sqlite3"
    outside.write_bytes(b"")
    state = tmp_path / "vault" / ".devon"
    state.mkdir(parents=True)
    os.symlink(outside, state / "index.sqlite3")
    with pytest.raises(InvalidInput, match="Cannot open the vault index"):
        DiskModelStore(tmp_path / "vault")
    assert outside.read_bytes() == b""


def staged(store: DiskModelStore, model_id: str) -> StagingArea:
    staging = store.stage("huggingface", model_id)
    for relative, data in WIDGET.items():
        (Path(staging.path) / relative).write_bytes(data)
    return staging


@pytest.mark.parametrize(("first", "second"), [("acme", "acme/widget"), ("acme/widget", "acme")])
def test_of_two_commits_whose_folders_nest_at_once_only_the_first_lands(
    tmp_path: Path, first: str, second: str
) -> None:
    store = DiskModelStore(tmp_path / "vault")
    other = DiskModelStore(tmp_path / "vault")  # another process's view of the vault
    racing = staged(other, second)  # both passed the early check: neither is in the vault
    outcome: list[str] = []

    def commit_the_other_now(step: str) -> None:
        if step == "commit:journaled" and not outcome:
            try:
                other.commit(racing, list(WIDGET), T0, CommitMetadata())
                outcome.append("committed")
            except InvalidInput as error:
                outcome.append(str(error))

    store.after_step = commit_the_other_now
    put_model(store, first)

    assert len(outcome) == 1
    assert "would share a directory" in outcome[0]
    assert [m.model_id for m in store.list()] == [first]
    assert sorted(files_on_disk(store.list()[0].path)) == sorted(WIDGET)


def test_rebuild_index_keeps_a_model_committed_during_its_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DiskModelStore(tmp_path / "vault")
    other = DiskModelStore(tmp_path / "vault")
    put_model(store, "acme/before")
    scan = rebuild.models_on_disk

    def scan_then_commit(paths: VaultPaths) -> Any:
        found = list(scan(paths))
        put_model(other, "acme/during")  # lands after the scan, before the index is written
        return iter(found)

    monkeypatch.setattr(rebuild, "models_on_disk", scan_then_commit)
    assert store.rebuild_index() == 2
    assert [m.model_id for m in store.list()] == ["acme/before", "acme/during"]


def test_rebuild_index_does_not_bring_back_a_model_removed_during_its_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DiskModelStore(tmp_path / "vault")
    other = DiskModelStore(tmp_path / "vault")
    put_model(store, "acme/kept")
    put_model(store, "acme/going")
    scan = rebuild.models_on_disk

    def scan_then_remove(paths: VaultPaths) -> Any:
        found = list(scan(paths))
        other.remove("huggingface", "acme/going")
        return iter(found)

    monkeypatch.setattr(rebuild, "models_on_disk", scan_then_remove)
    assert store.rebuild_index() == 1
    assert [m.model_id for m in store.list()] == ["acme/kept"]
