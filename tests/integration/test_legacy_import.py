"""Import of a vault written by DEVON 1.x (`index.json` beside `models/`)."""

import errno
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devon_adapters import DiskModelStore, import_legacy_vault
from devon_adapters.vault import legacy as legacy_module
from devon_core import InvalidInput
from devon_core.commit_metadata import CommitMetadata
from tests.support.vault_builders import (
    assert_consistent,
    files_on_disk,
    legacy_vault,
    put_model,
)

WIDGET = {"config.json": b"{}", "model.safetensors": b"w" * 50}


@pytest.fixture
def store(tmp_path: Path) -> DiskModelStore:
    return DiskModelStore(tmp_path / "vault")


def test_import_copies_each_model_into_the_new_layout(
    store: DiskModelStore, tmp_path: Path
) -> None:
    legacy = legacy_vault(tmp_path / "old", {"huggingface::acme/widget-7b": WIDGET})
    report = import_legacy_vault(store, legacy)
    assert report.imported == ("huggingface/acme/widget-7b",)
    model = store.get("huggingface", "acme/widget-7b")
    assert model is not None
    assert files_on_disk(model.path) == WIDGET
    assert model.size_bytes == 52
    assert model.metadata == {"downloads": 12}
    assert files_on_disk(legacy / "models" / "huggingface" / "acme" / "widget-7b") == WIDGET
    assert_consistent(store)


def test_naive_legacy_times_are_read_as_local_time(store: DiskModelStore, tmp_path: Path) -> None:
    legacy = legacy_vault(tmp_path / "old", {"huggingface::acme/widget-7b": WIDGET})
    import_legacy_vault(store, legacy)
    model = store.get("huggingface", "acme/widget-7b")
    assert model is not None
    expected = datetime.fromisoformat("2025-01-05T10:20:30.123456").astimezone()
    assert model.downloaded_at == expected


def test_import_with_move_leaves_nothing_behind(store: DiskModelStore, tmp_path: Path) -> None:
    legacy = legacy_vault(tmp_path / "old", {"huggingface::acme/widget-7b": WIDGET})
    import_legacy_vault(store, legacy, move=True)
    assert not (legacy / "models" / "huggingface" / "acme" / "widget-7b").exists()
    model = store.get("huggingface", "acme/widget-7b")
    assert model is not None
    assert files_on_disk(model.path) == WIDGET


def test_entries_whose_files_are_missing_are_skipped_and_reported(
    store: DiskModelStore, tmp_path: Path
) -> None:
    legacy = legacy_vault(
        tmp_path / "old",
        {"huggingface::acme/widget-7b": WIDGET, "huggingface::acme/broken": WIDGET},
    )
    (legacy / "models" / "huggingface" / "acme" / "broken" / "model.safetensors").unlink()
    report = import_legacy_vault(store, legacy)
    assert report.imported == ("huggingface/acme/widget-7b",)
    [(name, reason)] = report.skipped
    assert name == "huggingface/acme/broken"
    assert "model.safetensors" in reason
    assert store.get("huggingface", "acme/broken") is None
    assert_consistent(store)


def test_entries_with_invalid_ids_are_skipped_without_touching_disk(
    store: DiskModelStore, tmp_path: Path
) -> None:
    legacy = legacy_vault(tmp_path / "old", {"huggingface::acme/widget-7b": WIDGET})
    index = json.loads((legacy / "index.json").read_text())
    index["huggingface::../../etc"] = {"source": "huggingface", "model_id": "../../etc"}
    (legacy / "index.json").write_text(json.dumps(index))
    report = import_legacy_vault(store, legacy)
    assert [name for name, _ in report.skipped] == ["huggingface::../../etc"]


def test_import_twice_imports_nothing_twice(store: DiskModelStore, tmp_path: Path) -> None:
    legacy = legacy_vault(tmp_path / "old", {"huggingface::acme/widget-7b": WIDGET})
    import_legacy_vault(store, legacy)
    again = import_legacy_vault(store, legacy)
    assert again.imported == ()
    assert again.already_present == ("huggingface/acme/widget-7b",)
    assert len(store.list()) == 1


def test_a_folder_without_a_legacy_index_is_a_clear_error(
    store: DiskModelStore, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match=r"index\.json does not exist"):
        import_legacy_vault(store, tmp_path)


def test_the_recorded_path_is_used_when_it_lies_inside_the_legacy_vault(
    store: DiskModelStore, tmp_path: Path
) -> None:
    legacy = legacy_vault(tmp_path / "old", {"huggingface::acme/widget-7b": WIDGET})
    (legacy / "models").rename(legacy / "my-models")
    index = json.loads((legacy / "index.json").read_text())
    index["huggingface::acme/widget-7b"]["path"] = str(
        legacy / "my-models" / "huggingface" / "acme" / "widget-7b"
    )
    (legacy / "index.json").write_text(json.dumps(index))
    assert import_legacy_vault(store, legacy).imported == ("huggingface/acme/widget-7b",)


