"""The request guard: Host allowlist, foreign origins, JSON-only bodies, CORS for listed
origins, and the security headers on every answer (docs/security.md)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from devon_http import create_app
from devon_http.guard import LOOPBACK_HOSTS, HttpSecurity, frame_ancestors_directive, split_host
from tests.support.http_support import QWEN, fake_devon

Client = TestClient[Any]
KITT = "https://kitt.lan:3000"


LOCAL = "http://127.0.0.1:8000"


def client_for(security: HttpSecurity, base_url: str = LOCAL) -> Client:
    return TestClient(create_app(fake_devon(local=[QWEN]), security=security), base_url=base_url)


@pytest.fixture
def loopback() -> Iterator[Client]:
    with client_for(HttpSecurity(allowed_hosts=LOOPBACK_HOSTS, cors_origins=[KITT])) as client:
        yield client


def assert_detail(response: Any, status: int, *words: str) -> None:
    assert response.status_code == status
    body = response.json()
    assert list(body) == ["detail"]
    for word in words:
        assert word in body["detail"]


# -- Host ---------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"])
def test_loopback_names_are_answered_by_a_loopback_server(loopback: Client, host: str) -> None:
    assert loopback.get("/api/v1/status", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example:8000", "127.0.0.1.nip.io", "localhost.evil"])
def test_a_rebinding_host_name_is_400(loopback: Client, host: str) -> None:
    response = loopback.get("/api/v1/models", headers={"Host": host})
    assert_detail(response, 400, "DEVON_ALLOWED_HOSTS", split_host(host))


def test_a_listed_host_is_answered_and_others_are_not() -> None:
    with client_for(HttpSecurity(allowed_hosts=["devon.lan"])) as client:
        assert client.get("/health", headers={"Host": "devon.lan:8000"}).status_code == 200
        assert client.get("/health", headers={"Host": "localhost:8000"}).status_code == 400


def test_a_star_accepts_any_host() -> None:
    with client_for(HttpSecurity(allowed_hosts=["*"])) as client:
        assert client.get("/health", headers={"Host": "anything.example"}).status_code == 200


# -- Origin -------------------------------------------------------------------------------


def test_a_request_from_the_servers_own_origin_is_served(loopback: Client) -> None:
    response = loopback.post(
        "/api/v1/clean", json={"all": True}, headers={"Origin": "http://127.0.0.1:8000"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://localhost:8000", "http://127.0.0.1:9999", "null"]
)
def test_a_write_from_a_foreign_origin_is_403_and_changes_nothing(
    loopback: Client, origin: str
) -> None:
    response = loopback.post("/api/v1/clean", json={"all": True}, headers={"Origin": origin})
    assert_detail(response, 403, "DEVON_CORS_ORIGINS", origin)
    assert loopback.get("/api/v1/models").json()["count"] == 1


@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT"])
def test_a_cross_site_write_without_origin_is_403_and_changes_nothing(
    loopback: Client, method: str
) -> None:
    response = loopback.request(
        method,
        "/api/v1/clean",
        json={"all": True},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert_detail(response, 403, "Sec-Fetch-Site", "DEVON_CORS_ORIGINS")
    assert loopback.get("/api/v1/models").json()["count"] == 1


@pytest.mark.parametrize("site", ["same-origin", "none"])
def test_a_write_the_browser_marks_as_from_this_site_is_served(loopback: Client, site: str) -> None:
    response = loopback.post("/api/v1/export", json={}, headers={"Sec-Fetch-Site": site})
    assert response.status_code == 200


def test_a_cross_site_read_without_origin_is_served(loopback: Client) -> None:
    # A link followed from another site: a navigation, not a write.
    response = loopback.get("/api/v1/models", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 200


def test_a_read_from_a_foreign_origin_is_403(loopback: Client) -> None:
    response = loopback.get("/api/v1/models", headers={"Origin": "http://evil.example"})
    assert_detail(response, 403, "evil.example")


def test_a_listed_origin_gets_cors_headers_on_its_answers(loopback: Client) -> None:
    response = loopback.get("/api/v1/models", headers={"Origin": KITT})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == KITT
    assert "Origin" in response.headers["vary"]


def test_a_preflight_from_a_listed_origin_is_answered(loopback: Client) -> None:
    response = loopback.options(
        "/api/v1/downloads",
        headers={
            "Origin": KITT,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == KITT
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "content-type" in allowed
    assert "authorization" in allowed


def test_a_preflight_from_a_foreign_origin_is_403(loopback: Client) -> None:
    response = loopback.options(
        "/api/v1/downloads",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


def test_a_star_lets_every_origin_call() -> None:
    with client_for(HttpSecurity(cors_origins=["*"])) as client:
        response = client.get("/api/v1/models", headers={"Origin": "http://any.example"})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"


def test_a_request_without_origin_is_not_affected(loopback: Client) -> None:
    # What curl, scripts and KITT's proxy send.
    assert loopback.post("/api/v1/export", json={}).status_code == 200


# -- Content-Type -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_not_sent_as_json_is_415_and_changes_nothing(
    loopback: Client, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = loopback.post("/api/v1/clean", content=b'{"all":true,"x":"="}', headers=headers)
    assert_detail(response, 415, "Content-Type: application/json")
    assert loopback.get("/api/v1/models").json()["count"] == 1


def test_a_listed_origin_can_read_why_its_body_was_refused(loopback: Client) -> None:
    response = loopback.post(
        "/api/v1/clean", content=b"{}", headers={"Origin": KITT, "Content-Type": "text/plain"}
    )
    assert_detail(response, 415, "Content-Type: application/json")
    assert response.headers["access-control-allow-origin"] == KITT


def test_json_with_a_charset_is_accepted(loopback: Client) -> None:
    response = loopback.post(
        "/api/v1/clean",
        content=b'{"dry_run": true, "all": true}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200
    assert response.json()["removed"] == 1


def test_a_request_without_a_body_needs_no_content_type(loopback: Client) -> None:
    response = loopback.post("/api/v1/export")
    assert response.status_code == 200
    assert response.json()["format"] == "kitt"


# -- headers on every answer ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health"),
        ("GET", "/api/v1/models"),
        ("GET", "/no/such/route"),
        ("PUT", "/api/v1/models"),
        ("GET", "/schema/openapi.json"),
    ],
)
def test_every_answer_carries_nosniff_and_a_csp_denying_framing(
    loopback: Client, method: str, path: str
) -> None:
    response = loopback.request(method, path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


def test_refusals_carry_the_security_headers_too(loopback: Client) -> None:
    response = loopback.get("/health", headers={"Host": "evil.example"})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in response.headers


def test_frame_ancestors_lists_the_origins_allowed_to_frame() -> None:
    with client_for(HttpSecurity(frame_ancestors=[KITT, "'self'"])) as client:
        response = client.get("/health")
    assert f"frame-ancestors {KITT} 'self'" in response.headers["content-security-policy"]
    assert "x-frame-options" not in response.headers


def test_a_handler_that_sets_its_own_csp_keeps_it() -> None:
    from litestar import MediaType, Response, get

    @get("/page", media_type=MediaType.HTML)
    async def page() -> Response[str]:
        return Response("<p>hi</p>", headers={"Content-Security-Policy": "default-src 'self'"})

    app = create_app(fake_devon())
    app.register(page)
    with TestClient(app) as client:
        response = client.get("/page")
    assert response.headers.get_list("content-security-policy") == ["default-src 'self'"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_frame_ancestors_directive_denies_framing_when_empty() -> None:
    assert frame_ancestors_directive([]) == "frame-ancestors 'none'"
    assert frame_ancestors_directive(["https://a", "https://b"]) == (
        "frame-ancestors https://a https://b"
    )


# -- /schema ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/schema", "/schema/openapi.json"])
def test_schema_serves_the_openapi_json(loopback: Client, path: str) -> None:
    response = loopback.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/")
    assert response.json()["info"]["title"] == "DEVON"


def test_schema_serves_the_openapi_yaml(loopback: Client) -> None:
    response = loopback.get("/schema/openapi.yaml")
    assert response.status_code == 200
    assert "title: DEVON" in response.text


@pytest.mark.parametrize("page", ["swagger", "redoc", "elements", "rapidoc", "stoplight"])
def test_schema_serves_no_page_that_loads_scripts_from_elsewhere(
    loopback: Client, page: str
) -> None:
    response = loopback.get(f"/schema/{page}")
    assert response.status_code == 404
    assert "<script" not in response.text


@pytest.mark.parametrize("path", ["/schema/nothing", "/schema/openapi.xml", "/schema/a/b"])
def test_an_unknown_schema_path_is_a_json_404(loopback: Client, path: str) -> None:
    assert_detail(loopback.get(path), 404, path, "/schema")


@pytest.mark.parametrize("path", ["/schema/nothing", "/schema/swagger"])
def test_an_unknown_schema_path_is_401_first_when_the_server_has_a_key(path: str) -> None:
    with TestClient(create_app(fake_devon(), api_key="k1"), base_url=LOCAL) as client:
        response = client.get(path)
        assert_detail(response, 401, "API key")
        assert response.headers["www-authenticate"] == "Bearer"
        authorized = client.get(path, headers={"Authorization": "Bearer k1"})
        assert_detail(authorized, 404, path)
        assert client.get("/schema/openapi.json").status_code == 200


def test_the_served_app_answers_only_loopback_names_unless_told(tmp_path: Path) -> None:
    from devon_app import Settings
    from devon_http.asgi import create_app_from_settings

    app = create_app_from_settings(
        Settings(storage_path=tmp_path, hf_endpoint="http://127.0.0.1:9")
    )
    with TestClient(app) as client:
        assert client.get("/health", headers={"Host": "localhost:8000"}).status_code == 200
        assert client.get("/health", headers={"Host": "rebound.example"}).status_code == 400
