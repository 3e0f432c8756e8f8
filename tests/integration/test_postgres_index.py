"""The vault with its index in PostgreSQL, beyond the store contract: several hosts on one
database, locks that die with their holder, errors when the server cannot be reached."""

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from filelock import Timeout

from devon_adapters import DiskModelStore
from devon_adapters.index.records import IndexTooNew
from devon_app import Settings
from devon_core import InvalidInput, StoreUnavailable
from devon_core.commit_metadata import CommitMetadata
from tests.support.postgres_support import ScratchDatabase, scratch_database, url_with_schema
from tests.support.vault_builders import WIDGET, assert_consistent, files_on_disk, put_model

UNREACHABLE = "postgresql://devon:s3cret@127.0.0.1:1/devon"


_opened: list[DiskModelStore] = []


def store_at(root: Path, database_url: str | None = None) -> DiskModelStore:
    """A store closed when the test ends (an unclosed one leaves its pool's threads behind)."""
    store = DiskModelStore(root, database_url=database_url)
    _opened.append(store)
    return store


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


@pytest.fixture
def url() -> str:
    return scratch_database().vault_url()


@pytest.fixture
def own_database() -> Iterator[ScratchDatabase]:
    """A database of the test's own, for tests that take it away."""
    database = ScratchDatabase()
    try:
        yield database
    finally:
        database.drop()


def test_two_hosts_on_one_database_see_each_others_commits_and_removals(
    tmp_path: Path, url: str
) -> None:
    first = store_at(tmp_path / "vault", database_url=url)
    second = store_at(tmp_path / "vault", database_url=url)

    model = put_model(first, "acme/widget-7b")
    put_model(second, "acme/gadget-1b")

    assert second.get("huggingface", "acme/widget-7b") == model
    assert first.list() == second.list()
    second.remove("huggingface", "acme/widget-7b")
    assert [m.model_id for m in first.list()] == ["acme/gadget-1b"]


def test_hosts_mounting_the_vault_at_different_paths_share_one_index(
    tmp_path: Path, url: str
) -> None:
    (tmp_path / "vault").mkdir()
    (tmp_path / "mnt").symlink_to(tmp_path / "vault")
    here = store_at(tmp_path / "vault", database_url=url)
    there = store_at(tmp_path / "mnt", database_url=url)

    put_model(here, "acme/widget-7b")

    (model,) = there.list()
    assert model.path == f"{tmp_path}/mnt/huggingface/acme/widget-7b"


def test_a_model_lock_is_exclusive_between_hosts(tmp_path: Path, url: str) -> None:
    first = store_at(tmp_path / "vault", database_url=url)
    second = store_at(tmp_path / "vault", database_url=url)

    with first.lock("huggingface", "acme/widget-7b"):
        lock = second._backend.model_lock("huggingface", "acme/widget-7b")
        with pytest.raises(Timeout):
            lock.acquire(timeout=0.2)
    lock.acquire(timeout=5)
    lock.release()


