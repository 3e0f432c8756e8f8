"""The app as uvicorn loads it: `uvicorn --factory devon_http.asgi:create_default_app`.

Each server worker process calls the factory and so builds its own `Devon` from the
environment (`Settings.from_env()`); the vault they share is safe for several processes.
"""

import gc

from litestar import Litestar

from devon_app import Settings
from devon_app.serving import build_served_devon, host_agent, landed_on_this_host
from devon_app.settings import HttpSettings
from devon_core import Devon
from devon_http.app import create_app
from devon_http.connections import set_limits
from devon_http.guard import LOOPBACK_HOSTS, HttpSecurity
from devon_http.hub_routes import Landed
from devon_http.request_log import RequestLog, configure_logging


def create_app_from_settings(settings: Settings, devon: Devon | None = None) -> Litestar:
    """The app over the vault and sources `settings` describe (`devon`, if given, is the
    `Devon` already built from them), logging each request. Built here, its download jobs
    run in a child process (`run_jobs_in_child`). The app itself reads only the server's
    section of the settings (`settings.http`, see `create_served_app`)."""
    devon = build_served_devon(settings) if devon is None else devon
    app = create_served_app(settings.http, devon, landed_on_this_host(devon, settings))
    agent = host_agent(devon, settings)
    if agent is not None:  # a fleet host: report to the upstream, pull what it places here
        app.on_startup.append(agent.start)
        app.on_shutdown.insert(0, agent.stop)
    return app


def create_served_app(http: HttpSettings, devon: Devon, landed: Landed | None = None) -> Litestar:
    """The app over `devon` as the server's settings `http` configure it, logging each request
    (`landed`: on a fleet host, the files of its unfinished downloads it may send peers).

    It answers to the hosts in `http.allowed_hosts`, else to the loopback names only
    (`serve` spells out the list for the address it binds)."""
    security = HttpSecurity(
        allowed_hosts=http.allowed_hosts or LOOPBACK_HOSTS,
        cors_origins=http.cors_origins,
        frame_ancestors=http.frame_ancestors,
    )
    return create_app(
        devon,
        api_key=http.api_key,
        security=security,
        request_log=RequestLog(),
        hub_pull_through=http.hub_pull_through,
        max_event_streams=http.max_event_streams,
        hub_landed=landed,
    )


def create_default_app() -> Litestar:
    """The app configured by DEVON_* environment variables and the config file."""
    configure_logging()
    settings = Settings.from_env()
    set_limits(settings.http.header_timeout_s, settings.http.max_connections)
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
