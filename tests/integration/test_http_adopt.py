"""POST /api/v1/adopt: the server's Hugging Face cache taken into the vault over HTTP."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from devon_app import Settings, build_devon
from devon_http import create_app
from devon_testhub import TestHub
from tests.support.hf_cache_builder import download
from tests.support.hf_helpers import TINY
from tests.support.http_support import CACHED, fake_devon

Client = TestClient[Any]
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client() -> Iterator[Client]:
    with TestClient(create_app(fake_devon())) as test_client:
        yield test_client


def assert_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"detail"}
    return str(response.json()["detail"])


def test_adopt_takes_the_cached_models_into_the_vault(client: Client) -> None:
    response = client.post("/api/v1/adopt", json={}, headers=JSON)

    assert response.status_code == 200, response.text
    body = response.json()
    assert [m["model_id"] for m in body["adopted"]] == [CACHED]
    assert body["dry_run"] is False
    listed = client.get("/api/v1/models").json()["models"]
    assert CACHED in [m["model_id"] for m in listed]


def test_adopt_dry_run_reports_without_adopting(client: Client) -> None:
    response = client.post("/api/v1/adopt", json={"dry_run": True}, headers=JSON)

    assert response.status_code == 200, response.text
    assert [m["model_id"] for m in response.json()["adopted"]] == [CACHED]
    listed = client.get("/api/v1/models").json()["models"]
    assert CACHED not in [m["model_id"] for m in listed]


def test_adopt_of_named_models_reports_those_not_in_the_cache(client: Client) -> None:
    response = client.post("/api/v1/adopt", json={"model_ids": ["acme/gone"]}, headers=JSON)

    assert response.status_code == 200, response.text
    assert response.json()["skipped"] == [
        {
            "repo": "acme/gone",
            "kind": "model",
            "reason": "not_in_cache",
            "detail": "not in the cache at /hf/hub",
        }
    ]


def test_adopt_never_takes_the_cache_path_from_the_request(client: Client) -> None:
    response = client.post("/api/v1/adopt", json={"cache": "/etc", "dry_run": True}, headers=JSON)

    assert response.status_code == 200, response.text
    assert response.json()["cache"] == "/hf/hub"


def test_adopt_of_an_invalid_model_id_is_a_400(client: Client) -> None:
    response = client.post("/api/v1/adopt", json={"model_ids": ["bad..id"]}, headers=JSON)
    assert "bad..id" in assert_error(response, 400)


def test_adopt_with_a_wrongly_typed_field_is_a_422(client: Client) -> None:
    response = client.post("/api/v1/adopt", json={"dry_run": "yes"}, headers=JSON)
    assert "dry_run" in assert_error(response, 422)


def test_adopt_needs_the_api_key_when_one_is_set() -> None:
    with TestClient(create_app(fake_devon(), api_key="s3cret")) as client:
        refused = client.post("/api/v1/adopt", json={}, headers=JSON)
        allowed = client.post(
            "/api/v1/adopt", json={}, headers={**JSON, "Authorization": "Bearer s3cret"}
        )
    assert_error(refused, 401)
    assert allowed.status_code == 200


def test_adopt_from_the_configured_real_cache(session_test_hub: TestHub, tmp_path: Path) -> None:
    cache = tmp_path / "hf" / "hub"
    download(session_test_hub, cache, TINY)
    settings = Settings(storage_path=tmp_path / "vault", hf_cache=cache)
    devon = build_devon(settings, sources=())

    with TestClient(create_app(devon)) as client:
        response = client.post("/api/v1/adopt", json={}, headers=JSON)

    assert response.status_code == 200, response.text
    (model,) = response.json()["adopted"]
    assert (model["model_id"], model["metadata_from"]) == (TINY, "cache")
    assert (Path(model["path"]) / "config.json").is_file()


def test_adopt_without_a_cache_on_the_server_adopts_nothing(tmp_path: Path) -> None:
    settings = Settings(storage_path=tmp_path / "vault", hf_cache=tmp_path / "none")
    with TestClient(create_app(build_devon(settings, sources=()))) as client:
        response = client.post("/api/v1/adopt", json={}, headers=JSON)
    assert response.status_code == 200
    assert response.json()["adopted"] == []
    assert response.json()["skipped"] == []
