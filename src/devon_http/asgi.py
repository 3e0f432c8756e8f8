"""The app as uvicorn loads it: `uvicorn --factory devon_http.asgi:create_default_app`.

Each server worker process calls the factory and so builds its own `Devon` from the
environment (`Settings.from_env()`); the vault they share is safe for several processes.
"""

import gc

from litestar import Litestar

from devon_adapters import Settings, build_devon
from devon_adapters.bootstrap import run_jobs_in_child
from devon_adapters.fleet_agent import HostAgent, landed_on_host
from devon_core import Devon
from devon_http.app import create_app
from devon_http.connections import set_limits
from devon_http.guard import LOOPBACK_HOSTS, HttpSecurity
from devon_http.request_log import RequestLog, configure_logging


def create_app_from_settings(settings: Settings, devon: Devon | None = None) -> Litestar:
    """The app over the vault and sources `settings` describe (`devon`, if given, is the
    `Devon` already built from them), logging each request. Built here, its download jobs
    run in a child process (`run_jobs_in_child`).

    It answers to the hosts in `settings.allowed_hosts`, else to the loopback names only
    (`serve` spells out the list for the address it binds)."""
    devon = run_jobs_in_child(build_devon(settings), settings) if devon is None else devon
    security = HttpSecurity(
        allowed_hosts=settings.allowed_hosts or LOOPBACK_HOSTS,
        cors_origins=settings.cors_origins,
        frame_ancestors=settings.frame_ancestors,
    )
    app = create_app(
        devon,
        api_key=settings.api_key,
        security=security,
        request_log=RequestLog(),
        hub_pull_through=settings.hub_pull_through,
        max_event_streams=settings.max_event_streams,
        hub_landed=landed_on_host(devon, settings) if settings.upstream else None,
    )
    if settings.upstream:  # a fleet host: report to the upstream, pull what it places here
        agent = HostAgent(devon, settings)
        app.on_startup.append(agent.start)
        app.on_shutdown.insert(0, agent.stop)
    return app


def create_default_app() -> Litestar:
    """The app configured by DEVON_* environment variables and the config file."""
    configure_logging()
    settings = Settings.from_env()
    set_limits(settings.header_timeout_s, settings.max_connections)
    app = create_app_from_settings(settings)
    settle_garbage_collector()
    return app


GC_OLDEST_EVERY = 100
"""Collections of the middle generation between two of the oldest (Python's default: 10)."""


def settle_garbage_collector() -> None:
    """Keep the cyclic garbage collector's pauses out of the answers' latency (ADR 0135):
    what the server built before serving (the app, the vault, the sources: some 50,000
    objects) is moved out of its reach, and the oldest generation is collected ten times
    less often. Measured, a full collection stopped the event loop for 81 ms, twice in 12 s
    of listing under load; after, 20 ms, once."""
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, GC_OLDEST_EVERY)
