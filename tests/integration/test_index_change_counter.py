"""The index's change counter: every change to the models, by any process, moves it in the
same transaction; reads and failed changes leave it alone (ADR 0130)."""

import io
import json
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from devon_adapters import DiskModelStore
from devon_adapters.index.records import StoredRow
from devon_core.serialization import unstructure
from tests.support.vault_builders import T0, put_model


def test_commit_moves_the_change_counter(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path)
    before = store.change_counter()
    put_model(store)
    assert store.change_counter() > before


def test_remove_moves_the_change_counter(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path)
    put_model(store)
    before = store.change_counter()
    store.remove("huggingface", "acme/widget-7b")
    assert store.change_counter() > before


def test_mark_used_moves_the_change_counter(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path)
    put_model(store)
    before = store.change_counter()
    store.mark_used("huggingface", "acme/widget-7b", T0 + timedelta(days=1))
    assert store.change_counter() > before


def test_reads_and_changes_to_absent_models_leave_the_counter_alone(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path)
    put_model(store)
    before = store.change_counter()
    store.list()
    store.status()
    store.get("huggingface", "acme/widget-7b")
    store.mark_used("huggingface", "nobody/nothing", T0)
    assert store.remove("huggingface", "nobody/nothing") is None
    assert store.change_counter() == before


def test_a_change_by_another_process_moves_this_process_counter(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path)
    before = store.change_counter()
    code = (
        "import sys; from pathlib import Path;"
        "from devon_adapters import DiskModelStore;"
        "from tests.support.vault_builders import put_model;"
        "put_model(DiskModelStore(Path(sys.argv[1])), 'other/process')"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=60)
    after = store.change_counter()
    assert after > before
    assert [m.model_id for m in store.list()] == ["other/process"]


def test_a_vault_from_before_the_counter_gains_it_on_open(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path)
    put_model(store)
    store.close()
    index = tmp_path / ".devon" / "index.sqlite3"
    with sqlite3.connect(index) as db:  # as the previous schema left it
        db.execute("DROP TABLE changes")
        for event in ("insert", "update", "delete"):
            db.execute(f"DROP TRIGGER models_{event}_counted")
        db.execute("DELETE FROM schema_migrations WHERE name = ?", ("count changes to models",))
    db.close()
    reopened = DiskModelStore(tmp_path)
    before = reopened.change_counter()
    reopened.remove("huggingface", "acme/widget-7b")
    assert reopened.change_counter() > before


# The whole listing kept in .devon/listing.json (ADR 0132)


def listing_of(store: DiskModelStore) -> str:
    return json.dumps(unstructure(store.list()))


def test_kept_listing_shows_a_change_made_by_another_process(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path)
    put_model(store, "acme/one")
    put_model(store, "acme/two")
    assert store.list_json()[0] == 2  # now kept on disk
    code = (
        "import sys; from devon_adapters import DiskModelStore;"
        "DiskModelStore(sys.argv[1]).remove('huggingface', 'acme/one')"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=60)
    assert store.list_json() == (1, listing_of(store))


def test_kept_listing_is_read_by_another_process_as_it_was_written(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path)
    put_model(store, "acme/one", metadata={"license": "näive ✓"})
    expected = store.list_json()
    code = (
        "import sys, json; from devon_adapters import DiskModelStore;"
        "print(json.dumps(DiskModelStore(sys.argv[1]).list_json()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], check=True, timeout=60, capture_output=True
    )
    assert tuple(json.loads(done.stdout)) == expected


def test_kept_listing_of_a_moved_vault_gives_the_new_paths(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "before")
    put_model(store, "acme/one")
    store.list_json()
    store.close()
    (tmp_path / "before").rename(tmp_path / "after")
    moved = DiskModelStore(tmp_path / "after")
    count, text = moved.list_json()
    assert (count, text) == (1, listing_of(moved))
    assert str(tmp_path / "after") in text


def test_kept_listing_is_not_used_for_a_rebuilt_index(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path)
    put_model(store, "acme/one")
    put_model(store, "acme/two")
    store.list_json()
    counter = store.change_counter()
    store.close()
    (tmp_path / ".devon" / "index.sqlite3").unlink()
    acme = tmp_path / "huggingface" / "acme"
    (acme / "two").rename(acme / "three")
    rebuilt = DiskModelStore(tmp_path)  # counts from the start again: two rows, two bumps
    assert rebuilt.change_counter() == counter
    assert rebuilt.list_json() == (2, listing_of(rebuilt))
    assert "acme/three" in rebuilt.list_json()[1]


