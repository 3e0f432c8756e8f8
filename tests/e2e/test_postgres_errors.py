"""A database that cannot be reached, as the CLI and the HTTP API report it: exit 1 with one
line; 503 with {"detail"}; the files on disk untouched."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from devon_adapters import DiskModelStore
from devon_app import Settings, build_devon
from devon_http import create_app
from devon_testhub import TestHub
from tests.support.cli_process import cli_env, run_piped
from tests.support.postgres_support import ScratchDatabase
from tests.support.vault_builders import WIDGET, files_on_disk, put_model

UNREACHABLE = "postgresql://devon:s3cret@127.0.0.1:1/devon"


@pytest.fixture
def own_database() -> Iterator[ScratchDatabase]:
    database = ScratchDatabase()
    try:
        yield database
    finally:
        database.drop()


def test_the_cli_exits_1_with_one_line_when_the_database_cannot_be_reached(
    tmp_path: Path, test_hub: TestHub
) -> None:
    model = put_model(DiskModelStore(tmp_path / "vault"))
    env = cli_env(tmp_path / "vault", test_hub.url, DEVON_DATABASE_URL=UNREACHABLE)

    result = run_piped(env, "list")

    assert result.code == 1, result
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: The vault index database 127.0.0.1:1/devon cannot be reached")
    assert "s3cret" not in result.stderr
    assert files_on_disk(model.path) == WIDGET


def test_the_api_answers_503_with_a_detail_while_the_database_is_gone(
    tmp_path: Path, own_database: ScratchDatabase
) -> None:
    settings = Settings(storage_path=tmp_path / "vault", database_url=own_database.url)
    devon = build_devon(settings, sources=())
    assert isinstance(devon.store, DiskModelStore)
    model = put_model(devon.store)
    with TestClient[Any](create_app(devon)) as client:
        assert client.get("/api/v1/models").status_code == 200

        own_database.cut_off()
        listed = client.get("/api/v1/models")
        removed = client.delete(f"/api/v1/models/huggingface/{model.model_id}")

    for response in (listed, removed):
        assert response.status_code == 503
        assert response.json().keys() == {"detail"}
        assert "cannot be reached" in response.json()["detail"]
    assert files_on_disk(model.path) == WIDGET


def test_an_etag_from_one_host_is_stale_once_another_host_commits(tmp_path: Path) -> None:
    from tests.support.postgres_support import scratch_database

    url = scratch_database().vault_url()
    settings = Settings(storage_path=tmp_path / "vault", database_url=url)
    here, there = build_devon(settings, sources=()), build_devon(settings, sources=())
    assert isinstance(there.store, DiskModelStore)
    with TestClient[Any](create_app(here)) as client:
        first = client.get("/api/v1/models")
        etag = first.headers["etag"]
        unchanged = client.get("/api/v1/models", headers={"If-None-Match": etag})

        put_model(there.store)  # the other host commits
        changed = client.get("/api/v1/models", headers={"If-None-Match": etag})

    assert unchanged.status_code == 304
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert [m["model_id"] for m in changed.json()["models"]] == ["acme/widget-7b"]
