"""Every endpoint of docs/http-api.md through Litestar's test client, on fakes of the ports:
success shapes against the spec's examples, and each documented error as {"detail": str}."""

from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from devon_core import Forbidden, SearchFilters, SourceUnavailable
from devon_core.models import RemoteModel
from devon_http import create_app
from devon_http.routes import health
from tests.support import http_spec_examples as spec
from tests.support.fakes import FakeSource, MemoryStore, local_model, remote_model
from tests.support.http_support import LLAMA, QWEN, catalogue, fake_devon, shape_problems

Client = TestClient[Any]


@pytest.fixture
def source() -> FakeSource:
    return FakeSource(catalogue())


@pytest.fixture
def client(source: FakeSource) -> Iterator[Client]:
    with TestClient(create_app(fake_devon(source, local=[QWEN]))) as test_client:
        yield test_client


def store_of(client: Client) -> MemoryStore:
    store: MemoryStore = client.app.state.devon.store
    return store


def assert_shape(response: httpx.Response, example: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert shape_problems(response.json(), example) == []


def assert_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail"}
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return str(body["detail"])


# /health


def test_health_answers_ok_with_the_installed_version(client: Client) -> None:
    response = client.get("/health")
    assert_shape(response, spec.HEALTH)
    assert response.json() == {"status": "ok", "version": version("devon")}


def test_health_answered_before_routing_is_what_the_declared_route_answers(
    client: Client,
) -> None:
    with TestClient(Litestar(route_handlers=[health], logging_config=None)) as routed:
        declared = routed.get("/health")

    answered = client.get("/health")

    assert answered.content == declared.content
    assert answered.status_code == declared.status_code == 200
    for header in ("content-type", "content-length"):
        assert answered.headers[header] == declared.headers[header]


# GET /api/v1/search


def test_search_returns_results_shaped_like_the_spec(client: Client) -> None:
    response = client.get("/api/v1/search", params={"query": "llama"})
    assert_shape(response, spec.SEARCH)
    assert response.json()["results"][0]["model_id"] == LLAMA


def test_search_without_query_lists_most_downloaded_first(client: Client) -> None:
    body = client.get("/api/v1/search").json()
    assert body["query"] is None
    assert body["source"] == "huggingface"
    assert [r["model_id"] for r in body["results"]] == [LLAMA, QWEN]
    assert body["count"] == 2


def test_search_applies_the_filters_given_as_query_parameters(client: Client) -> None:
    params = {
        "provider": "qwen",
        "params": "<=8b",
        "format": "safetensors",
        "license": "apache-2.0",
    }
    body = client.get("/api/v1/search", params=params).json()
    assert [r["model_id"] for r in body["results"]] == [QWEN]


def test_search_returns_twenty_results_unless_told_otherwise() -> None:
    many = [remote_model(f"acme/model-{n}", downloads=n) for n in range(30)]
    with TestClient(create_app(fake_devon(FakeSource(many)))) as client:
        assert client.get("/api/v1/search").json()["count"] == 20
        assert client.get("/api/v1/search", params={"limit": 25}).json()["count"] == 25


@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "2.5"])
def test_search_limit_outside_1_to_200_is_400(client: Client, limit: str) -> None:
    detail = assert_error(client.get("/api/v1/search", params={"limit": limit}), 400)
    assert "limit" in detail


@pytest.mark.parametrize(
    ("name", "value"),
    [("size", "huge"), ("params", "lots"), ("format", "exe"), ("source", "nowhere")],
)
def test_search_with_an_unusable_filter_or_unknown_source_is_400(
    client: Client, name: str, value: str
) -> None:
    assert_error(client.get("/api/v1/search", params={name: value}), 400)


class UnreachableSource(FakeSource):
    def search(self, query: str | None, filters: SearchFilters, limit: int) -> list[RemoteModel]:
        raise SourceUnavailable("huggingface.co did not answer within 10 s")


def test_search_when_the_source_cannot_be_reached_is_502() -> None:
    with TestClient(create_app(fake_devon(UnreachableSource(catalogue())))) as client:
        detail = assert_error(client.get("/api/v1/search"), 502)
    assert detail == "huggingface.co did not answer within 10 s"


class BrokenSource(FakeSource):
    def search(self, query: str | None, filters: SearchFilters, limit: int) -> list[RemoteModel]:
        raise RuntimeError("secret internals /home/user/.cache")


