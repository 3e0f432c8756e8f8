"""Bearer-token auth for the /api routes, when an API key is configured."""

import hmac

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.types import Guard

UNAUTHORIZED_DETAIL = "Invalid or missing API key"
SECURITY_SCHEME = "BearerAuth"


def bearer_guard(api_key: str) -> Guard:
    """A guard admitting only requests carrying `Authorization: Bearer <api_key>`."""
    expected = api_key.encode()

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        scheme, _sep, token = connection.headers.get("authorization", "").partition(" ")
        # compare_digest runs in time independent of where the strings differ.
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
            raise NotAuthorizedException(
                detail=UNAUTHORIZED_DETAIL, headers={"WWW-Authenticate": "Bearer"}
            )

    return guard
