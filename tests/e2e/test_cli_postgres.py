"""`devon copy-index` (SQLite <-> PostgreSQL, both ways) and `devon rebuild-index` on a
PostgreSQL index, run as the real command."""

import json
import shutil
from pathlib import Path

import pytest

from devon_adapters import DiskModelStore
from devon_testhub import TestHub
from tests.support.cli_process import Finished, cli_env, run_piped
from tests.support.postgres_support import scratch_database
from tests.support.vault_builders import T0, put_model


class Devon:
    def __init__(self, vault: Path, hub: TestHub, url: str | None = None) -> None:
        extra = {"DEVON_DATABASE_URL": url} if url else {}
        self.env = cli_env(vault, hub.url, **extra)

    def __call__(self, *args: str) -> Finished:
        return run_piped(self.env, *args)


@pytest.fixture
def url() -> str:
    return scratch_database().vault_url()


def listed(devon: Devon) -> list[dict[str, object]]:
    result = devon("list", "--json")
    assert result.code == 0, result
    return list(json.loads(result.stdout)["models"])


def test_copy_index_to_postgresql_lists_the_same_models_from_the_database(
    tmp_path: Path, test_hub: TestHub, url: str
) -> None:
    vault = tmp_path / "vault"
    put_model(DiskModelStore(vault), "acme/widget-7b", metadata={"format": ["safetensors"]})
    put_model(DiskModelStore(vault), "acme/gadget-1b")
    on_sqlite = Devon(vault, test_hub)

    copied = on_sqlite("copy-index", url, "--json")

    assert copied.code == 0, copied
    assert json.loads(copied.stdout)["model_count"] == 2
    assert listed(Devon(vault, test_hub, url)) == listed(on_sqlite)


def test_copy_index_back_to_sqlite_keeps_what_the_database_recorded(
    tmp_path: Path, test_hub: TestHub, url: str
) -> None:
    vault = tmp_path / "vault"
    store = DiskModelStore(vault, database_url=url)
    put_model(store, "acme/widget-7b", when=T0)
    store.mark_used("huggingface", "acme/widget-7b", T0)
    on_postgres = Devon(vault, test_hub, url)

    copied = on_postgres("copy-index", "sqlite", "--replace")

    assert copied.code == 0, copied
    assert copied.stdout.startswith("Copied 1 model from 127.0.0.1:5432/")
    assert listed(Devon(vault, test_hub)) == listed(on_postgres)
    assert listed(on_postgres)[0]["last_used"] == T0.isoformat()


def test_copy_index_refuses_a_target_that_lists_models_unless_replace(
    tmp_path: Path, test_hub: TestHub, url: str
) -> None:
    vault = tmp_path / "vault"
    put_model(DiskModelStore(vault, database_url=url))
    DiskModelStore(vault).mark_used("huggingface", "acme/widget-7b", T0)  # on SQLite only
    on_sqlite = Devon(vault, test_hub)

    refused = on_sqlite("copy-index", url)
    replaced = on_sqlite("copy-index", url, "--replace")

    assert refused.code == 2
    assert "already holds 1 model(s): pass --replace" in refused.stderr
    assert replaced.code == 0, replaced
    assert listed(Devon(vault, test_hub, url)) == listed(on_sqlite)
    assert listed(on_sqlite)[0]["last_used"] == T0.isoformat()


def test_copy_index_to_the_index_in_use_is_refused(
    tmp_path: Path, test_hub: TestHub, url: str
) -> None:
    result = Devon(tmp_path / "vault", test_hub, url)("copy-index", url)

    assert result.code == 2
    assert "already is" in result.stderr


def test_copy_index_to_an_unreachable_database_names_the_target_not_the_setting(
    tmp_path: Path, test_hub: TestHub
) -> None:
    vault = tmp_path / "vault"
    put_model(DiskModelStore(vault), "acme/widget-7b")
    on_sqlite = Devon(vault, test_hub)

    result = on_sqlite("copy-index", "postgresql://devon:s3cret@127.0.0.1:1/devon")

    assert result.code == 1
    assert "127.0.0.1:1/devon cannot be reached" in result.stderr
    assert "Check the target URL" in result.stderr
    assert "DEVON_DATABASE_URL" not in result.stderr
    assert "s3cret" not in result.stderr
    assert [m["model_id"] for m in listed(on_sqlite)] == ["acme/widget-7b"]


def test_rebuild_index_on_postgresql_adds_models_found_on_disk_and_drops_those_gone(
    tmp_path: Path, test_hub: TestHub, url: str
) -> None:
    vault = tmp_path / "vault"
    store = DiskModelStore(vault, database_url=url)
    gone = put_model(store, "acme/gone")
    put_model(store, "acme/kept")
    shutil.rmtree(gone.path)
    shutil.copytree(vault / "huggingface" / "acme" / "kept", vault / "huggingface" / "acme" / "new")
    devon = Devon(vault, test_hub, url)

    result = devon("rebuild-index")

    assert result.code == 0, result
    assert [m["model_id"] for m in listed(devon)] == ["acme/kept", "acme/new"]


def test_doctor_names_the_database_holding_the_index(
    tmp_path: Path, test_hub: TestHub, url: str
) -> None:
    result = Devon(tmp_path / "vault", test_hub, url)("doctor", "--json")

    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["index"]["ok"] is True
    assert checks["index"]["detail"].startswith("127.0.0.1:5432/devon_test_")


def test_doctor_fails_with_exit_1_when_the_database_cannot_be_reached(
    tmp_path: Path, test_hub: TestHub
) -> None:
    unreachable = "postgresql://devon:s3cret@127.0.0.1:1/devon"
    result = Devon(tmp_path / "vault", test_hub, unreachable)("doctor", "--json")

    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert result.code == 1
    assert checks["vault"]["ok"] is False
    assert "cannot be reached" in checks["vault"]["detail"]
    assert json.loads(result.stdout)["settings"]["database_url"] == (
        "postgresql://devon:***@127.0.0.1:1/devon"
    )
