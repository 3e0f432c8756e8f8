"""`create_app`: the Litestar application serving a `Devon` over the documented HTTP API."""

from collections.abc import Mapping
from functools import partial

import anyio.to_thread
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, Parameter, Schema, SecurityScheme

from devon_app import attach_jobs
from devon_app.settings import DEFAULT_MAX_CONCURRENT_DOWNLOADS, DEFAULT_MAX_EVENT_STREAMS
from devon_app.version import devon_version
from devon_core import Devon
from devon_core.errors import DevonError
from devon_http.auth import SECURITY_SCHEME, bearer_guard
from devon_http.body import MAX_BODY_BYTES
from devon_http.document import JsonDocument, YamlDocument
from devon_http.errors import handle_error
from devon_http.fleet_routes import FLEET_ROUTES
from devon_http.guard import HttpSecurity, RequestGuard
from devon_http.hub_routes import Landed, reads_no_body, serve_hub_paths
from devon_http.job_routes import API_PREFIX, JOB_ROUTES, EventStreamSlots
from devon_http.request_log import RequestLog
from devon_http.routes import API_ROUTES, answer_health_first, health
from devon_http.schema_paths import SCHEMA_PREFIX, answer_unknown_schema_paths
from devon_http.web_page import page_routes

JSON_DOCUMENT_PATHS = ["/openapi.json"]
YAML_DOCUMENT_PATHS = ["/openapi.yaml", "/openapi.yml"]
SCHEMA_DOCUMENT_PATHS = [
    SCHEMA_PREFIX,
    *(SCHEMA_PREFIX + p for p in (*JSON_DOCUMENT_PATHS, *YAML_DOCUMENT_PATHS)),
]
"""Where the OpenAPI document is served; any other path under /schema is an unknown one."""

SHUTDOWN_WAIT_S = 2.0
"""How long stopping the server waits for running download jobs to hand themselves back
to the queue (a job that takes longer is resumed as an orphan by the next server)."""


def create_app(
    devon: Devon,
    *,
    api_key: str | None = None,
    max_concurrent_downloads: int = DEFAULT_MAX_CONCURRENT_DOWNLOADS,
    security: HttpSecurity | None = None,
    request_log: RequestLog | None = None,
    hub_pull_through: bool = False,
    max_event_streams: int = DEFAULT_MAX_EVENT_STREAMS,
    hub_landed: Landed | None = None,
) -> Litestar:
    """The HTTP API over `devon`, and the web page at `/`. With a non-empty `api_key`, every
    /api route needs `Authorization: Bearer <api_key>`; /health, the OpenAPI document at
    /schema and the page (which asks for the key) never do.

    `security` says which `Host` names, browser origins and framing pages are allowed
    (`devon_http.guard`; its `frame_ancestors` also go into the page's own CSP); by default
    any host, no foreign origin, no framing. With a `request_log`, every request gets a line
    in it (what `devon serve` runs with); its last lines are written when the app stops.

    Downloads run as jobs: if `devon` has no job store and runner yet, they are attached
    here (`max_concurrent_downloads` jobs at once); the runner starts with the app, which
    resumes jobs a server that is gone left behind. At most `max_event_streams` job event
    streams are open at once (one more is 503).

    The Hugging Face Hub's model paths (`/api/models/{id}`, `/{id}/resolve/{rev}/{path}`)
    answer from the vault beside /api/v1, behind the same key (`devon_http.hub_routes`);
    with `hub_pull_through`, a model the vault lacks is listed from upstream and a file it
    lacks is downloaded first (ADR 0255); with `hub_landed` (a fleet host), files of a
    download still running are sent to the peers that ask for them (ADR 0282)."""
    attach_jobs(devon, max_concurrent=max_concurrent_downloads)
    secured = bool(api_key)
    api = Router(
        API_PREFIX,
        route_handlers=[*API_ROUTES, *JOB_ROUTES, *FLEET_ROUTES],
        guards=[bearer_guard(api_key)] if api_key else None,
        security=[{SECURITY_SCHEME: []}] if secured else None,
    )

    security = security or HttpSecurity()
    app = Litestar(
        route_handlers=[health, *page_routes(security.frame_ancestors), api],
        dependencies={"devon": Provide(lambda: devon, sync_to_thread=False, use_cache=True)},
        exception_handlers={Exception: handle_error},
        on_startup=[partial(_start_jobs, devon)],
        on_shutdown=[partial(_stop_jobs, devon), *([request_log.flush] if request_log else [])],
        request_max_body_size=MAX_BODY_BYTES,
        state=State(
            {
                "devon": devon,
                "api_key": api_key or None,
                "event_streams": EventStreamSlots(max_event_streams),
            }
        ),
        openapi_config=_openapi_config(secured),
        # Logging is the host's business (`serve` sets up DEVON's); Litestar's default would
        # reconfigure the root logger of whatever process builds the app.
        logging_config=None,
    )
    # Around Litestar's whole router (as its own CORS middleware sits), so that unknown
    # routes and wrong methods are guarded and carry the security headers too.
    hub = serve_hub_paths(
        app.asgi_handler,
        devon,
        api_key=api_key,
        pull_through=hub_pull_through,
        landed=hub_landed,
    )
    routed = answer_unknown_schema_paths(
        answer_health_first(hub), SCHEMA_DOCUMENT_PATHS, api_key or None
    )
    app.asgi_handler = RequestGuard(routed, security, request_log, reads_no_body=reads_no_body)
    _document_default_source(app, devon)
    return app


def _document_default_source(app: Litestar, devon: Devon) -> None:
    """The OpenAPI document shows, as the default of every optional `source` (the search
    parameter, the download body's field), the source this server uses when none is given:
    the `default_source` setting, which the route declarations cannot know."""
    try:
        default = devon.default_source
    except DevonError:
        return
    document = app.openapi_schema  # built once, kept
    for item in (document.paths or {}).values():
        for operation in (item.get, item.post):
            for parameter in (operation.parameters or []) if operation else []:
                if _optional_source(parameter):
                    parameter.schema.default = default  # type: ignore[union-attr]
    schemas = document.components.schemas if document.components else None
    for name, schema in (schemas or {}).items():
        field = (schema.properties or {}).get("source")
        if name in _SOURCE_MEANS_EVERY_SOURCE:
            continue
        if isinstance(field, Schema) and "source" not in (schema.required or []):
            field.default = default


_SOURCE_MEANS_EVERY_SOURCE = frozenset({"CleanRequest"})
"""Bodies whose `source`, left out, means every source (but `local`), not the default one."""


def _optional_source(parameter: object) -> bool:
    return (
        isinstance(parameter, Parameter)
        and parameter.name == "source"
        and not parameter.required
        and isinstance(parameter.schema, Schema)
    )


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
        path=SCHEMA_PREFIX,
        # The document only, as JSON (also at /schema itself) and YAML: the stock HTML
        # pages would load scripts from a CDN into the API's origin (ADR 0101).
        render_plugins=[
            JsonDocument(path=JSON_DOCUMENT_PATHS),
            YamlDocument(path=YAML_DOCUMENT_PATHS),
        ],
        components=Components(security_schemes=dict(schemes) or None),
    )


# The app owns the job runner's life: it starts with the app (resuming what a server that
# is gone left) and stops with it (ADR 0191).
def _start_jobs(devon: Devon) -> None:
    devon.start()


async def _stop_jobs(devon: Devon) -> None:
    await anyio.to_thread.run_sync(partial(devon.close, SHUTDOWN_WAIT_S))
