"""What a served DEVON is made of beyond `build_devon`: its download jobs in a child process,
and, on a fleet host, the agent that reports to the upstream. The HTTP server's factory
(`devon_http.asgi`) asks for them here, so that it constructs no adapter itself (ADR 0260)."""

from collections.abc import Callable

from devon_adapters.fleet.agent import AgentConfig, HostAgent, landed_on_host
from devon_app.bootstrap import build_devon
from devon_app.settings import Settings
from devon_core.devon import Devon
from devon_core.fleet import LandedFile


def build_served_devon(settings: Settings) -> Devon:
    """The `Devon` `settings` describe, its download jobs run in a child process."""
    return build_devon(settings, jobs_in_child=True)


def host_agent(devon: Devon, settings: Settings) -> HostAgent | None:
    """The agent of a fleet host (`settings.upstream` set): it reports to the upstream and pulls
    what it places here. None when this DEVON has no upstream."""
    if not settings.upstream:
        return None
    config = AgentConfig(
        host_name=settings.host_name,
        upstream=settings.upstream,
        upstream_key=settings.upstream_key,
        public_url=settings.public_url,
        heartbeat_interval=settings.heartbeat_interval,
        max_storage_bytes=settings.max_storage_bytes,
        storage_path=settings.storage_path,
    )
    return HostAgent(devon, config)


def landed_on_this_host(
    devon: Devon, settings: Settings
) -> Callable[[str, str], LandedFile | None] | None:
    """On a fleet host, (model id, path) -> that file of its unfinished download of the model
    once it has landed in staging, which its Hub paths may send peers (ADR 0282); with
    pull-through, the same for the files its pulls have landed, which it sends the clients
    waiting for them while the pull fetches the rest (ADR 0290). None on any other DEVON."""
    if settings.upstream or settings.http.hub_pull_through:
        return landed_on_host(devon, settings.storage_path)
    return None
