"""The OpenAPI document Litestar generates describes the API truthfully, and schemathesis,
driving the app from that document, finds no server error and no response off the schema."""

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from litestar.testing import TestClient
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from devon_http import create_app
from tests.contract.http_support import QWEN, fake_devon

ERROR_SCHEMA = {
    "properties": {"detail": {"type": "string"}},
    "type": "object",
    "required": ["detail"],
    "title": "ErrorBody",
}

OPERATIONS = {
    ("/health", "get"): set(),
    ("/api/v1/search", "get"): {400, 401, 403, 502},
    ("/api/v1/models", "get"): {400, 401},
    ("/api/v1/models/{source}/{model_id}", "get"): {400, 401, 403, 404, 502},
    ("/api/v1/models/{source}/{model_id}", "delete"): {400, 401, 404},
    ("/api/v1/downloads", "post"): {400, 401, 403, 404, 409, 413, 422, 500, 502, 507},
    ("/api/v1/downloads", "get"): {400, 401},
    ("/api/v1/downloads/{job_id}", "get"): {400, 401, 404},
    ("/api/v1/downloads/{job_id}", "delete"): {400, 401, 404, 409},
    ("/api/v1/downloads/{job_id}/events", "get"): {400, 401, 404},
    ("/api/v1/downloads/{job_id}/restart", "post"): {400, 401, 404, 409},
    ("/api/v1/status", "get"): {401},
    ("/api/v1/space", "get"): {401},
    ("/api/v1/clean", "post"): {400, 401, 413, 422},
    ("/api/v1/scan", "post"): {400, 401, 413, 422},
    ("/api/v1/export", "post"): {400, 401, 413, 422},
    ("/api/v1/adopt", "post"): {400, 401, 404, 413, 422},
}
"""Each operation and the error statuses it documents."""


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    with TestClient(create_app(fake_devon())) as client:
        response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    found: dict[str, Any] = document["paths"][path][method]
    return found


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        resolved: dict[str, Any] = document["components"]["schemas"][name]
        return resolved
    return schema


def test_the_document_lists_every_endpoint_and_nothing_else(document: dict[str, Any]) -> None:
    listed = {(path, method) for path, item in document["paths"].items() for method in item}
    assert listed == set(OPERATIONS)


@pytest.mark.parametrize(("path", "method"), sorted(OPERATIONS))
def test_each_operation_documents_its_errors_as_a_detail_object(
    document: dict[str, Any], path: str, method: str
) -> None:
    responses = operation(document, path, method)["responses"]
    errors = {int(code) for code in responses if int(code) >= 400}
    assert errors == OPERATIONS[(path, method)]
    for code in errors:
        schema = responses[str(code)]["content"]["application/json"]["schema"]
        assert resolve(document, schema) == ERROR_SCHEMA


NOT_JSON_200 = {
    ("/api/v1/downloads/{job_id}/events", "get"),
    ("/api/v1/downloads/{job_id}/restart", "post"),
}
"""The event stream answers text/event-stream; a restart answers 202 with the new job."""


@pytest.mark.parametrize(("path", "method"), sorted(set(OPERATIONS) - NOT_JSON_200))
def test_each_operation_documents_a_200_json_response(
    document: dict[str, Any], path: str, method: str
) -> None:
    success = operation(document, path, method)["responses"]["200"]
    assert "schema" in success["content"]["application/json"]


def test_the_event_stream_documents_its_media_type(document: dict[str, Any]) -> None:
    success = operation(document, "/api/v1/downloads/{job_id}/events", "get")["responses"]["200"]
    assert list(success["content"]) == ["text/event-stream"]


def test_a_restart_and_a_download_without_waiting_document_202_with_the_job(
    document: dict[str, Any],
) -> None:
    for path in ("/api/v1/downloads/{job_id}/restart", "/api/v1/downloads"):
        accepted = operation(document, path, "post")["responses"]["202"]
        job = resolve(document, accepted["content"]["application/json"]["schema"])
        assert {"id", "status", "bytes_done", "result"} <= set(job["properties"])