HOLDER = """
import sys, time
from devon_adapters import DiskModelStore
store = DiskModelStore(sys.argv[1], database_url=sys.argv[2])
with store.lock("huggingface", "acme/widget-7b"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_lock_held_by_a_killed_process_is_freed(tmp_path: Path, url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "vault"), url],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        store = store_at(tmp_path / "vault", database_url=url)
        lock = store._backend.model_lock("huggingface", "acme/widget-7b")
        with pytest.raises(Timeout):
            lock.acquire(timeout=0)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)

    lock.acquire(timeout=30)  # the server ends the dead session and frees its lock
    lock.release()


def test_an_empty_database_under_a_vault_with_models_is_filled_from_the_disk(
    tmp_path: Path, url: str
) -> None:
    put_model(store_at(tmp_path / "vault"), "acme/widget-7b")

    store = store_at(tmp_path / "vault", database_url=url)

    assert [m.model_id for m in store.list()] == ["acme/widget-7b"]
    assert_consistent(store)


def test_an_index_written_by_a_newer_devon_is_left_alone(tmp_path: Path, url: str) -> None:
    store_at(tmp_path / "vault", database_url=url).close()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', 'now')")

    with pytest.raises(IndexTooNew, match="from the future"):
        store_at(tmp_path / "vault", database_url=url)


def test_a_schema_holding_other_tables_is_refused(tmp_path: Path, url: str) -> None:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")

    with pytest.raises(InvalidInput, match="not a DEVON index"):
        store_at(tmp_path / "vault", database_url=url)


def test_a_search_path_naming_no_existing_schema_is_a_clear_error(tmp_path: Path) -> None:
    url = url_with_schema(scratch_database().url, "no_such_schema")

    with pytest.raises(InvalidInput, match="no schema to hold the index"):
        store_at(tmp_path / "vault", database_url=url)


def test_an_unreachable_database_is_a_clear_error_and_leaves_the_files(tmp_path: Path) -> None:
    sqlite_store = DiskModelStore(tmp_path / "vault")
    model = put_model(sqlite_store, "acme/widget-7b")
    sqlite_store.close()
    before = files_on_disk(tmp_path / "vault")

    with pytest.raises(StoreUnavailable) as raised:
        store_at(tmp_path / "vault", database_url=UNREACHABLE)

    assert "127.0.0.1:1/devon cannot be reached" in str(raised.value)
    assert "s3cret" not in str(raised.value)
    assert files_on_disk(tmp_path / "vault") == before
    assert files_on_disk(model.path) == WIDGET


def test_a_database_lost_while_running_fails_each_call_clearly_and_keeps_the_vault(
    tmp_path: Path, own_database: ScratchDatabase
) -> None:
    store = store_at(tmp_path / "vault", database_url=own_database.url)
    model = put_model(store, "acme/widget-7b")
    staging = store.stage("huggingface", "acme/gadget-1b")
    (Path(staging.path) / "config.json").write_bytes(b"{}")

    own_database.cut_off()

    with pytest.raises(StoreUnavailable, match="cannot be reached"):
        store.list()
    with pytest.raises(StoreUnavailable):
        store.commit(staging, ["config.json"], model.downloaded_at, CommitMetadata())
    with pytest.raises(StoreUnavailable):
        store.remove("huggingface", "acme/widget-7b")
    assert files_on_disk(model.path) == WIDGET
    assert files_on_disk(staging.path) == {"config.json": b"{}"}
    assert not (tmp_path / "vault" / "huggingface" / "acme" / "gadget-1b").exists()


def test_the_database_url_must_be_a_postgresql_url() -> None:
    with pytest.raises(InvalidInput, match="DEVON_DATABASE_URL must be a PostgreSQL URL"):
        Settings.from_env({"DEVON_DATABASE_URL": "mysql://root:pw@db/devon"})


def test_settings_describe_the_database_url_without_its_password() -> None:
    settings = Settings.from_env({"DEVON_DATABASE_URL": "postgresql://devon:s3cret@db/devon"})

    assert ("database_url", "postgresql://devon:***@db/devon") in settings.describe()
    assert settings.as_env()["DEVON_DATABASE_URL"] == "postgresql://devon:s3cret@db/devon"


def test_a_writer_on_another_host_waits_for_the_write_in_progress(tmp_path: Path, url: str) -> None:
    first = store_at(tmp_path / "vault", database_url=url)
    late = "from devon_adapters import DiskModelStore;" + (
        "from tests.support.vault_builders import put_model;"
        "put_model(DiskModelStore(sys.argv[1], database_url=sys.argv[2]), 'acme/late')"
    )
    with first._index.write():
        writer = subprocess.Popen(
            [sys.executable, "-c", f"import sys; {late}", str(tmp_path / "vault"), url],
            cwd=Path(__file__).resolve().parents[2],
        )
        deadline = time.monotonic() + 60
        while not _advisory_lock_waiters(url):
            assert writer.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert first.get("huggingface", "acme/late") is None
    assert writer.wait(timeout=60) == 0
    assert [m.model_id for m in first.list()] == ["acme/late"]


def _advisory_lock_waiters(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as db:
        row = db.execute(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    return int(row[0]) if row else 0


def test_the_manifest_lists_the_commits_of_every_host(tmp_path: Path, url: str) -> None:
    first = store_at(tmp_path / "vault", database_url=url)
    second = store_at(tmp_path / "vault", database_url=url)

    put_model(first, "acme/widget-7b")
    put_model(second, "acme/gadget-1b")

    manifest = json.loads(first.manifest_path.read_text())
    assert sorted(manifest) == ["huggingface::acme/gadget-1b", "huggingface::acme/widget-7b"]


def test_with_the_index_in_postgresql_changes_are_spliced_into_the_manifest(
    tmp_path: Path, url: str
) -> None:
    from devon_adapters.vault.manifest import render_manifest

    first = store_at(tmp_path / "vault", database_url=url)
    second = store_at(tmp_path / "vault", database_url=url)
    put_model(first, "acme/widget-7b")
    put_model(second, "acme/gadget-1b")
    second.remove("huggingface", "acme/widget-7b")

    put_model(first, "acme/zeta-1b")

    assert first._manifest.last_written == "spliced"
    assert first.manifest_path.read_bytes() == render_manifest(first.root, first.index)
    assert sorted(json.loads(first.manifest_path.read_text())) == [
        "huggingface::acme/gadget-1b",
        "huggingface::acme/zeta-1b",
    ]
