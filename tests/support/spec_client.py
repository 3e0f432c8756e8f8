"""A small client for the DEVON REST API, written from the spec alone
(DEVON 1.x's REST API reference, restated in docs/http-api.md).

It knows the routes, the query parameters and the request bodies of the spec, and nothing
of DEVON's code. Every answer is checked for the one thing the spec promises of all of
them: a 2xx answer is a JSON object, and any other answer is exactly
`{"detail": "<string>"}` (raised as `SpecError`). A body that breaks that promise raises
`SpecViolation` (an `AssertionError`, so a test fails on it).

Response types are `TypedDict`s copied from the spec's examples; the client casts to them
after the envelope check, and `test_spec_client.py` checks every field's type.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any, Literal, TypedDict, cast
from urllib.parse import quote

import httpx

# Downloads run synchronously ("set long client timeouts").
DEFAULT_TIMEOUT_S = 60.0


class SpecError(Exception):
    """A non-2xx answer whose body is exactly `{"detail": <str>}`."""

    def __init__(self, status: int, detail: str, headers: httpx.Headers | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.headers = headers if headers is not None else httpx.Headers()


class SpecViolation(AssertionError):
    """An answer whose envelope is not what the spec allows."""


# --- response shapes (field names from the spec's examples) --------------------------------


class Health(TypedDict):
    status: str
    version: str


class SearchResult(TypedDict):
    source: str
    model_id: str
    model_name: str
    author: str | None
    total_size_bytes: int
    file_count: int
    parameter_count: float | None
    architecture: str | None
    format: list[str]
    quantization: str | None
    tags: list[str]
    license: str | None
    downloads: int
    likes: int
    created_at: str
    updated_at: str
    web_url: str
    repo_url: str


class SearchResponse(TypedDict):
    query: str | None
    source: str
    count: int
    results: list[SearchResult]


class LocalModel(TypedDict):
    source: str
    model_id: str
    path: str
    size_bytes: int
    downloaded_at: str
    last_used: str | None
    files: list[str]
    metadata: dict[str, Any]


class ModelList(TypedDict):
    count: int
    models: list[LocalModel]


class ModelInfo(TypedDict):
    local: LocalModel | None
    remote: SearchResult | None


class DeleteResult(TypedDict):
    deleted: bool
    model_id: str
    source: str


class DownloadResult(TypedDict):
    model_id: str
    source: str
    path: str
    files: list[str]
    size_bytes: int


class SourceStats(TypedDict):
    count: int
    size_bytes: int


class Status(TypedDict):
    model_count: int
    total_size_bytes: int
    storage_path: str
    sources: dict[str, SourceStats]


class CleanResult(TypedDict):
    removed: int
    freed_bytes: int
    dry_run: bool
    models: list[str]


class ExportedModel(TypedDict):
    source: str
    model_id: str
    path: str
    size_bytes: int
    downloaded_at: str
    files: list[str]


class ExportResult(TypedDict):
    format: str
    count: int
    # `kitt`: a list of paths; `json`: a list of ExportedModel objects.
    content: list[Any]


ExportFormat = Literal["kitt", "json"]


# --- the client ------------------------------------------------------------------------------


class SpecClient:
    """`SpecClient("http://127.0.0.1:8000", api_key="...")`; use as a context manager."""

    def __init__(
        self, base_url: str, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT_S
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key is not None else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SpecClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Low level: any request, envelope checked. Public so tests can send malformed input.
    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if content is not None:
            kwargs["content"] = content
        elif json_body is not None:
            kwargs["json"] = json_body
        response = self._http.request(method, path, **kwargs)
        return _checked(response)

    # GET /health
    def health(self) -> Health:
        return cast(Health, self.request("GET", "/health"))

    # GET /api/v1/search
    def search(
        self,
        query: str | None = None,
        *,
        source: str | None = None,
        provider: str | None = None,
        params: str | None = None,
        size: str | None = None,
        format: str | None = None,
        task: str | None = None,
        license: str | None = None,
        limit: int | None = None,
    ) -> SearchResponse:
        given: dict[str, str | int | None] = {
            "query": query,
            "source": source,
            "provider": provider,
            "params": params,
            "size": size,
            "format": format,
            "task": task,
            "license": license,
            "limit": limit,
        }
        query_params = {k: v for k, v in given.items() if v is not None}
        return cast(SearchResponse, self.request("GET", "/api/v1/search", params=query_params))

    # GET /api/v1/models
    def list_models(self, source: str | None = None) -> ModelList:
        params: dict[str, str | int] | None = {"source": source} if source is not None else None
        return cast(ModelList, self.request("GET", "/api/v1/models", params=params))

    # GET /api/v1/models/{source}/{model_id}
    def get_model(self, source: str, model_id: str) -> ModelInfo:
        return cast(ModelInfo, self.request("GET", _model_path(source, model_id)))

    # DELETE /api/v1/models/{source}/{model_id}
    def delete_model(self, source: str, model_id: str) -> DeleteResult:
        return cast(DeleteResult, self.request("DELETE", _model_path(source, model_id)))

    # POST /api/v1/downloads (fields left as None are not sent: the server's defaults apply)
    def download(
        self,
        model_id: str,
        *,
        source: str | None = None,
        force: bool | None = None,
        include_patterns: list[str] | None = None,
    ) -> DownloadResult:
        body: dict[str, Any] = {"model_id": model_id}
        if source is not None:
            body["source"] = source
        if force is not None:
            body["force"] = force
        if include_patterns is not None:
            body["include_patterns"] = include_patterns
        return cast(DownloadResult, self.request("POST", "/api/v1/downloads", json_body=body))

    # GET /api/v1/status
    def status(self) -> Status:
        return cast(Status, self.request("GET", "/api/v1/status"))

    # POST /api/v1/clean (fields left as None are not sent; `all_` is the body's `all`)
    def clean(
        self,
        *,
        unused: bool | None = None,
        days: int | None = None,
        all_: bool | None = None,
        dry_run: bool | None = None,
    ) -> CleanResult:
        given = {"unused": unused, "days": days, "all": all_, "dry_run": dry_run}
        body = {k: v for k, v in given.items() if v is not None}
        return cast(CleanResult, self.request("POST", "/api/v1/clean", json_body=body))

    # POST /api/v1/export
    def export(self, format: str | None = None) -> ExportResult:
        body = {"format": format} if format is not None else {}
        return cast(ExportResult, self.request("POST", "/api/v1/export", json_body=body))


def _model_path(source: str, model_id: str) -> str:
    # `model_id` keeps its `/` (`owner/name`); anything else unusual is percent-encoded.
    return f"/api/v1/models/{quote(source, safe='')}/{quote(model_id, safe='/')}"


def _checked(response: httpx.Response) -> dict[str, Any]:
    where = f"{response.request.method} {response.request.url}"
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        raise SpecViolation(
            f"{where}: {response.status_code} with content-type {content_type!r}, "
            f"body {response.text[:300]!r}"
        )
    try:
        body = response.json()
    except json.JSONDecodeError as exc:
        raise SpecViolation(f"{where}: body is not JSON: {response.text[:300]!r}") from exc
    if not isinstance(body, dict):
        raise SpecViolation(f"{where}: body is not a JSON object: {body!r}")
    if response.is_success:
        return cast(dict[str, Any], body)
    if set(body) != {"detail"} or not isinstance(body["detail"], str):
        raise SpecViolation(
            f'{where}: {response.status_code} error body is not exactly {{"detail": str}}: {body!r}'
        )
    raise SpecError(response.status_code, body["detail"], response.headers)