def test_search_documents_each_query_parameter_with_its_default(
    document: dict[str, Any],
) -> None:
    parameters = {p["name"]: p for p in operation(document, "/api/v1/search", "get")["parameters"]}
    assert set(parameters) == {
        "query",
        "source",
        "provider",
        "params",
        "size",
        "format",
        "task",
        "license",
        "quant",  # additive (ADR 0170)
        "limit",
    }
    assert all(p["in"] == "query" and not p["required"] for p in parameters.values())
    limit = parameters["limit"]["schema"]
    assert (limit["type"], limit["default"], limit["minimum"], limit["maximum"]) == (
        "integer",
        20,
        1,
        200,
    )
    assert parameters["source"]["schema"]["default"] == "huggingface"


def test_model_routes_document_source_and_model_id_as_path_parameters(
    document: dict[str, Any],
) -> None:
    for method in ("get", "delete"):
        parameters = operation(document, "/api/v1/models/{source}/{model_id}", method)["parameters"]
        assert {(p["name"], p["in"], p["required"]) for p in parameters} == {
            ("source", "path", True),
            ("model_id", "path", True),
        }


def request_schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    body = operation(document, path, "post")["requestBody"]
    assert body["required"] is True
    return resolve(document, body["content"]["application/json"]["schema"])


def test_download_documents_its_body_fields_and_defaults(document: dict[str, Any]) -> None:
    schema = request_schema(document, "/api/v1/downloads")
    assert schema["required"] == ["model_id"]
    properties = schema["properties"]
    assert set(properties) == {"model_id", "source", "force", "include_patterns", "wait"}
    assert properties["source"]["default"] == "huggingface"
    assert properties["force"]["default"] is False
    assert properties["wait"]["default"] is True


def test_clean_documents_its_body_fields_and_defaults(document: dict[str, Any]) -> None:
    properties = request_schema(document, "/api/v1/clean")["properties"]
    defaults = {name: field.get("default") for name, field in properties.items()}
    assert defaults == {
        "unused": False,
        "days": 30,
        "all": False,
        "dry_run": False,
        "partial": False,  # additive (ADR 0173)
    }
    assert properties["days"]["minimum"] == 0


def test_export_documents_its_formats(document: dict[str, Any]) -> None:
    schema = request_schema(document, "/api/v1/export")
    format_schema = resolve(document, schema["properties"]["format"])
    assert sorted(format_schema["enum"]) == ["json", "kitt"]


def test_export_documents_both_response_shapes(document: dict[str, Any]) -> None:
    success = operation(document, "/api/v1/export", "post")["responses"]["200"]
    shapes = success["content"]["application/json"]["schema"]["oneOf"]
    tags = {resolve(document, s)["properties"]["format"]["const"] for s in shapes}
    assert tags == {"kitt", "json"}


NOT_CHECKED = [positive_data_acceptance, negative_data_rejection]
"""Schema-valid strings can still be unusable (`size=huge`, an unknown source), which the API
answers 400 by contract; and unknown or repeated query parameters are ignored, as most HTTP
APIs do, where schemathesis expects a rejection. The tests of test_http_endpoints.py pin
down which input is refused with which status."""

schema = schemathesis.openapi.from_asgi(
    "/schema/openapi.json", create_app(fake_devon(local=[QWEN, "acme/widget-7b"]))
)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_no_server_error_and_responses_match_the_schema(
    case: Any,
) -> None:
    case.call_and_validate(excluded_checks=NOT_CHECKED)


secured_schema = schemathesis.openapi.from_asgi(
    "/schema/openapi.json", create_app(fake_devon(local=[QWEN]), api_key="fuzz-key")
)


@secured_schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_with_the_api_key_get_no_server_error(case: Any) -> None:
    case.call_and_validate(
        headers={"Authorization": "Bearer fuzz-key"}, excluded_checks=NOT_CHECKED
    )