def test_an_entry_clashing_with_a_model_in_the_vault_is_skipped_and_the_rest_imported(
    store: DiskModelStore, tmp_path: Path
) -> None:
    legacy = legacy_vault(
        tmp_path / "old",
        {"huggingface::ACME/Widget-7b": WIDGET, "huggingface::acme/gadget": WIDGET},
    )
    staging = store.stage("huggingface", "acme/widget-7b")
    (Path(staging.path) / "config.json").write_bytes(b"{}")
    store.commit(staging, ["config.json"], datetime.now().astimezone(), CommitMetadata())
    report = import_legacy_vault(store, legacy)
    assert report.imported == ("huggingface/acme/gadget",)
    assert [name for name, _ in report.skipped] == ["huggingface/ACME/Widget-7b"]


def test_a_move_that_fails_part_way_leaves_the_legacy_copy_whole_for_a_rerun(
    store: DiskModelStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy = legacy_vault(tmp_path / "old", {"huggingface::acme/widget-7b": WIDGET})
    directory = legacy / "models" / "huggingface" / "acme" / "widget-7b"
    transfer = legacy_module._transfer
    calls = []

    def disk_full_on_the_second_file(origin: str, dest: str, move: bool, stat: Any) -> None:
        calls.append(origin)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        transfer(origin, dest, move, stat)

    monkeypatch.setattr(legacy_module, "_transfer", disk_full_on_the_second_file)
    report = import_legacy_vault(store, legacy, move=True)
    assert [name for name, _ in report.skipped] == ["huggingface/acme/widget-7b"]
    assert files_on_disk(directory) == WIDGET
    monkeypatch.undo()
    rerun = import_legacy_vault(store, legacy, move=True)
    assert rerun.imported == ("huggingface/acme/widget-7b",)
    model = store.get("huggingface", "acme/widget-7b")
    assert model is not None
    assert files_on_disk(model.path) == WIDGET
    assert not directory.exists()


# -- one batch: one journal, one transaction recording every model, one manifest write ------


def many(count: int) -> dict[str, dict[str, bytes]]:
    return {
        f"huggingface::org{i % 3}/model-{i:02}": {"config.json": b"{}", "w.bin": bytes(i)}
        for i in range(count)
    }


def test_an_import_writes_the_manifest_once_listing_every_model(
    store: DiskModelStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devon_adapters.vault import manifest as manifest_module

    legacy = legacy_vault(tmp_path / "old", many(12))
    write = manifest_module.write_atomically
    writes: list[Path] = []

    def counted(path: Path, data: Any, temporary_dir: Path) -> Any:
        writes.append(path)
        return write(path, data, temporary_dir)

    monkeypatch.setattr(manifest_module, "write_atomically", counted)
    report = import_legacy_vault(store, legacy)

    assert len(report.imported) == 12
    assert writes == [store.manifest_path]
    manifest = json.loads(store.manifest_path.read_text())
    assert sorted(manifest) == sorted(m.replace("/", "::", 1) for m in report.imported)
    assert_consistent(store)


def test_no_model_of_an_import_is_listed_before_all_of_them_are(
    store: DiskModelStore, tmp_path: Path
) -> None:
    legacy = legacy_vault(tmp_path / "old", many(6))
    seen_by_another: list[int] = []
    other = DiskModelStore(tmp_path / "vault")

    def spy(step: str) -> None:
        if step == "batch:moved":
            seen_by_another.append(len(other.list()))

    store.after_step = spy
    import_legacy_vault(store, legacy)

    assert seen_by_another == [0] * 6
    assert len(other.list()) == 6


def test_two_entries_whose_folders_would_overlap_import_one_and_report_the_other(
    store: DiskModelStore, tmp_path: Path
) -> None:
    legacy = legacy_vault(
        tmp_path / "old",
        {"huggingface::acme/Widget": WIDGET, "huggingface::acme/widget": WIDGET},
    )

    report = import_legacy_vault(store, legacy)

    assert report.imported == ("huggingface/acme/Widget",)
    [(name, reason)] = report.skipped
    assert name == "huggingface/acme/widget"
    assert "would share a directory with huggingface/acme/Widget" in reason
    assert_consistent(store)


def test_an_import_records_times_metadata_and_files_as_the_index_stores_any_commit(
    store: DiskModelStore, tmp_path: Path
) -> None:
    legacy = legacy_vault(
        tmp_path / "old", {"huggingface::acme/widget-7b": {"config.json": b"{}", "sub/w.bin": b"w"}}
    )
    index = json.loads((legacy / "index.json").read_text())
    index["huggingface::acme/widget-7b"] |= {
        "downloaded_at": "2025-01-05T10:20:30.123456+02:00",
        "last_used": "2025-02-03T04:05:06.000001+00:00",
        "metadata": {"z": 1, "a": [2, {"b": None}]},
    }
    (legacy / "index.json").write_text(json.dumps(index))

    import_legacy_vault(store, legacy)

    assert store.index.raw_rows() == [
        (
            "huggingface",
            "acme/widget-7b",
            3,
            "2025-01-05T08:20:30.123456+00:00",
            "2025-02-03T04:05:06.000001+00:00",
            '["config.json", "sub/w.bin"]',
            '{"a": [2, {"b": null}], "z": 1}',
        )
    ]


def test_an_import_into_a_vault_of_either_index_backend_records_every_model_once(
    tmp_path: Path, database_url: str | None
) -> None:
    legacy = legacy_vault(tmp_path / "old", many(12))
    store = DiskModelStore(tmp_path / "vault", database_url=database_url)
    try:
        put_model(store, "org1/model-01")  # its owner folder is in the vault already
        report = import_legacy_vault(store, legacy)

        assert len(report.imported) == 11
        assert report.already_present == ("huggingface/org1/model-01",)
        assert len(store.list()) == 12
        assert store.unfinished_operations() == []
        assert_consistent(store)
        manifest = json.loads(store.manifest_path.read_text())
        assert len(manifest) == 12
    finally:
        store.close()


def test_a_folder_left_out_of_an_import_stays_out_of_the_vault_beside_the_imported_ones(
    store: DiskModelStore, tmp_path: Path
) -> None:
    legacy = legacy_vault(
        tmp_path / "old",
        {
            "huggingface::acme/Widget": WIDGET,
            "huggingface::acme/gadget": WIDGET,
            "huggingface::acme/widget": WIDGET,
        },
    )

    report = import_legacy_vault(store, legacy)

    assert [name for name, _ in report.skipped] == ["huggingface/acme/widget"]
    assert sorted(os.listdir(store.paths.root / "huggingface" / "acme")) == ["Widget", "gadget"]
    assert_consistent(store)


def test_a_model_committed_into_an_owner_folder_while_an_import_moves_in_stays_there(
    store: DiskModelStore, tmp_path: Path
) -> None:
    legacy = legacy_vault(tmp_path / "old", many(6))

    def download_lands(step: str) -> None:
        if step == "batch:journaled":
            put_model(store, "org0/downloaded")

    store.after_step = download_lands
    report = import_legacy_vault(store, legacy)

    assert len(report.imported) == 6
    assert "downloaded" in os.listdir(store.paths.root / "huggingface" / "org0")
    assert len(store.list()) == 7
    assert_consistent(store)


def test_an_owner_folder_made_by_a_download_just_before_the_import_moves_it_is_shared(
    store: DiskModelStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devon_adapters.vault import batch_commit, paths

    legacy = legacy_vault(tmp_path / "old", many(6))
    make_dirs = paths.make_private_dirs
    landed: list[str] = []

    def download_lands_first(path: Path) -> None:
        make_dirs(path)
        if not landed:  # after the import found the owner's folder free, before its rename
            landed.append(put_model(store, "org0/downloaded").model_id)

    monkeypatch.setattr(batch_commit, "make_private_dirs", download_lands_first)
    report = import_legacy_vault(store, legacy)

    assert landed == ["org0/downloaded"]
    assert len(report.imported) == 6
    assert len(store.list()) == 7
    assert_consistent(store)


CRASHING_IMPORT = """
import os, sys
from pathlib import Path
from devon_adapters import DiskModelStore, import_legacy_vault
from devon_adapters.vault import legacy

vault, old, where, after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = DiskModelStore(vault)
count = 0

def crash_after(step: str) -> None:
    global count
    if step == where:
        count += 1
        if count == after:
            os._exit(9)

if where == "bring":
    transfer = legacy._transfer
    def crashing(origin, dest, move, stat):
        crash_after("bring")
        transfer(origin, dest, move, stat)
    legacy._transfer = crashing
else:
    store.after_step = crash_after
import_legacy_vault(store, Path(old))
"""


@pytest.mark.parametrize(
    ("where", "after", "kept"),
    [("bring", 9, 0), ("batch:journaled", 1, 0), ("batch:moved", 4, 4)],
)
def test_a_crash_mid_import_leaves_each_model_whole_or_absent_and_a_rerun_brings_the_rest(
    tmp_path: Path, where: str, after: int, kept: int
) -> None:
    import subprocess
    import sys

    legacy = legacy_vault(tmp_path / "old", many(10))
    vault = tmp_path / "vault"
    DiskModelStore(vault).close()
    repo = Path(__file__).resolve().parents[2]
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_IMPORT, str(vault), str(legacy), where, str(after)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == 9, crashed.stderr

    store = DiskModelStore(vault)  # the next open repairs what the crash left

    assert len(store.list()) == kept
    assert_consistent(store)
    assert store.unfinished_operations() == []
    assert list(store.paths.staging_root.iterdir()) == []
    on_disk = sorted(str(p.parent) for p in vault.glob("huggingface/*/*/w.bin"))
    assert on_disk == sorted(m.path for m in store.list())  # no folder left unrecorded
    rerun = import_legacy_vault(store, legacy)
    assert len(rerun.imported) == 10 - kept
    assert len(rerun.already_present) == kept
    assert len(store.list()) == 10
    assert_consistent(store)