def test_the_kept_listing_written_to_a_file_is_the_listing_after_a_change(
    tmp_path: Path,
) -> None:
    store = DiskModelStore(tmp_path / "vault")
    put_model(store, "acme/one", metadata={"license": "näive ✓"})
    put_model(store, "acme/two")
    store.list_json()  # kept on disk
    store.remove("huggingface", "acme/one")

    with open(tmp_path / "first", "wb") as first:
        assert store.write_list_json(first) == 1  # made again, and kept
    with open(tmp_path / "second", "wb") as second:
        assert store.write_list_json(second) == 1  # from the kept copy, by the kernel

    assert (tmp_path / "first").read_bytes() == listing_of(store).encode()
    assert (tmp_path / "second").read_bytes() == listing_of(store).encode()


def test_the_kept_listing_goes_to_a_stream_without_a_file_descriptor(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path)
    put_model(store, "acme/one", metadata={"license": "näive ✓"})
    store.list_json()
    out = io.BytesIO()

    assert store.write_list_json(out) == 1
    assert out.getvalue() == listing_of(store).encode()


def test_the_head_goes_out_just_before_the_listing_made_or_kept(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    put_model(store, "acme/one")

    with open(tmp_path / "made", "wb") as made:
        store.write_list_json(made, b'{"models": ')
    with open(tmp_path / "kept", "wb") as kept:
        store.write_list_json(kept, b'{"models": ')

    expected = b'{"models": ' + listing_of(store).encode()
    assert (tmp_path / "made").read_bytes() == expected
    assert (tmp_path / "kept").read_bytes() == expected


def test_nothing_is_written_when_the_listing_cannot_be_read(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path)
    put_model(store, "acme/one")
    with sqlite3.connect(tmp_path / ".devon" / "index.sqlite3") as damage:
        damage.execute("DROP TABLE models")
    out = io.BytesIO()

    with pytest.raises(sqlite3.Error):
        store.write_list_json(out, b'{"models": ')

    assert out.getvalue() == b""


# -- many rows at once (an import, a rebuild): counted and logged set-based, the same -------


def _counted_state(index_path: Path) -> tuple[object, ...]:
    with sqlite3.connect(index_path) as db:
        return (
            db.execute("SELECT counter FROM changes").fetchone(),
            db.execute("SELECT * FROM model_changes ORDER BY source, model_id").fetchall(),
            db.execute("SELECT * FROM models ORDER BY source, model_id").fetchall(),
            db.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall(),
        )


def _rows(count: int) -> list[StoredRow]:
    rows: list[StoredRow] = [
        (
            "huggingface",
            f"org{i % 3}/m-{i:03}",
            i,
            "2025-01-02T03:04:05.000006+00:00",
            None,
            "[]",
            "{}",
        )
        for i in range(count)
    ]
    return [*rows, rows[5]]  # one key twice: logged at its later count


def test_many_rows_put_at_once_count_and_log_as_putting_them_one_by_one_does(
    tmp_path: Path,
) -> None:
    from devon_adapters.index.sqlite import SET_BASED_ROWS, Index

    at_once, one_by_one = Index(tmp_path / "a.sqlite3"), Index(tmp_path / "b.sqlite3")
    rows = _rows(SET_BASED_ROWS * 2)
    for index in (at_once, one_by_one):
        with index.write() as db:  # the counter and log already moved once
            index.put_rows(db, rows[:1])
    with at_once.write() as db:
        at_once.put_rows(db, rows)
    with one_by_one.write() as db:
        for row in rows:
            one_by_one.put_rows(db, [row])

    assert _counted_state(at_once.path) == _counted_state(one_by_one.path)
    with at_once.write() as db:  # its trigger is back: one row still counts
        source, model_id, _, downloaded_at, last_used, files, metadata = rows[0]
        at_once.put_rows(db, [(source, model_id, 1, downloaded_at, last_used, files, metadata)])
    assert at_once.change_counter() == len(rows) + 2


def test_rows_put_at_once_under_a_trigger_devon_did_not_make_fire_it_for_each_row(
    tmp_path: Path,
) -> None:
    from devon_adapters.index.sqlite import SET_BASED_ROWS, Index

    index = Index(tmp_path / "a.sqlite3")
    with index.write() as db:
        db.execute("CREATE TABLE seen (model_id TEXT)")
        db.execute(
            "CREATE TRIGGER someone_elses AFTER INSERT ON models"
            " BEGIN INSERT INTO seen VALUES (NEW.model_id); END"
        )
    rows = _rows(SET_BASED_ROWS)
    with index.write() as db:
        index.put_rows(db, rows)

    with sqlite3.connect(index.path) as db:
        assert db.execute("SELECT COUNT(*) FROM seen").fetchone() == (len(rows),)
    assert index.change_counter() == len(rows)
