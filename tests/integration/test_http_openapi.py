"""The OpenAPI document describes the API truthfully: every operation, its errors, and the
constraints the server enforces (schemathesis checks the whole of it: see
test_http_schemathesis.py)."""

import re
from typing import Any

import pytest
from litestar.testing import TestClient

from devon_http import create_app
from tests.support.http_support import fake_devon

ERROR_SCHEMA = {
    "properties": {"detail": {"type": "string"}},
    "type": "object",
    "required": ["detail"],
    "title": "ErrorBody",
}

OPERATIONS = {
    ("/health", "get"): {400, 403},
    ("/api/v1/search", "get"): {400, 401, 403, 502},
    ("/api/v1/models", "get"): {400, 401, 403},
    ("/api/v1/models/{source}/{model_id}", "get"): {400, 401, 403, 404, 502},
    ("/api/v1/models/{source}/{model_id}", "delete"): {400, 401, 403, 404, 500},
    ("/api/v1/downloads", "post"): {
        *(400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 502, 503, 507)
    },
    ("/api/v1/downloads", "get"): {400, 401, 403, 404},
    ("/api/v1/downloads/{job_id}", "get"): {400, 401, 403, 404},
    ("/api/v1/downloads/{job_id}", "delete"): {400, 401, 403, 404, 409},
    ("/api/v1/downloads/{job_id}/events", "get"): {400, 401, 403, 404, 503},
    ("/api/v1/downloads/{job_id}/restart", "post"): {400, 401, 403, 404, 409, 429},
    ("/api/v1/status", "get"): {400, 401, 403},
    ("/api/v1/space", "get"): {400, 401, 403},
    ("/api/v1/sources", "get"): {400, 401, 403},
    ("/api/v1/clean", "post"): {400, 401, 403, 413, 415, 422},
    ("/api/v1/scan", "post"): {400, 401, 403, 413, 415, 422},
    ("/api/v1/export", "post"): {400, 401, 403, 413, 415, 422},
    ("/api/v1/adopt", "post"): {400, 401, 403, 404, 413, 415, 422},
    ("/api/v1/hosts", "get"): {400, 401, 403},
    ("/api/v1/hosts/{name}/heartbeat", "post"): {400, 401, 403, 413, 415, 422},
    ("/api/v1/placements", "get"): {400, 401, 403},
    ("/api/v1/placements", "put"): {400, 401, 403, 413, 415, 422},
    ("/api/v1/placements", "delete"): {400, 401, 403, 404},
    ("/api/v1/models/ensure", "post"): {400, 401, 403, 413, 415, 422},
    ("/api/v1/peers", "get"): {400, 401, 403},
}
"""Each operation and the error statuses it documents: 400 (a Host not allowed), 403 (a
foreign Origin) and, with a body, 415 (not JSON) come from the request guard."""


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
    return resolve(document, body["content"]["application/json"]["schema"])


def test_download_requires_a_body_and_clean_and_export_do_not(document: dict[str, Any]) -> None:
    required = {
        path: operation(document, path, "post")["requestBody"]["required"]
        for path in ("/api/v1/downloads", "/api/v1/clean", "/api/v1/export")
    }
    assert required == {"/api/v1/downloads": True, "/api/v1/clean": False, "/api/v1/export": False}


def test_model_ids_are_documented_with_their_pattern(document: dict[str, Any]) -> None:
    body = request_schema(document, "/api/v1/downloads")["properties"]["model_id"]
    [path] = [
        p["schema"]
        for p in operation(document, "/api/v1/models/{source}/{model_id}", "get")["parameters"]
        if p["name"] == "model_id"
    ]
    for schema in (body, path):
        pattern = re.compile(schema["pattern"])
        assert pattern.search("Qwen/Qwen2.5-7B-Instruct")
        assert pattern.search("gpt2")
        for bad in ["", "0/0/0", "a..b", "a--b", "-a", "a.", "a b", "/a"]:
            assert not pattern.search(bad), bad
        assert schema["maxLength"] == 96


def test_sources_are_documented_as_the_servers_own(document: dict[str, Any]) -> None:
    download = request_schema(document, "/api/v1/downloads")["properties"]["source"]
    assert download["enum"] == ["huggingface"]
    for path, method in [("/api/v1/search", "get"), ("/api/v1/models", "get")]:
        [source] = [
            p for p in operation(document, path, method)["parameters"] if p["name"] == "source"
        ]
        assert source["schema"]["enum"] == ["huggingface"]


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("params", ["7b", "<=8B", " 500m ", ""], ["0b", "7", "huge", "=<7b"]),
        ("size", ["<100gb", ">=2.5TB", "1b", ""], ["=1gb", "100", "big"]),
        ("format", ["gguf", " SafeTensors ", ""], ["exe", "gguf2"]),
    ],
)
def test_search_filters_are_documented_with_their_grammar(
    document: dict[str, Any], name: str, good: list[str], bad: list[str]
) -> None:
    [parameter] = [
        p for p in operation(document, "/api/v1/search", "get")["parameters"] if p["name"] == name
    ]
    pattern = re.compile(parameter["schema"]["pattern"])
    assert all(pattern.search(text) for text in good)
    assert not any(pattern.search(text) for text in bad)


def test_a_download_links_to_its_model(document: dict[str, Any]) -> None:
    links = operation(document, "/api/v1/downloads", "post")["responses"]["200"]["links"]
    assert {link["parameters"]["model_id"] for link in links.values()} == {
        "$response.body#/model_id"
    }


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
        "source": None,  # additive (ADR 0210)
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