def test_an_unexpected_error_is_500_without_a_traceback() -> None:
    with TestClient(create_app(fake_devon(BrokenSource()))) as client:
        response = client.get("/api/v1/search")
    detail = assert_error(response, 500)
    assert "secret" not in response.text
    assert "Traceback" not in detail


# GET /api/v1/models


def test_models_lists_the_vault_shaped_like_the_spec(client: Client) -> None:
    response = client.get("/api/v1/models")
    assert_shape(response, spec.MODELS)
    assert [m["model_id"] for m in response.json()["models"]] == [QWEN]


def test_models_of_an_unknown_source_is_400(client: Client) -> None:
    detail = assert_error(client.get("/api/v1/models", params={"source": "modelscope"}), 400)
    assert detail == "Unknown source 'modelscope': known sources are huggingface, local"


def test_delete_from_an_unknown_source_is_400(client: Client) -> None:
    assert_error(client.delete("/api/v1/models/modelscope/acme/x"), 400)


def test_models_with_an_invalid_source_name_is_400(client: Client) -> None:
    assert_error(client.get("/api/v1/models", params={"source": "Not A Source"}), 400)


def test_timestamps_are_utc_with_offset_and_microseconds(client: Client) -> None:
    model = client.get("/api/v1/models").json()["models"][0]
    assert model["downloaded_at"] == "2025-02-12T14:30:00.000000+00:00"


# GET /api/v1/models/{source}/{model_id}


def test_model_info_returns_local_and_remote_shaped_like_the_spec(client: Client) -> None:
    response = client.get(f"/api/v1/models/huggingface/{QWEN}")
    assert_shape(response, spec.INFO)
    assert response.json()["remote"]["model_id"] == QWEN


def test_model_info_marks_the_model_used(client: Client) -> None:
    info = client.get(f"/api/v1/models/huggingface/{QWEN}").json()
    assert info["local"]["last_used"] == "2025-02-12T14:30:00.000000+00:00"


def test_model_info_of_a_model_only_on_the_source_has_no_local_part(client: Client) -> None:
    info = client.get(f"/api/v1/models/huggingface/{LLAMA}").json()
    assert info["local"] is None
    assert info["remote"]["model_id"] == LLAMA


def test_model_info_of_a_model_nowhere_is_404(client: Client) -> None:
    assert_error(client.get("/api/v1/models/huggingface/acme/missing"), 404)


def test_model_info_of_a_bare_legacy_id_with_dots_works() -> None:
    source = FakeSource([remote_model("gpt2.5")])
    with TestClient(create_app(fake_devon(source, local=["gpt2.5"]))) as client:
        info = client.get("/api/v1/models/huggingface/gpt2.5").json()
    assert info["local"]["model_id"] == "gpt2.5"


@pytest.mark.parametrize(
    "model_id", ["acme/a/b", "acme/bad--name", "acme/-dash", "acme/name.", "acme/sp%20ace"]
)
def test_an_invalid_model_id_in_the_path_is_400(client: Client, model_id: str) -> None:
    assert_error(client.get(f"/api/v1/models/huggingface/{model_id}"), 400)


def test_an_invalid_source_in_the_path_is_400(client: Client) -> None:
    assert_error(client.get(f"/api/v1/models/Hugging%20Face/{QWEN}"), 400)


# DELETE /api/v1/models/{source}/{model_id}


def test_delete_removes_the_model_shaped_like_the_spec(client: Client) -> None:
    response = client.delete(f"/api/v1/models/huggingface/{QWEN}")
    assert_shape(response, spec.DELETED)
    assert response.json() == {"deleted": True, "model_id": QWEN, "source": "huggingface"}
    assert client.get("/api/v1/models").json()["count"] == 0


def test_delete_of_a_model_not_in_the_vault_is_404(client: Client) -> None:
    assert_error(client.delete(f"/api/v1/models/huggingface/{LLAMA}"), 404)


# POST /api/v1/downloads


def test_download_fetches_the_model_shaped_like_the_spec(client: Client) -> None:
    response = client.post("/api/v1/downloads", json={"model_id": LLAMA})
    assert_shape(response, spec.DOWNLOADED)
    body = response.json()
    assert body["files"] == ["config.json", "model.safetensors"]
    assert body["path"] == f"/vault/huggingface/{LLAMA}"
    assert [m["model_id"] for m in client.get("/api/v1/models").json()["models"]] == [QWEN, LLAMA]


