"""Unknown paths under `/schema` answered as every other unknown path: 401 first when the
server has a key and the request does not carry it, else 404 `{"detail"}`. Litestar's
OpenAPI router would answer them itself with an HTML page, whatever the key."""

from collections.abc import Collection

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from devon_http.auth import UNAUTHORIZED_DETAIL, UNAUTHORIZED_HEADERS, is_authorized
from devon_http.errors import not_found_detail
from devon_http.guard import refuse

SCHEMA_PREFIX = "/schema"


def answer_unknown_schema_paths(
    router: ASGIApp, document_paths: Collection[str], api_key: str | None
) -> ASGIApp:
    """`router`, with every path under /schema but `document_paths` (the document's own,
    `/schema` included) refused before routing. Sits inside the request guard."""
    known = {p.rstrip("/") for p in document_paths}
    unauthorized = [(k.lower().encode(), v.encode()) for k, v in UNAUTHORIZED_HEADERS.items()]

    async def answering(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] == ScopeType.HTTP
            and path.startswith(f"{SCHEMA_PREFIX}/")
            and path.rstrip("/") not in known
        ):
            await _unknown(scope, path, api_key, unauthorized, send)
            return
        await router(scope, receive, send)

    return answering


async def _unknown(
    scope: Scope,
    path: str,
    api_key: str | None,
    unauthorized: list[tuple[bytes, bytes]],
    send: Send,
) -> None:
    authorization = next(
        (v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"authorization"),
        "",
    )
    if not is_authorized(authorization, api_key):
        await refuse(401, UNAUTHORIZED_DETAIL, send, unauthorized)
        return
    await refuse(404, not_found_detail(path), send)
