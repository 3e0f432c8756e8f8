"""How DEVON serves its web page: at `/` without the key, with a policy that allows only its
one inline script, framing only by the configured origins, assets revalidated by ETag."""

import base64
import hashlib
import re
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from devon_http import create_app
from devon_http.guard import HttpSecurity
from devon_http.web_page import BASE_URL_SCRIPT
from tests.support.http_support import fake_devon

KEY = "page-key"


@pytest.fixture
def client() -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(create_app(fake_devon(), api_key=KEY)) as client:
        yield client


def policy(response: object) -> dict[str, str]:
    header = response.headers["content-security-policy"]  # type: ignore[attr-defined]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in header.split("; ")}


def test_the_page_is_served_at_root_without_the_key(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<main" in response.text


def test_the_page_has_exactly_one_inline_script_the_base_url(client: TestClient) -> None:  # type: ignore[type-arg]
    inline = re.findall(r"<script>(.*?)</script>", client.get("/").text)
    assert inline == ['window.__DEVON_BASE_URL__=""']


def test_the_policy_allows_the_inline_script_by_its_hash_and_nothing_else_foreign(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    digest = base64.b64encode(hashlib.sha256(BASE_URL_SCRIPT.encode()).digest()).decode()
    rules = policy(client.get("/"))
    assert rules["script-src"] == f"'self' 'sha256-{digest}'"
    assert rules["default-src"] == "'self'"
    assert rules["connect-src"] == "'self'"


def test_framing_is_denied_unless_origins_are_configured(client: TestClient) -> None:  # type: ignore[type-arg]
    assert policy(client.get("/"))["frame-ancestors"] == "'none'"


def test_the_configured_origins_may_frame_the_page() -> None:
    app = create_app(
        fake_devon(),
        security=HttpSecurity(frame_ancestors=("https://kitt.example:8080", "self")),
    )
    with TestClient(app) as client:
        rules = policy(client.get("/"))
    assert rules["frame-ancestors"] == "https://kitt.example:8080 'self'"


def test_assets_are_served_without_the_key_and_revalidated_by_etag(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    first = client.get("/ui/app.js")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/javascript")
    again = client.get("/ui/app.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_an_unknown_asset_is_404_with_a_detail(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.get("/ui/nothing-here.js")
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_the_api_still_needs_the_key(client: TestClient) -> None:  # type: ignore[type-arg]
    assert client.get("/api/v1/status").status_code == 401


def test_space_reports_free_disk_use_and_quota() -> None:
    with TestClient(create_app(fake_devon(local=["acme/a-1b"]))) as client:
        body = client.get("/api/v1/space").json()
    assert set(body) == {"free_bytes", "used_bytes", "quota_bytes"}
    assert body["used_bytes"] > 0
