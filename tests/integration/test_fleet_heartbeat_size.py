"""A fleet host holding many models (issue 28): its heartbeat lists every one of them, so the
central accepts a heartbeat far larger than the API's other bodies (HEARTBEAT_MAX_BYTES, ADR
0302): 100,000 models, whatever their ids. A larger one is refused with the API's 413, and a
host never sends it: its log says why."""

import json
import logging
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from devon_adapters.fleet.agent import AgentConfig, HostAgent
from devon_core import Devon
from devon_core.fleet import HEARTBEAT_MAX_BYTES
from devon_http import create_app
from devon_testhub import TestHub
from tests.support.fakes import T0, local_model
from tests.support.fleet_support import wait_until
from tests.support.http_support import fake_devon
from tests.support.hub_endpoint_support import ServedVault, served_vault

JSON = {"Content-Type": "application/json"}
LONGEST_OWNER = "o" * 96
"""The Hub allows 96 characters on each side of the slash."""


def _ids(count: int) -> list[str]:
    return [f"lab/model-{n:06d}-Instruct-GGUF" for n in range(count)]


def _longest_ids(count: int) -> list[str]:
    return [f"{LONGEST_OWNER}/{n:06d}{'n' * 90}" for n in range(count)]


def _holding(model_ids: list[str]) -> Devon:
    """A host's Devon holding `model_ids`, each used once (a report's longest entries)."""
    devon = fake_devon()
    for model_id in model_ids:
        devon.store.add(local_model(model_id, size_bytes=4_368_439_584, last_used=T0))  # type: ignore[attr-defined]
    return devon


def _agent(devon: Devon, upstream: str, storage: Path) -> HostAgent:
    (storage / ".devon").mkdir(parents=True, exist_ok=True)
    config = AgentConfig(
        host_name="gpu1",
        upstream=upstream,
        upstream_key=None,
        public_url="http://gpu1.lan:8000",
        heartbeat_interval=10.0,
        max_storage_bytes=10**13,
        storage_path=storage,
    )
    return HostAgent(devon, config)


@pytest.fixture
def central(test_hub: TestHub, tmp_path: Path) -> Iterator[ServedVault]:
    with served_vault(test_hub, tmp_path / "central") as served:
        yield served


def _hosts(central: ServedVault) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"{central.url}/api/v1/hosts") as answer:  # noqa: S310
        hosts: list[dict[str, object]] = json.loads(answer.read())["hosts"]
    return hosts


def test_a_host_holding_2000_models_is_online_with_all_of_them(
    central: ServedVault, tmp_path: Path
) -> None:
    held = _ids(2000)
    agent = _agent(fake_devon(local=held), central.url, tmp_path / "host")

    agent.beat()

    [host] = _hosts(central)
    assert host["name"] == "gpu1"
    assert host["state"] == "online"
    assert sorted(m["model_id"] for m in host["models"]) == held  # type: ignore[attr-defined]


def test_100000_models_of_the_longest_ids_fit_in_one_heartbeat(tmp_path: Path) -> None:
    agent = _agent(_holding(_longest_ids(100_000)), "http://central", tmp_path)
    body = agent.heartbeat_body()
    assert len(body) <= HEARTBEAT_MAX_BYTES
    with TestClient(create_app(fake_devon())) as client:
        answer = client.post("/api/v1/hosts/gpu1/heartbeat", content=body, headers=JSON)
        assert answer.status_code == 200
        [host] = client.get("/api/v1/hosts").json()["hosts"]
    assert len(host["models"]) == 100_000


def test_a_heartbeat_over_its_limit_is_413_with_the_apis_wording() -> None:
    body = b'{"models": [' + b" " * HEARTBEAT_MAX_BYTES + b"]}"
    with TestClient(create_app(fake_devon())) as client:
        answer = client.post("/api/v1/hosts/gpu1/heartbeat", content=body, headers=JSON)
        other = client.put("/api/v1/placements", content=body[: 65 * 1024], headers=JSON)
        hosts = client.get("/api/v1/hosts").json()["hosts"]
    assert answer.status_code == 413
    assert answer.json() == {"detail": "Request body too large: at most 32 MiB is accepted"}
    assert other.status_code == 413  # every other body keeps the API's limit
    assert other.json() == {"detail": "Request body too large: at most 64 KiB is accepted"}
    assert hosts == []


def test_a_host_whose_report_is_over_the_limit_logs_why_and_sends_nothing(
    central: ServedVault, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    agent = _agent(_holding(_longest_ids(110_000)), central.url, tmp_path / "host")

    with caplog.at_level(logging.WARNING, logger="devon.fleet"):
        agent.start()
        try:
            wait_until(lambda: [r for r in caplog.records if r.name == "devon.fleet"])
        finally:
            agent.stop()

    [line] = [r.getMessage() for r in caplog.records if r.name == "devon.fleet"]
    assert line.startswith(f"heartbeat to {central.url} failed: the report of the 110,000 ")
    assert "over the 32.0 MiB a central DEVON accepts, so it is not sent" in line
    assert _hosts(central) == []
