"""A fleet on loopback: a central DEVON (the test hub its source, pull-through on) served in a
process of its own, and the environment of a host DEVON whose upstream it is."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from devon_testhub import TestHub
from tests.contract.cli_process import cli_env
from tests.contract.test_http_serve import serve_process

FLEET_KEY = "hf_fleetkey0123456789abcdefghijklmnopqrs"
STDERR_FD = 2
"""Where the served process writes (pytest captures it, shown when a test fails)."""
NOWHERE = "http://127.0.0.1:9"
"""An endpoint nothing answers at: a host that tried the internet would fail."""


@attrs.frozen
class Central:
    url: str
    vault: Path


def central_env(hub: TestHub, vault: Path, **extra: str) -> dict[str, str]:
    env = cli_env(vault, hub.url, DEVON_HUB_PULL_THROUGH="1", DEVON_API_KEY=FLEET_KEY)
    env["XDG_CONFIG_HOME"] = str(vault.parent / "central-config")
    env.update(extra)
    return env


@contextmanager
def central_devon(hub: TestHub, vault: Path, **extra: str) -> Iterator[Central]:
    """`devon serve` on `vault`, its source the test hub, pull-through on, with FLEET_KEY."""
    with serve_process(central_env(hub, vault, **extra), output=STDERR_FD) as (url, _):
        yield Central(url, vault)


def host_env(upstream: str, vault: Path, name: str, **extra: str) -> dict[str, str]:
    """A fleet host's environment: its own vault, `upstream` its source, the Hub unreachable."""
    env = cli_env(
        vault,
        NOWHERE,
        DEVON_UPSTREAM=upstream,
        DEVON_UPSTREAM_KEY=FLEET_KEY,
        DEVON_HOST_NAME=name,
        DEVON_API_KEY="",
        XDG_CONFIG_HOME=str(vault.parent / f"{name}-config"),
    )
    env.update(extra)
    return env


def environ_without_devon() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("DEVON_", "HF_"))}
