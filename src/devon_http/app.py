"""`create_app`: the Litestar application serving a `Devon` over the documented HTTP API."""

from collections.abc import Mapping
from functools import partial

import anyio.to_thread
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from devon_adapters import attach_jobs
from devon_adapters.job_runner import DEFAULT_MAX_CONCURRENT
from devon_adapters.version import devon_version
from devon_core import Devon
from devon_http.auth import SECURITY_SCHEME, bearer_guard
from devon_http.body import MAX_BODY_BYTES
from devon_http.errors import handle_error
from devon_http.job_routes import API_PREFIX, JOB_ROUTES
from devon_http.routes import API_ROUTES, health
from devon_web import page_routes

SHUTDOWN_WAIT_S = 2.0
"""How long stopping the server waits for running download jobs to hand themselves back
to the queue (a job that takes longer is resumed as an orphan by the next server)."""


def create_app(
    devon: Devon,
    *,
    api_key: str | None = None,
    max_concurrent_downloads: int = DEFAULT_MAX_CONCURRENT,
    frame_ancestors: tuple[str, ...] = (),
) -> Litestar:
    """The HTTP API over `devon`, and the web page at `/`. With a non-empty `api_key`, every
    /api route needs `Authorization: Bearer <api_key>`; /health, the OpenAPI document at
    /schema and the page (which asks for the key) never do. `frame_ancestors`: origins
    allowed to show the page in a frame (none when empty).

    Downloads run as jobs: if `devon` has no job store and runner yet, they are attached
    here (`max_concurrent_downloads` jobs at once); the runner starts with the app, which
    resumes jobs a server that is gone left behind."""
    attach_jobs(devon, max_concurrent=max_concurrent_downloads)
    secured = bool(api_key)
    api = Router(
        API_PREFIX,
        route_handlers=[*API_ROUTES, *JOB_ROUTES],
        guards=[bearer_guard(api_key)] if api_key else None,
        security=[{SECURITY_SCHEME: []}] if secured else None,
    )

    return Litestar(
        route_handlers=[health, *page_routes(frame_ancestors), api],
        dependencies={"devon": Provide(lambda: devon, sync_to_thread=False, use_cache=True)},
        exception_handlers={Exception: handle_error},
        on_startup=[partial(_start_jobs, devon)],
        on_shutdown=[partial(_stop_jobs, devon)],
        request_max_body_size=MAX_BODY_BYTES,
        state=State(
            {
                "devon": devon,
                "api_key": api_key or None,
            }
        ),
        openapi_config=_openapi_config(secured),
        # Logging is the host's business (`serve` sets up DEVON's); Litestar's default would
        # reconfigure the root logger of whatever process builds the app.
        logging_config=None,
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
        path="/schema",
        components=Components(security_schemes=dict(schemes) or None),
    )


def _start_jobs(devon: Devon) -> None:
    if devon.runner is not None:
        devon.runner.wake()


async def _stop_jobs(devon: Devon) -> None:
    close = getattr(devon.runner, "close", None)
    if close is not None:
        await anyio.to_thread.run_sync(partial(close, SHUTDOWN_WAIT_S))
