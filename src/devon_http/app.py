"""`create_app`: the Litestar application serving a `Devon` over the documented HTTP API."""

from collections.abc import Mapping

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from devon_adapters.version import devon_version
from devon_core import Devon
from devon_http.auth import SECURITY_SCHEME, bearer_guard
from devon_http.body import MAX_BODY_BYTES
from devon_http.document import JsonDocument, YamlDocument
from devon_http.errors import handle_error
from devon_http.guard import HttpSecurity, RequestGuard
from devon_http.routes import API_ROUTES, health

API_PREFIX = "/api/v1"
DEFAULT_MAX_DOWNLOADS = 8
"""Downloads running at once per server process; more wait their turn. They have their own
thread limiter so that they never take the threads the other endpoints need."""


def create_app(
    devon: Devon,
    *,
    api_key: str | None = None,
    max_concurrent_downloads: int = DEFAULT_MAX_DOWNLOADS,
    security: HttpSecurity | None = None,
) -> Litestar:
    """The HTTP API over `devon`. With a non-empty `api_key`, every /api route needs
    `Authorization: Bearer <api_key>`; /health and the OpenAPI document at /schema never do.

    `security` says which `Host` names, browser origins and framing pages are allowed
    (`devon_http.guard`); by default any host, no foreign origin, no framing."""
    secured = bool(api_key)
    api = Router(
        API_PREFIX,
        route_handlers=API_ROUTES,
        guards=[bearer_guard(api_key)] if api_key else None,
        security=[{SECURITY_SCHEME: []}] if secured else None,
    )

    app = Litestar(
        route_handlers=[health, api],
        dependencies={"devon": Provide(lambda: devon, sync_to_thread=False, use_cache=True)},
        exception_handlers={Exception: handle_error},
        request_max_body_size=MAX_BODY_BYTES,
        state=State(
            {
                "devon": devon,
                "api_key": api_key or None,
                "max_concurrent_downloads": max_concurrent_downloads,
            }
        ),
        openapi_config=_openapi_config(secured),
        # Logging is the host's business (`serve` sets up DEVON's); Litestar's default would
        # reconfigure the root logger of whatever process builds the app.
        logging_config=None,
    )
    # Around Litestar's whole router (as its own CORS middleware sits), so that unknown
    # routes and wrong methods are guarded and carry the security headers too.
    app.asgi_handler = RequestGuard(app.asgi_handler, security or HttpSecurity())
    return app


def _openapi_config(secured: bool) -> OpenAPIConfig:
    schemes: Mapping[str, SecurityScheme] = (
        {
            SECURITY_SCHEME: SecurityScheme(
                type="http", scheme="bearer", description="The server's DEVON_API_KEY"
            )
        }
        if secured
        else {}
    )
    return OpenAPIConfig(
        title="DEVON",
        version=devon_version(),
        description="Search Hugging Face, keep models in a local vault, and manage it.",
        path="/schema",
        # The document only, as JSON (also at /schema itself) and YAML: the stock HTML
        # pages would load scripts from a CDN into the API's origin (ADR 0101).
        render_plugins=[
            JsonDocument(path=["/openapi.json"]),
            YamlDocument(path=["/openapi.yaml", "/openapi.yml"]),
        ],
        components=Components(security_schemes=dict(schemes) or None),
    )
