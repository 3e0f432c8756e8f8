"""The disk vault on a real temp filesystem and a real SQLite file: what lands where."""

import sqlite3
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from devon_adapters import DiskModelStore
from devon_adapters.index.records import IndexTooNew
from devon_adapters.index.sqlite import MIGRATION_NAMES, MIGRATIONS, SCHEMA_VERSION
from devon_core import DownloadFailed, InvalidInput
from devon_core.commit_metadata import CommitMetadata
from devon_core.ports import ModelStore
from tests.support.vault_builders import T0, WIDGET, files_on_disk, put_model


@pytest.fixture
def store(tmp_path: Path) -> DiskModelStore:
    return DiskModelStore(tmp_path / "vault")


_IMPLEMENTS_THE_PORT: Callable[[Path], ModelStore] = DiskModelStore  # checked by mypy


def test_committed_model_lives_under_source_and_model_id(store: DiskModelStore) -> None:
    model = put_model(store, "acme/widget-7b")
    expected = Path(store.root) / "huggingface" / "acme" / "widget-7b"
    assert model.path == str(expected)
    assert files_on_disk(expected) == WIDGET


def test_files_are_sorted_relative_posix_paths(store: DiskModelStore) -> None:
    model = put_model(store, files={"z.json": b"1", "sub/dir/a.bin": b"22", "b.txt": b""})
    assert model.files == ("b.txt", "sub/dir/a.bin", "z.json")


def test_size_is_the_sum_of_file_sizes_on_disk(store: DiskModelStore) -> None:
    model = put_model(store, files={"a": b"x" * 10, "b/c": b"y" * 32})
    assert model.size_bytes == 42


def test_commit_drops_download_metadata_and_leftovers_of_earlier_attempts(
    store: DiskModelStore,
) -> None:
    staging = store.stage("huggingface", "acme/widget-7b")
    root = Path(staging.path)
    (root / ".cache" / "huggingface").mkdir(parents=True)
    (root / ".cache" / "huggingface" / "model.safetensors.incomplete").write_bytes(b"xx")
    (root / "old-pattern.gguf").write_bytes(b"from another attempt")
    (root / "config.json").write_bytes(b"{}")
    model = store.commit(staging, ["config.json"], T0, CommitMetadata())
    assert model.files == ("config.json",)
    assert files_on_disk(model.path) == {"config.json": b"{}"}


def test_commit_of_a_file_that_is_not_in_staging_fails_and_keeps_staging(
    store: DiskModelStore,
) -> None:
    staging = store.stage("huggingface", "acme/widget-7b")
    (Path(staging.path) / "config.json").write_bytes(b"{}")
    with pytest.raises(DownloadFailed, match=r"weights\.bin is missing"):
        store.commit(staging, ["config.json", "weights.bin"], T0, CommitMetadata())
    assert store.get("huggingface", "acme/widget-7b") is None
    assert (Path(staging.path) / "config.json").read_bytes() == b"{}"


def test_staging_reports_bytes_already_there_excluding_download_metadata(
    store: DiskModelStore,
) -> None:
    staging = store.stage("huggingface", "acme/widget-7b")
    (Path(staging.path) / "part.bin").write_bytes(b"p" * 300)
    (Path(staging.path) / ".cache" / "huggingface").mkdir(parents=True)
    (Path(staging.path) / ".cache" / "huggingface" / "x.lock").write_bytes(b"m" * 50)
    (Path(staging.path) / ".cache" / "devon" / "partial").mkdir(parents=True)
    (Path(staging.path) / ".cache" / "devon" / "partial" / "a.part").write_bytes(b"m" * 70)
    again = store.stage("huggingface", "acme/widget-7b")
    assert again.path == staging.path
    assert again.present_files == {"part.bin": 300}


def test_staging_lives_under_the_state_directory(store: DiskModelStore) -> None:
    staging = store.stage("huggingface", "acme/widget-7b")
    expected = Path(store.root) / ".devon" / "staging" / "huggingface" / "acme" / "widget-7b"
    assert staging.path == str(expected)
    assert expected.is_dir()


