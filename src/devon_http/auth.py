"""Bearer-token auth for the /api routes, when an API key is configured."""

import hmac

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.types import Guard

UNAUTHORIZED_DETAIL = "Invalid or missing API key"
SECURITY_SCHEME = "BearerAuth"


UNAUTHORIZED_HEADERS = {"WWW-Authenticate": "Bearer"}
OPEN_PATHS = ("/health", "/schema", "/ui")
"""Paths (and everything below them) that never need the key: /ui holds the web page's
assets (the page itself is `/`)."""


def is_authorized(authorization: str, api_key: str | None) -> bool:
    """Whether an `Authorization` header value carries `Bearer <api_key>`; always true when
    no key is configured. Compared in time independent of where the tokens differ."""
    if not api_key:
        return True
    scheme, _sep, token = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), api_key.encode()
    )


def is_open_path(path: str) -> bool:
    return any(path == open_path or path.startswith(f"{open_path}/") for open_path in OPEN_PATHS)


def bearer_guard(api_key: str) -> Guard:
    """A guard admitting only requests carrying `Authorization: Bearer <api_key>`."""

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        if not is_authorized(connection.headers.get("authorization", ""), api_key):
            raise NotAuthorizedException(detail=UNAUTHORIZED_DETAIL, headers=UNAUTHORIZED_HEADERS)

    return guard
