"""The search filters are declared once (`SearchFilters` fields, ADR 0195): the CLI's
options, the HTTP query parameters and their OpenAPI documentation all come from there."""

from litestar.testing import TestClient

from devon_cli.search import search
from devon_core import SearchFilters
from devon_http import create_app
from tests.support.http_support import fake_devon

DECLARED = [d.name for d in SearchFilters.declarations()]


def test_the_declared_filters_are_every_field_of_search_filters() -> None:
    assert DECLARED == ["provider", "params", "size", "format", "task", "license", "quant"]


def test_devon_search_offers_one_option_per_declared_filter_with_its_help() -> None:
    options = {p.name: p for p in search.params if p.name in DECLARED}
    assert list(options) == DECLARED
    for declaration in SearchFilters.declarations():
        option = options[declaration.name]
        assert option.opts == [f"--{declaration.name}"]
        assert (option.metavar, option.help) == (declaration.metavar, declaration.help)


def test_the_search_endpoint_documents_one_query_parameter_per_declared_filter() -> None:
    with TestClient(create_app(fake_devon())) as client:
        document = client.get("/schema/openapi.json").json()
    parameters = document["paths"]["/api/v1/search"]["get"]["parameters"]
    documented = {p["name"]: p for p in parameters if p["name"] in DECLARED}
    assert sorted(documented) == sorted(DECLARED)
    for declaration in SearchFilters.declarations():
        parameter = documented[declaration.name]
        assert parameter["in"] == "query"
        assert parameter["required"] is False
        assert parameter["description"] == declaration.description


def test_the_search_endpoint_passes_the_declared_filters_to_the_source() -> None:
    with TestClient(create_app(fake_devon())) as client:
        answer = client.get(
            "/api/v1/search", params={"provider": "qwen", "task": "text-generation"}
        )
    assert answer.status_code == 200
    assert [m["model_id"] for m in answer.json()["results"]] == ["Qwen/Qwen2.5-7B-Instruct"]