def test_download_ignores_unknown_fields(client: Client) -> None:
    response = client.post("/api/v1/downloads", json={"model_id": LLAMA, "colour": "blue"})
    assert response.status_code == 200


def test_download_with_include_patterns_fetches_only_matching_files(client: Client) -> None:
    body = {"model_id": LLAMA, "include_patterns": ["*.json"], "force": False}
    response = client.post("/api/v1/downloads", json=body)
    assert response.json()["files"] == ["config.json"]


def test_download_of_a_present_model_returns_it_without_transfer(
    client: Client, source: FakeSource
) -> None:
    response = client.post("/api/v1/downloads", json={"model_id": QWEN})
    assert response.json()["model_id"] == QWEN
    assert source.downloads == []


def test_forced_download_fetches_a_present_model_again(client: Client, source: FakeSource) -> None:
    client.app.state.devon.clock.advance(hours=1)
    client.post("/api/v1/downloads", json={"model_id": QWEN, "force": True})
    assert [model_id for model_id, _ in source.downloads] == [QWEN]


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b'{"model_id": ', 400),
        (b"not json", 400),
        (b"", 400),
        (b"{}", 422),
        (b'{"model_id": 7}', 422),
        (b'{"model_id": "acme/x", "force": "yes"}', 422),
        (b'{"model_id": "acme/x", "force": "true"}', 422),
        (b'{"model_id": "acme/x", "include_patterns": "*.json"}', 422),
        (b"[]", 422),
        (b'{"model_id": "acme/../etc"}', 400),
        (b'{"model_id": "acme/x", "include_patterns": ["/etc/*"]}', 400),
        (b'{"model_id": "acme/x", "include_patterns": ["[abc"]}', 400),
        (b'{"model_id": "acme/x", "source": "nowhere"}', 400),
        (b'{"model_id": "acme/missing"}', 404),
    ],
)
def test_download_rejects_bad_requests_with_the_documented_status(
    client: Client, content: bytes, status: int
) -> None:
    response = client.post(
        "/api/v1/downloads", content=content, headers={"content-type": "application/json"}
    )
    assert_error(response, status)


def test_a_failed_download_is_500_and_leaves_the_vault_as_it_was(
    client: Client, source: FakeSource
) -> None:
    source.fail_download = True
    before = client.get("/api/v1/models").json()
    detail = assert_error(client.post("/api/v1/downloads", json={"model_id": LLAMA}), 500)
    assert "connection cut" in detail
    assert client.get("/api/v1/models").json() == before


def test_download_of_a_gated_model_is_403(client: Client, source: FakeSource) -> None:
    source.info_error = Forbidden("meta-llama/Llama-3.1-8B-Instruct is gated: accept its terms")
    assert_error(client.post("/api/v1/downloads", json={"model_id": LLAMA}), 403)


def test_download_when_the_source_cannot_be_reached_is_502(
    client: Client, source: FakeSource
) -> None:
    source.info_error = SourceUnavailable("huggingface.co is unreachable")
    assert_error(client.post("/api/v1/downloads", json={"model_id": LLAMA}), 502)


def test_download_without_room_is_507(client: Client) -> None:
    store_of(client).free_bytes = 10
    detail = assert_error(client.post("/api/v1/downloads", json={"model_id": LLAMA}), 507)
    assert "free disk space" in detail


def test_a_body_over_64_kib_is_413(client: Client) -> None:
    body = {"model_id": LLAMA, "include_patterns": ["x" * 100] * 700}
    assert_error(client.post("/api/v1/downloads", json=body), 413)


# GET /api/v1/status


def test_status_reports_the_vault_shaped_like_the_spec(client: Client) -> None:
    response = client.get("/api/v1/status")
    assert_shape(response, spec.STATUS)
    assert response.json() == {
        "model_count": 1,
        "total_size_bytes": 1000,
        "storage_path": "/vault",
        "sources": {"huggingface": {"count": 1, "size_bytes": 1000}},
        "staging_bytes": 0,
        "partial_bytes": 0,
    }


# POST /api/v1/clean


def test_clean_all_removes_every_model_shaped_like_the_spec(client: Client) -> None:
    response = client.post("/api/v1/clean", json={"all": True})
    assert_shape(response, spec.CLEANED)
    assert response.json() == {
        "removed": 1,
        "freed_bytes": 1000,
        "dry_run": False,
        "models": [f"huggingface/{QWEN}"],
    }
    assert client.get("/api/v1/models").json()["count"] == 0


