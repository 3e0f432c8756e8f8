"""A fleet on loopback: a central DEVON (the test hub its source, pull-through on) served in a
process of its own, and the environment of a host DEVON whose upstream it is."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import attrs

from devon_testhub import TestHub
from tests.support.cli_process import cli_env
from tests.support.process_support import free_port, serve_process, wait_for_health

T = TypeVar("T")

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
    """`devon serve` on `vault`, its source the test hub, pull-through on, with FLEET_KEY;
    its log (a line per request) in `vault`'s parent folder, `central.log`."""
    vault.parent.mkdir(parents=True, exist_ok=True)
    with (
        (vault.parent / "central.log").open("a") as log,
        serve_process(central_env(hub, vault, **extra), output=log.fileno()) as (url, _),
    ):
        yield Central(url, vault)


def central_file_reads(central: Central, model_id: str) -> dict[str, int]:
    """How many times the central sent each file of `model_id` whole (from its log)."""
    marker = f"GET /{model_id}/resolve/"
    counts: dict[str, int] = {}
    for line in (central.vault.parent / "central.log").read_text().splitlines():
        if marker in line and " 200 " in line:
            path = line.split(marker, 1)[1].split(" ", 1)[0].split("/", 1)[1]
            counts[path] = counts.get(path, 0) + 1
    return counts


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


BEAT = "0.3"
"""The hosts' heartbeat interval in these tests (seconds)."""


@contextmanager
def host_devon(
    upstream: str, vault: Path, name: str, *, public: bool = False, **extra: str
) -> Iterator[str]:
    """`devon serve` as the fleet host `name` of `upstream`; yields its URL. `public`: the
    host gives its URL to the upstream (DEVON_PUBLIC_URL), so that peers fetch from it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = host_env(upstream, vault, name, DEVON_HEARTBEAT_INTERVAL=BEAT, **extra)
    if public:
        env["DEVON_PUBLIC_URL"] = url
    code = f"from devon_http.serve import serve; serve(port={port})"
    server = subprocess.Popen([sys.executable, "-c", code], env=env, text=True)
    try:
        wait_for_health(url, server)
        yield url
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def api(url: str, method: str, path: str, body: Any = None, key: str = FLEET_KEY) -> Any:
    """One call of a DEVON's API; the decoded JSON answer (HTTPError for 4xx/5xx)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def placements_of(central: str, model_id: str) -> dict[str, dict[str, Any]]:
    """Host name -> placement of `model_id`, as the central lists them."""
    rows = api(central, "GET", f"/api/v1/placements?model_id={model_id}")["placements"]
    return {row["host"]: row for row in rows}


def wait_until(check: Callable[[], T], timeout: float = 60.0) -> T:
    """`check()`'s first truthy answer; AssertionError with the last one after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert answer, f"still {answer!r} after {timeout} s"
    return answer


def states(central: str, model_id: str) -> dict[str, str]:
    return {host: row["state"] for host, row in placements_of(central, model_id).items()}


def model_folder(root: Path, host: str, model_id: str) -> Path:
    return root / host / "vault" / "huggingface" / model_id


def hub_file_reads(hub: TestHub, model_id: str) -> dict[str, int]:
    prefix = f"/{model_id}/resolve/"
    return {
        path.split("/resolve/", 1)[1].split("/", 1)[1]: count
        for path, count in hub.stats.by_path("GET").items()
        if path.startswith(prefix)
    }


def assert_central_sent_weights_at_most_twice(
    sent: dict[str, int], hub: TestHub, model_id: str, small_at_most: int
) -> None:
    """The weights (LFS files, whose sha256 checks a peer's copy) left the central at most
    twice each; the small files (no hash to check a peer's copy by, so every host takes them
    from the central) at most `small_at_most` times each."""
    lfs = {f.path for f in hub.catalogue[model_id].files if f.lfs}
    assert all(count <= 2 for path, count in sent.items() if path in lfs), sent
    assert all(count <= small_at_most for path, count in sent.items() if path not in lfs), sent
