"""Bearer-token auth for the /api routes, when an API key is configured."""

import hmac
import re

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


BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*)")
"""RFC 6750 section 2.1: `Bearer`, any case, then one or more spaces, then a b64token."""


def is_authorized(authorization: str, api_key: str | None) -> bool:
    """Whether an `Authorization` header value is exactly `Bearer <api_key>` (RFC 6750: no
    other whitespace, no other characters); always true when no key is configured.
    Compared in time independent of where the tokens differ."""
    if not api_key:
        return True
    match = BEARER.fullmatch(authorization)
    token = match.group(1) if match else ""
    return hmac.compare_digest(token.encode(), api_key.encode()) and bool(match)


def is_open_path(path: str) -> bool:
    return any(path == open_path or path.startswith(f"{open_path}/") for open_path in OPEN_PATHS)


def bearer_guard(api_key: str) -> Guard:
    """A guard admitting only requests carrying `Authorization: Bearer <api_key>`."""

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        if not is_authorized(connection.headers.get("authorization", ""), api_key):
            raise NotAuthorizedException(detail=UNAUTHORIZED_DETAIL, headers=UNAUTHORIZED_HEADERS)

    return guard
