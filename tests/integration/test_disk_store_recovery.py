"""A vault whose index is lost or damaged comes back from the model directories on disk."""

import json
import os
import shutil
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

from devon_adapters import DiskModelStore
from tests.support.vault_builders import T0, assert_consistent, put_model


def index_of(root: Path) -> Path:
    return root / ".devon" / "index.sqlite3"


def vault_with_two_models(root: Path) -> list[str]:
    store = DiskModelStore(root)
    put_model(store, "acme/widget-7b", files={"config.json": b"{}", "w/a.bin": b"abc"})
    put_model(store, "gpt2", files={"model.bin": b"x" * 10})
    keys = [m.key for m in store.list()]
    store.close()
    return keys


def test_missing_index_is_rebuilt_from_the_model_directories(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    keys = vault_with_two_models(root)
    index_of(root).unlink()
    store = DiskModelStore(root)
    assert [m.key for m in store.list()] == keys
    widget = store.get("huggingface", "acme/widget-7b")
    assert widget is not None
    assert (widget.files, widget.size_bytes) == (("config.json", "w/a.bin"), 5)
    assert_consistent(store)


def test_a_file_that_is_not_sqlite_is_kept_aside_and_the_index_rebuilt(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    keys = vault_with_two_models(root)
    for suffix in ("-wal", "-shm"):
        Path(f"{index_of(root)}{suffix}").unlink(missing_ok=True)
    index_of(root).write_bytes(b"this is not a database" * 100)
    store = DiskModelStore(root)
    assert [m.key for m in store.list()] == keys
    kept = [p.name for p in (root / ".devon").iterdir() if ".corrupt-" in p.name]
    assert len(kept) == 1
    assert (root / ".devon" / kept[0]).read_bytes().startswith(b"this is not a database")


def damage_pages(index: Path) -> None:
    """Overwrite two pages of a checkpointed index in place: same size, a new time."""
    with sqlite3.connect(index) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    Path(f"{index}-wal").unlink(missing_ok=True)
    data = bytearray(index.read_bytes())
    page = 4096
    data[page + 16 : 3 * page] = b"\xff" * (2 * page - 16)
    index.write_bytes(bytes(data))


def test_a_sqlite_file_with_damaged_pages_is_rebuilt(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    keys = vault_with_two_models(root)
    damage_pages(index_of(root))
    store = DiskModelStore(root)
    assert [m.key for m in store.list()] == keys
    assert any(".corrupt-" in p.name for p in (root / ".devon").iterdir())


def checked_long_ago(root: Path) -> None:
    """Open the vault once, its index last written a minute ago, so that the passed check is
    recorded (only times at least two seconds old are) and the next open may skip it."""
    a_minute_ago = time.time() - 60
    os.utime(index_of(root), (a_minute_ago, a_minute_ago))
    DiskModelStore(root).close()
    assert (root / ".devon" / "index-checked.json").exists()


def test_opening_an_up_to_date_vault_leaves_its_index_file_as_it_was(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    vault_with_two_models(root)
    before = index_of(root).stat()
    time.sleep(0.01)
    DiskModelStore(root).close()
    after = index_of(root).stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_an_index_damaged_after_its_check_passed_is_caught_at_the_next_open(
    tmp_path: Path,
) -> None:
    root = tmp_path / "vault"
    keys = vault_with_two_models(root)
    checked_long_ago(root)
    damage_pages(index_of(root))
    store = DiskModelStore(root)
    assert [m.key for m in store.list()] == keys
    assert any(".corrupt-" in p.name for p in (root / ".devon").iterdir())


def test_rebuild_keeps_recorded_times_and_metadata_of_models_still_on_disk(
    tmp_path: Path,
) -> None:
    store = DiskModelStore(tmp_path / "vault")
    put_model(store, metadata={"revision": "abc"})
    store.mark_used("huggingface", "acme/widget-7b", T0 + timedelta(days=1))
    assert store.rebuild_index() == 1
    model = store.get("huggingface", "acme/widget-7b")
    assert model is not None
    assert (model.downloaded_at, model.last_used) == (T0, T0 + timedelta(days=1))
    assert model.metadata == {"revision": "abc"}


def test_rebuild_adds_models_found_on_disk_and_drops_those_gone(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    gone = put_model(store, "acme/gone")
    os.rename(gone.path, tmp_path / "elsewhere")
    copied = Path(store.root) / "huggingface" / "acme" / "copied-in"
    copied.mkdir(parents=True)
    (copied / "model.gguf").write_bytes(b"g" * 7)
    assert store.rebuild_index() == 1
    assert [(m.key, m.size_bytes) for m in store.list()] == [("huggingface/acme/copied-in", 7)]


def test_rows_whose_directory_vanished_are_dropped_on_open(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    store = DiskModelStore(root)
    model = put_model(store)
    put_model(store, "acme/kept")
    store.close()
    os.rename(model.path, tmp_path / "elsewhere")
    assert [m.model_id for m in DiskModelStore(root).list()] == ["acme/kept"]


def test_vanished_bare_ids_and_owner_folders_are_dropped_on_open(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    store = DiskModelStore(root)
    put_model(store, "gpt2")
    put_model(store, "distilgpt2")
    put_model(store, "gone-owner/model")
    put_model(store, "acme/kept")
    store.close()
    shutil.rmtree(root / "huggingface" / "gpt2")
    shutil.rmtree(root / "huggingface" / "gone-owner")
    kept = [m.model_id for m in DiskModelStore(root).list()]
    assert kept == ["acme/kept", "distilgpt2"]


def age_folders(root: Path, seconds: float = 3600) -> None:
    """Set every folder's modification time `seconds` back: an open then records them as
    checked (times younger than a few seconds are never recorded)."""
    past = time.time() - seconds
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        os.utime(folder, (past, past))


def test_a_folder_recorded_as_checked_still_reveals_a_model_deleted_since(
    tmp_path: Path,
) -> None:
    root = tmp_path / "vault"
    store = DiskModelStore(root)
    put_model(store, "acme/gone")
    put_model(store, "acme/kept")
    put_model(store, "gpt2")
    put_model(store, "distilgpt2")
    store.close()
    age_folders(root / "huggingface")
    DiskModelStore(root).close()  # finds every model and records the folders as checked
    shutil.rmtree(root / "huggingface" / "acme" / "gone")
    shutil.rmtree(root / "huggingface" / "gpt2")
    kept = [m.model_id for m in DiskModelStore(root).list()]
    assert kept == ["acme/kept", "distilgpt2"]


def test_an_unreadable_record_of_checked_folders_means_a_full_check(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    store = DiskModelStore(root)
    put_model(store, "acme/gone")
    put_model(store, "acme/kept")
    store.close()
    age_folders(root / "huggingface")
    DiskModelStore(root).close()
    record = root / ".devon" / "folders.json"
    acme = root / "huggingface" / "acme"
    recorded = json.loads(record.read_text())[str(acme)]
    shutil.rmtree(acme / "gone")
    os.utime(acme, ns=(recorded, recorded))  # a folder time that did not move...
    record.write_text("{not json")  # ...but no usable record of it
    assert [m.model_id for m in DiskModelStore(root).list()] == ["acme/kept"]


def test_leftover_trash_is_emptied_on_open(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    DiskModelStore(root).close()
    leftover = root / ".devon" / "trash" / "0123abcd"
    leftover.mkdir()
    (leftover / "big.bin").write_bytes(b"x" * 100)
    DiskModelStore(root).close()
    assert list((root / ".devon" / "trash").iterdir()) == []


def test_staging_survives_a_reopen_for_a_later_resume(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    staging = DiskModelStore(root).stage("huggingface", "acme/widget-7b")
    (Path(staging.path) / "part.bin").write_bytes(b"p" * 64)
    assert DiskModelStore(root).stage("huggingface", "acme/widget-7b").present_bytes == 64


def test_an_emptied_index_file_is_rebuilt_from_the_model_directories(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    keys = vault_with_two_models(root)
    index_of(root).write_bytes(b"")
    store = DiskModelStore(root)
    assert [m.key for m in store.list()] == keys
    assert_consistent(store)


def test_a_sqlite_file_that_is_not_a_devon_index_is_kept_aside_and_the_index_rebuilt(
    tmp_path: Path,
) -> None:
    root = tmp_path / "vault"
    keys = vault_with_two_models(root)
    index_of(root).unlink()
    with sqlite3.connect(index_of(root)) as db:
        db.execute("CREATE TABLE unrelated (x)")
    store = DiskModelStore(root)
    assert [m.key for m in store.list()] == keys
    assert [p for p in (root / ".devon").iterdir() if ".corrupt-" in p.name] != []
