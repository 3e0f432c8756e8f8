"""The one table from errors to HTTP responses: every error body is exactly {"detail": str}."""

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ServiceUnavailableException,
    ValidationException,
)
from litestar.handlers import HTTPRouteHandler
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from devon_core.errors import (
    Conflict,
    DevonError,
    DownloadFailed,
    Forbidden,
    InsufficientStorage,
    InvalidInput,
    InvalidRequest,
    NotFound,
    RemovalFailed,
    SourceUnavailable,
    StoreUnavailable,
    TooManyJobs,
)
from devon_http.auth import (
    UNAUTHORIZED_DETAIL,
    UNAUTHORIZED_HEADERS,
    is_authorized,
    is_open_path,
)
from devon_http.body import MAX_BODY_BYTES
from devon_http.request_log import escape_control

log = logging.getLogger("devon.http")

STATUS_OF: dict[type[DevonError], int] = {
    InvalidRequest: 422,
    InvalidInput: 400,
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
    SourceUnavailable: 502,
    DownloadFailed: 500,
    RemovalFailed: 500,
    InsufficientStorage: 507,
    StoreUnavailable: 503,
    TooManyJobs: 429,
}
"""Core error -> status. Looked up along the error's class hierarchy, most specific first."""

DESCRIPTION_OF: dict[int, str] = {
    400: "Malformed input: bad JSON, bad query value, unknown source, invalid model id or glob",
    401: "Missing or invalid API key (only when the server has one)",
    403: "The source refuses access to the model (gated or private)",
    404: "Not found",
    409: "The download job is not in a state that allows this (or was cancelled while the "
    "request waited for it)",
    413: "Request body too large",
    422: "A well-formed JSON body whose values fail validation",
    429: "Too many download jobs are queued (DEVON_MAX_QUEUED_JOBS): try again after the "
    "seconds in Retry-After",
    500: "The download or removal failed (the vault is left as it was), or an internal error",
    502: "The source could not be reached or answered garbage",
    503: "The vault's index database cannot be reached (nothing was changed), too many event "
    "streams are open (DEVON_MAX_EVENT_STREAMS), or the server is stopping",
    507: "Not enough free disk space or storage quota",
}
"""What each error status means, for the OpenAPI document."""

INTERNAL_ERROR_DETAIL = "Internal server error: the failure is logged on the server"


def error_response(
    status_code: int, detail: str, headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        {"detail": detail}, status_code=status_code, media_type=MediaType.JSON, headers=headers
    )


def status_of(error: DevonError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return HTTP_500_INTERNAL_SERVER_ERROR


def handle_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """Litestar's handler for every exception, so that no other error shape can escape."""
    if isinstance(error, DevonError):
        retry = error.retry_after_s if isinstance(error, TooManyJobs) else None
        headers = {"Retry-After": str(retry)} if retry is not None else None
        return error_response(status_of(error), str(error), headers)
    if isinstance(error, HTTPException):
        return _http_error(request, error)
    log.exception(
        "Unhandled error on %s %s",
        escape_control(request.method),
        escape_control(request.url.path),
        exc_info=error,
    )
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, INTERNAL_ERROR_DETAIL)


def _http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    headers = dict(error.headers or {})
    routing_error = isinstance(error, MethodNotAllowedException | NotFoundException)
    if routing_error and not _may_see_routes(request):
        return error_response(401, UNAUTHORIZED_DETAIL, UNAUTHORIZED_HEADERS)
    if isinstance(error, MethodNotAllowedException):
        allowed = headers.get("allow") or headers.get("Allow")
        detail = f"Method {request.method} is not allowed on {request.url.path}"
        detail += f"; allowed: {allowed}" if allowed else ""
    elif isinstance(error, NotFoundException):
        detail = not_found_detail(request.url.path)
    elif isinstance(error, ValidationException):
        detail = _validation_detail(error)
    elif error.status_code == 413:
        detail = f"Request body too large: at most {_size(_body_limit(request))} is accepted"
    elif isinstance(error, ServiceUnavailableException):
        detail = str(error.detail)  # said on purpose (the server is stopping): no secret
    elif error.status_code >= 500:
        log.error(
            "%s on %s %s: %s",
            error.status_code,
            escape_control(request.method),
            escape_control(request.url.path),
            escape_control(str(error)),
        )
        detail = INTERNAL_ERROR_DETAIL
    else:
        detail = str(error.detail)
    return error_response(error.status_code, detail, headers or None)


def _body_limit(request: Request[Any, Any, Any]) -> int:
    """The body limit of the route `request` went to (the heartbeat's is larger than the
    others'), else the API's."""
    handler = request.scope.get("route_handler")
    limit = (
        handler.resolve_request_max_body_size() if isinstance(handler, HTTPRouteHandler) else None
    )
    return limit or MAX_BODY_BYTES


def _size(count: int) -> str:
    """An exact size in the unit that says it shortest: `64 KiB`, `32 MiB`."""
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if count % factor == 0:
            return f"{count // factor} {unit}"
    return f"{count} bytes"


def not_found_detail(path: str) -> str:
    return f"No endpoint at {path}: the API is described at /schema"


def _may_see_routes(request: Request[Any, Any, Any]) -> bool:
    """With an API key set, only an authorised caller learns which routes and methods exist:
    every path but the open ones needs the key, including paths that lead nowhere."""
    api_key = request.app.state.get("api_key")
    return is_open_path(request.url.path) or is_authorized(
        request.headers.get("authorization", ""), api_key
    )


def _validation_detail(error: ValidationException) -> str:
    """Litestar raises this for a query or path value it cannot convert (`limit=abc`)."""
    problems = (
        [p for p in error.extra if isinstance(p, dict)] if isinstance(error.extra, list) else []
    )
    if any(p.get("key") == "data" for p in problems):
        return "Request body is missing: send a JSON object (see /schema)"
    parts = [
        f"{_source_of(p)} parameter {p.get('key')!r}: {str(p.get('message', '')).replace('`', '')}"
        for p in problems
        if p.get("key")
    ]
    return "Invalid " + "; ".join(parts) if parts else f"Invalid request: {error.detail}"


def _source_of(problem: dict[str, Any]) -> str:
    source = problem.get("source") or ""
    return str(getattr(source, "value", source)) or "request"
