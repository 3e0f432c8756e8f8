"""The index's change counter: every change to the models, by any process, moves it in the
same transaction; reads and failed changes leave it alone (ADR 0130)."""

import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from devon_adapters import DiskModelStore
from tests.contract.vault_builders import T0, put_model


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
        "from tests.contract.vault_builders import put_model;"
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