def test_clean_dry_run_reports_without_removing(client: Client) -> None:
    body = client.post("/api/v1/clean", json={"all": True, "dry_run": True}).json()
    assert body["models"] == [f"huggingface/{QWEN}"]
    assert body["dry_run"] is True
    assert client.get("/api/v1/models").json()["count"] == 1


def test_clean_with_an_empty_object_removes_nothing(client: Client) -> None:
    assert client.post("/api/v1/clean", json={}).json()["removed"] == 0


def test_clean_without_a_body_uses_the_defaults_and_removes_nothing(client: Client) -> None:
    response = client.post("/api/v1/clean")
    assert response.status_code == 200
    assert response.json() == {"removed": 0, "freed_bytes": 0, "dry_run": False, "models": []}


def test_clean_unused_with_more_days_than_the_calendar_holds_removes_nothing(
    client: Client,
) -> None:
    response = client.post("/api/v1/clean", json={"unused": True, "days": 10**12})
    assert response.json()["removed"] == 0


@pytest.mark.parametrize(
    "body", [{"days": -1}, {"days": "30"}, {"days": 1.5}, {"unused": "yes"}, {"all": 1}]
)
def test_clean_with_invalid_values_is_422(client: Client, body: dict[str, Any]) -> None:
    assert_error(client.post("/api/v1/clean", json=body), 422)


# POST /api/v1/export


def test_export_kitt_lists_paths_shaped_like_the_spec(client: Client) -> None:
    response = client.post("/api/v1/export", json={"format": "kitt"})
    assert_shape(response, spec.EXPORT_KITT)
    assert response.json()["content"] == [f"/vault/huggingface/{QWEN}"]


def test_export_defaults_to_kitt(client: Client) -> None:
    assert client.post("/api/v1/export", json={}).json()["format"] == "kitt"


def test_export_without_a_body_is_the_kitt_list(client: Client) -> None:
    response = client.post("/api/v1/export")
    assert response.status_code == 200
    assert response.json()["content"] == [f"/vault/huggingface/{QWEN}"]


def test_a_download_without_a_body_is_400(client: Client) -> None:
    detail = assert_error(client.post("/api/v1/downloads"), 400)
    assert "body is missing" in detail


def test_export_json_lists_details_shaped_like_the_spec(client: Client) -> None:
    assert_shape(client.post("/api/v1/export", json={"format": "json"}), spec.EXPORT_JSON)


def test_export_in_an_unknown_format_is_422(client: Client) -> None:
    detail = assert_error(client.post("/api/v1/export", json={"format": "xml"}), 422)
    assert detail == "Invalid request body: format: Invalid enum value 'xml' (use 'kitt' or 'json')"


# Routing


def test_an_unknown_route_is_404_with_only_a_detail(client: Client) -> None:
    assert_error(client.get("/api/v1/nothing-here"), 404)
    assert_error(client.get("/nothing-here"), 404)


def test_a_wrong_method_is_405_with_only_a_detail(client: Client) -> None:
    response = client.put("/api/v1/status")
    detail = assert_error(response, 405)
    assert "GET" in detail
    assert "GET" in response.headers["allow"]


def test_a_model_path_without_a_model_id_is_404(client: Client) -> None:
    assert_error(client.get("/api/v1/models/huggingface/"), 404)


def test_options_on_a_model_lists_get_and_delete(client: Client) -> None:
    response = client.options(f"/api/v1/models/huggingface/{QWEN}")
    assert response.status_code == 204
    assert response.headers["allow"] == "DELETE, GET, OPTIONS"


def test_clean_carries_on_past_a_model_it_cannot_remove_and_names_it(client: Client) -> None:
    store = store_of(client)
    store.add(local_model(LLAMA))
    store.fail_remove = {f"huggingface/{QWEN}"}

    response = client.post("/api/v1/clean", json={"all": True})

    assert response.status_code == 200
    body = response.json()
    assert body["models"] == [f"huggingface/{LLAMA}"]
    assert body["removed"] == 1
    [failure] = body["failed"]
    assert failure["model"] == f"huggingface/{QWEN}"
    assert "Could not remove" in failure["detail"]


def test_a_removal_that_fails_is_500_with_a_clear_detail(client: Client) -> None:
    store_of(client).fail_remove = {f"huggingface/{QWEN}"}
    response = client.delete(f"/api/v1/models/huggingface/{QWEN}")
    assert_error(response, 500)
    assert response.json()["detail"].startswith(f"Could not remove huggingface/{QWEN}")
