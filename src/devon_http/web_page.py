"""The web page's routes: `/` answers the page, `/ui/<file>` its assets. Neither needs the
API key: they hold no vault data, and a browser cannot send a bearer token when it opens a
page (ADR 0140).

The files are the `devon_web` package's (static files only), read once as package resources
and kept with their ETags. The HTML has one inline script, exactly
`window.__DEVON_BASE_URL__=""`: a reverse proxy that serves DEVON under a path prefix
rewrites that literal, and the page builds every other URL (assets and API) from it. The
page's Content-Security-Policy allows that script by hash."""

import base64
import hashlib
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Annotated, Any

import attrs
from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter

from devon_http.guard import frame_ancestors_directive

WEB_PACKAGE = "devon_web"
"""The package holding the page's files, under `static/`."""

ASSET_PREFIX = "/ui"

BASE_URL_SCRIPT = 'window.__DEVON_BASE_URL__=""'
"""The one inline script; KITT's proxy rewrites this exact text."""

CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


@attrs.frozen
class Asset:
    name: str
    body: bytes
    content_type: str
    etag: str


def _asset(name: str, body: bytes) -> Asset:
    suffix = name[name.rfind(".") :]
    digest = hashlib.sha256(body).hexdigest()[:32]
    return Asset(name=name, body=body, content_type=CONTENT_TYPES[suffix], etag=f'"{digest}"')


def _static() -> Traversable:
    return files(WEB_PACKAGE) / "static"


def load_assets() -> dict[str, Asset]:
    """Every served file under `static/` (but the page itself) by its path below it."""
    found: dict[str, Asset] = {}

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            name = f"{prefix}{entry.name}"
            if entry.is_dir():
                walk(entry, f"{name}/")
            elif name != "index.html" and entry.name[entry.name.rfind(".") :] in CONTENT_TYPES:
                found[name] = _asset(name, entry.read_bytes())

    walk(_static(), "")
    return found


def load_page() -> Asset:
    body = (_static() / "index.html").read_bytes()
    if body.count(f"<script>{BASE_URL_SCRIPT}</script>".encode()) != 1:
        raise RuntimeError("index.html must hold the base URL script exactly once")
    return _asset("index.html", body)


def script_hash(script: str = BASE_URL_SCRIPT) -> str:
    """The CSP source that allows exactly this inline script."""
    digest = hashlib.sha256(script.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def content_security_policy(frame_ancestors: tuple[str, ...]) -> str:
    """The page's policy: its own origin only, the base URL script by hash, framing only by
    `frame_ancestors` (none when empty)."""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {script_hash()}",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            frame_ancestors_directive(frame_ancestors),
        ]
    )


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
