"""`/` answers the page, `/ui/<file>` its assets. Neither needs the API key: they hold no
vault data, and a browser cannot send a bearer token when it opens a page (ADR 0140)."""

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter

from devon_web.assets import Asset, content_security_policy, load_assets, load_page

ASSET_PREFIX = "/ui"


def _answer(
    request: Request[Any, Any, Any], asset: Asset, headers: dict[str, str]
) -> Response[Any]:
    common = {"ETag": asset.etag, "Cache-Control": "no-cache", **headers}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(b"", status_code=304, headers=common)
    return Response(asset.body, media_type=asset.content_type, headers=common)


def page_routes(frame_ancestors: tuple[str, ...] = ()) -> list[Any]:
    """The page's handlers; `frame_ancestors` are the origins allowed to frame it."""
    page = load_page()
    assets = load_assets()
    page_headers = {
        "Content-Security-Policy": content_security_policy(frame_ancestors),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }

    @get("/", include_in_schema=False)
    async def index(request: Request[Any, Any, Any]) -> Response[Any]:
        return _answer(request, page, page_headers)

    @get(f"{ASSET_PREFIX}/{{name:path}}", include_in_schema=False)
    async def asset(
        request: Request[Any, Any, Any], name: Annotated[str, PathParameter()]
    ) -> Response[Any]:
        found = assets.get(name.removeprefix("/"))
        if found is None:
            raise NotFoundException(f"No file {name.removeprefix('/')!r} in the page's assets")
        return _answer(request, found, {"X-Content-Type-Options": "nosniff"})

    return [index, asset]
