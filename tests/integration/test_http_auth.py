"""Bearer-token auth: on when an API key is given, off when it is unset or empty."""

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from devon_http import create_app
from tests.support.http_support import QWEN, fake_devon

KEY = "s3cret-key"
Client = TestClient[Any]


@pytest.fixture
def client() -> Iterator[Client]:
    with TestClient(create_app(fake_devon(local=[QWEN]), api_key=KEY)) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


API_CALLS = [
    ("GET", "/api/v1/search"),
    ("GET", "/api/v1/models"),
    ("GET", f"/api/v1/models/huggingface/{QWEN}"),
    ("DELETE", f"/api/v1/models/huggingface/{QWEN}"),
    ("POST", "/api/v1/downloads"),
    ("GET", "/api/v1/downloads"),
    ("GET", "/api/v1/downloads/0123abcd"),
    ("DELETE", "/api/v1/downloads/0123abcd"),
    ("GET", "/api/v1/downloads/0123abcd/events"),
    ("POST", "/api/v1/downloads/0123abcd/restart"),
    ("GET", "/api/v1/status"),
    ("GET", "/api/v1/space"),
    ("GET", "/api/v1/sources"),
    ("POST", "/api/v1/clean"),
    ("POST", "/api/v1/scan"),
    ("POST", "/api/v1/export"),
    ("POST", "/api/v1/adopt"),
    ("GET", "/api/v1/hosts"),
    ("POST", "/api/v1/hosts/gpu1/heartbeat"),
    ("GET", "/api/v1/placements"),
    ("PUT", "/api/v1/placements"),
    ("DELETE", f"/api/v1/placements?model_id={QWEN}"),
    ("POST", "/api/v1/models/ensure"),
    ("GET", f"/api/v1/peers?model_id={QWEN}"),
]


@pytest.mark.parametrize(("method", "path"), API_CALLS)
def test_every_api_route_without_a_key_is_401(client: Client, method: str, path: str) -> None:
    response = client.request(method, path, json={"model_id": QWEN})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or missing API key"}
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization", [f"Bearer {KEY}x", "Bearer ", f"Basic {KEY}", KEY, f"Bearer{KEY}"]
)
def test_a_wrong_key_or_scheme_is_401(client: Client, authorization: str) -> None:
    response = client.get("/api/v1/status", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or missing API key"}


def test_the_right_key_is_let_through(client: Client) -> None:
    assert client.get("/api/v1/status", headers=bearer(KEY)).status_code == 200


def test_the_scheme_name_is_case_insensitive(client: Client) -> None:
    response = client.get("/api/v1/status", headers={"Authorization": f"bearer {KEY}"})
    assert response.status_code == 200


def test_auth_is_checked_before_the_body(client: Client) -> None:
    response = client.post(
        "/api/v1/downloads", content=b"not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401


def test_health_never_needs_the_key(client: Client) -> None:
    assert client.get("/health").status_code == 200


def test_the_openapi_document_never_needs_the_key(client: Client) -> None:
    assert client.get("/schema/openapi.json").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/nothing-here"), ("GET", "/elsewhere"), ("PUT", "/api/v1/status")],
)
def test_unknown_routes_and_wrong_methods_without_the_key_are_401(
    client: Client, method: str, path: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or missing API key"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_an_unknown_route_with_the_key_is_404(client: Client) -> None:
    response = client.get("/api/v1/nothing-here", headers=bearer(KEY))
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_a_wrong_method_with_the_key_is_405(client: Client) -> None:
    assert client.put("/api/v1/status", headers=bearer(KEY)).status_code == 405


@pytest.mark.parametrize("api_key", [None, ""])
def test_without_a_key_the_api_is_open(api_key: str | None) -> None:
    with TestClient(create_app(fake_devon(), api_key=api_key)) as client:
        assert client.get("/api/v1/status").status_code == 200


def test_the_openapi_document_declares_bearer_auth_when_a_key_is_set(client: Client) -> None:
    document = client.get("/schema/openapi.json").json()
    assert document["components"]["securitySchemes"]["BearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The server's DEVON_API_KEY",
    }
    operations = [op for path in document["paths"].values() for op in path.values()]
    secured = [op for op in operations if op.get("security") == [{"BearerAuth": []}]]
    assert len(secured) == len(API_CALLS)


def test_the_openapi_document_declares_no_auth_when_open() -> None:
    with TestClient(create_app(fake_devon())) as client:
        document = client.get("/schema/openapi.json").json()
    assert "securitySchemes" not in document.get("components", {})
    assert all("security" not in op for path in document["paths"].values() for op in path.values())
