"""What `Devon` answers about a vault on disk (its index): the part of issue 10's item 3 that
needs the disk store (tests/integration/test_devon_answers.py holds the rest)."""

from pathlib import Path

import pytest

from devon_adapters import DiskModelStore
from devon_adapters.clock import SystemClock
from devon_core import Devon, InvalidInput


def test_rebuild_index_counts_the_models_on_disk(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    try:
        model = tmp_path / "vault" / "huggingface" / "acme" / "widget-7b"
        model.mkdir(parents=True)
        (model / "config.json").write_text("{}")
        devon = Devon(store=store, clock=SystemClock(), default_source="huggingface")

        assert devon.rebuild_index() == 1
    finally:
        store.close()


def test_copying_the_index_onto_the_one_in_use_is_refused(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    try:
        devon = Devon(store=store, clock=SystemClock(), default_source="huggingface")
        with pytest.raises(InvalidInput, match="already is"):
            devon.copy_index("sqlite")
    finally:
        store.close()