def test_times_and_metadata_round_trip_through_a_reopened_vault(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    downloaded = datetime(2025, 2, 12, 16, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    metadata = {"revision": "abc", "format": ["safetensors"], "parameter_count": 7.5}
    put_model(store, when=downloaded, metadata=metadata)
    store.mark_used("huggingface", "acme/widget-7b", T0 + timedelta(microseconds=1))
    store.close()
    model = DiskModelStore(tmp_path / "vault").get("huggingface", "acme/widget-7b")
    assert model is not None
    assert model.downloaded_at == downloaded
    assert model.downloaded_at.tzinfo == UTC
    assert model.last_used == T0 + timedelta(microseconds=1)
    assert model.metadata == metadata


def test_list_is_sorted_by_source_then_model_id(store: DiskModelStore) -> None:
    for source, model_id in [("zoo", "b"), ("huggingface", "z/m"), ("huggingface", "a/m")]:
        put_model(store, model_id, source=source)
    assert [m.key for m in store.list()] == ["huggingface/a/m", "huggingface/z/m", "zoo/b"]


def test_list_of_one_source(store: DiskModelStore) -> None:
    put_model(store, "a/m")
    put_model(store, "b", source="zoo")
    assert [m.key for m in store.list("zoo")] == ["zoo/b"]


def test_status_counts_models_and_bytes_per_source(store: DiskModelStore) -> None:
    put_model(store, "a/m", files={"f": b"x" * 10})
    put_model(store, "b/m", files={"f": b"x" * 20})
    put_model(store, "c", files={"f": b"x" * 5}, source="zoo")
    status = store.status()
    assert (status.model_count, status.total_size_bytes) == (3, 35)
    assert {name: (u.count, u.size_bytes) for name, u in status.sources.items()} == {
        "huggingface": (2, 30),
        "zoo": (1, 5),
    }
    assert status.storage_path == store.root


def test_space_reports_used_bytes_free_disk_and_quota(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault", quota_bytes=5000)
    put_model(store, files={"f": b"x" * 123})
    space = store.space()
    assert space.used_bytes == 123
    assert space.quota_bytes == 5000
    assert space.free_bytes > 0


def test_get_of_a_model_not_in_the_vault_is_none(store: DiskModelStore) -> None:
    assert store.get("huggingface", "acme/nothing") is None


def test_forced_redownload_replaces_the_old_copy_entirely(store: DiskModelStore) -> None:
    put_model(store, files={"old.bin": b"old", "config.json": b"{}"})
    model = put_model(store, files={"new.bin": b"new"}, when=T0 + timedelta(days=1))
    assert files_on_disk(model.path) == {"new.bin": b"new"}
    assert model.downloaded_at == T0 + timedelta(days=1)
    assert [m.files for m in store.list()] == [("new.bin",)]


def test_remove_deletes_the_files_and_the_entry(store: DiskModelStore) -> None:
    model = put_model(store)
    removed = store.remove("huggingface", "acme/widget-7b")
    assert removed == model
    assert store.get("huggingface", "acme/widget-7b") is None
    assert not Path(model.path).exists()


def test_remove_of_a_model_not_in_the_vault_is_none(store: DiskModelStore) -> None:
    assert store.remove("huggingface", "acme/nothing") is None


def test_mark_used_records_the_time(store: DiskModelStore) -> None:
    put_model(store)
    used = store.mark_used("huggingface", "acme/widget-7b", T0 + timedelta(hours=1))
    assert used is not None
    assert used.last_used == T0 + timedelta(hours=1)


def test_mark_used_of_a_model_not_in_the_vault_is_none(store: DiskModelStore) -> None:
    assert store.mark_used("huggingface", "acme/nothing", T0) is None


def test_index_and_model_directories_are_owner_only(store: DiskModelStore) -> None:
    model = put_model(store)
    index = Path(store.root) / ".devon" / "index.sqlite3"
    assert stat.S_IMODE(index.stat().st_mode) == 0o600
    for directory in (Path(store.root), Path(store.root) / ".devon", Path(model.path)):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


def test_index_is_sqlite_in_wal_mode_with_recorded_migrations(store: DiskModelStore) -> None:
    with sqlite3.connect(Path(store.root) / ".devon" / "index.sqlite3") as db:
        (mode,) = db.execute("PRAGMA journal_mode").fetchone()
        names = [n for (n,) in db.execute("SELECT name FROM schema_migrations ORDER BY version")]
    assert mode == "wal"
    assert names == [name for name, _ in MIGRATIONS]


def test_reopening_applies_no_migration_twice(tmp_path: Path) -> None:
    DiskModelStore(tmp_path / "vault").close()
    DiskModelStore(tmp_path / "vault").close()
    with sqlite3.connect(tmp_path / "vault" / ".devon" / "index.sqlite3") as db:
        (count,) = db.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()
    assert count == SCHEMA_VERSION


def test_an_index_from_a_newer_devon_is_refused_not_rebuilt(tmp_path: Path) -> None:
    DiskModelStore(tmp_path / "vault").close()
    index = tmp_path / "vault" / ".devon" / "index.sqlite3"
    with sqlite3.connect(index) as db:
        db.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x')")
    with pytest.raises(IndexTooNew, match="newer than this DEVON"):
        DiskModelStore(tmp_path / "vault")


def test_migration_names_are_unique() -> None:
    names = [name for name, _ in MIGRATIONS]
    assert len(set(names)) == len(names)


def test_a_missing_migration_is_applied_by_name_whatever_was_applied_after_it(
    tmp_path: Path,
) -> None:
    store = DiskModelStore(tmp_path / "vault")
    model = put_model(store)
    store.close()
    first = MIGRATIONS[0][0]
    with sqlite3.connect(tmp_path / "vault" / ".devon" / "index.sqlite3") as db:
        db.execute("DROP INDEX models_nocase")
        db.execute("DELETE FROM schema_migrations WHERE name = 'index model ids without case'")
        # a migration recorded under a later number by another build still counts by its name
        db.execute("UPDATE schema_migrations SET version = 50 WHERE name = ?", (first,))

    reopened = DiskModelStore(tmp_path / "vault")

    assert reopened.list() == [model]
    with sqlite3.connect(tmp_path / "vault" / ".devon" / "index.sqlite3") as db:
        names = {n for (n,) in db.execute("SELECT name FROM schema_migrations")}
        indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert names == {name for name, _ in MIGRATIONS}
    assert "models_nocase" in indexes


def test_an_index_from_an_older_devon_is_migrated_keeping_its_models(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    model = put_model(store)
    store.close()
    with sqlite3.connect(tmp_path / "vault" / ".devon" / "index.sqlite3") as db:
        db.execute("DROP INDEX models_nocase")
        db.execute("DROP TABLE changes")
        for trigger in ("insert", "update", "delete"):
            db.execute(f"DROP TRIGGER models_{trigger}_counted")
        db.execute(
            "DELETE FROM schema_migrations WHERE name IN (?, ?)",
            ("index model ids without case", "count changes to models"),
        )
    reopened = DiskModelStore(tmp_path / "vault")
    assert reopened.list() == [model]
    with sqlite3.connect(tmp_path / "vault" / ".devon" / "index.sqlite3") as db:
        names = {name for (name,) in db.execute("SELECT name FROM schema_migrations")}
        indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert names == MIGRATION_NAMES
    assert "models_nocase" in indexes


def test_a_failed_commit_keeps_the_download_metadata_for_a_resume(store: DiskModelStore) -> None:
    staging = store.stage("huggingface", "acme/widget-7b")
    resume = Path(staging.path) / ".cache" / "huggingface" / "weights.bin.incomplete"
    resume.parent.mkdir(parents=True)
    resume.write_bytes(b"half")
    with pytest.raises(DownloadFailed):
        store.commit(staging, ["weights.bin"], T0, CommitMetadata())
    assert resume.read_bytes() == b"half"


def test_a_storage_path_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "vault").write_text("not a directory")
    with pytest.raises(InvalidInput, match=r"Cannot use .* as the vault"):
        DiskModelStore(tmp_path / "vault")
