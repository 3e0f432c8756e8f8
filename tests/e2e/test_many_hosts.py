"""Two `devon serve` processes with different host names on one storage folder and one
PostgreSQL database, as two hosts of a lab would run them: a model asked of both is fetched
once; when one is killed mid-download, the other takes its job over (no heartbeat for
DEVON_JOB_STALE_AFTER) and finishes it from the partial files; any host lists, streams and
cancels any job; both list the same vault."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devon_adapters import DiskModelStore
from devon_adapters.vault.paths import VaultPaths
from devon_testhub import TestHub
from tests.support.hf_helpers import TINY
from tests.support.http_support import WAIT_SECONDS
from tests.support.postgres_support import scratch_database
from tests.support.process_support import free_port, signal_host, wait_for_health
from tests.support.vault_builders import assert_consistent

STALE_AFTER_S = 3


class Host:
    """One `devon serve` process, with its download process (a signal reaches both)."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devon_cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        wait_for_health(self.url, self.process)

    def signal(self, signum: int) -> None:
        signal_host(self.process.pid, signum)

    def download(self, model_id: str) -> httpx.Response:
        return httpx.post(
            f"{self.url}/api/v1/downloads", json={"model_id": model_id}, timeout=WAIT_SECONDS * 4
        )

    def job(self, job_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/api/v1/downloads/{job_id}", timeout=WAIT_SECONDS)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def models(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/models", timeout=WAIT_SECONDS)
        assert response.status_code == 200, response.text
        return list(response.json()["models"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def vault(tmp_path: Path) -> tuple[Path, str]:
    return tmp_path / "shared" / "vault", scratch_database().vault_url()


@pytest.fixture
def hosts(test_hub: TestHub, tmp_path: Path, vault: tuple[Path, str]) -> Iterator[list[Host]]:
    storage, url = vault
    started: list[Host] = []
    try:
        for name in ("gpu-a", "gpu-b"):
            env = {
                key: value
                for key, value in os.environ.items()
                if not key.startswith(("DEVON_", "HF_"))
            } | {
                "DEVON_STORAGE_PATH": str(storage),
                "DEVON_DATABASE_URL": url,
                "DEVON_HOST_NAME": name,
                "DEVON_JOB_STALE_AFTER": str(STALE_AFTER_S),
                "HF_ENDPOINT": test_hub.url,
                "HF_HOME": str(tmp_path / name / "hf-home"),
                "XDG_CONFIG_HOME": str(tmp_path / name / "config"),
            }
            started.append(Host(name, env))
        yield started
    finally:
        test_hub.faults.release()
        for host in started:
            host.stop()


def in_background(call: Any) -> tuple[threading.Thread, list[Any]]:
    """`call()` in a thread; its result (or the error it raised) lands in the list."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(call())
        except httpx.TransportError as error:  # the host was killed under the request
            result.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS * 4
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting until {what}"
        time.sleep(0.05)


def _holds_json(path: Path) -> bool:
    try:
        json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return True


def file_fetches(hub: TestHub) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in hub.stats.requests(path_contains="/resolve/", method="GET"):
        name = record.path.rsplit("/", 1)[-1]
        counts[name] = counts.get(name, 0) + 1
    return counts


def test_one_model_asked_of_two_hosts_at_once_is_fetched_once(
    hosts: list[Host], test_hub: TestHub
) -> None:
    first_host, second_host = hosts
    test_hub.faults.set_latency(100)  # both requests are in before the first completes

    first, first_done = in_background(lambda: first_host.download(TINY))
    second, second_done = in_background(lambda: second_host.download(TINY))
    first.join()
    second.join()

    assert first_done[0].status_code == second_done[0].status_code == 200
    assert first_done[0].json()["path"] == second_done[0].json()["path"]
    assert set(file_fetches(test_hub).values()) == {1}
    assert first_host.models() == second_host.models()


def test_a_host_killed_mid_download_has_its_job_taken_over_and_finished_from_its_files(
    hosts: list[Host], test_hub: TestHub, vault: tuple[Path, str]
) -> None:
    doomed, survivor = hosts
    storage, _ = vault
    config_done = (
        VaultPaths.at(storage).staging("huggingface", TINY) / ".cache/devon/done/config.json.json"
    )
    survivor.signal(signal.SIGSTOP)  # so that the doomed host claims the job
    try:
        test_hub.faults.hang("model.safetensors")  # the other files land in staging first
        submitted = httpx.post(
            f"{doomed.url}/api/v1/downloads",
            json={"model_id": TINY, "wait": False},
            timeout=WAIT_SECONDS,
        )
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        wait_until(lambda: test_hub.faults.held == 1, "the model file was asked for")
        wait_until(lambda: file_fetches(test_hub).get("config.json") == 1, "the job began")
        wait_until(lambda: _holds_json(config_done), "config.json was kept in staging")
    finally:
        survivor.signal(signal.SIGCONT)

    doomed.signal(signal.SIGKILL)
    doomed.process.wait(WAIT_SECONDS)
    test_hub.faults.release()
    wait_until(lambda: survivor.job(job_id)["status"] == "completed", "the job was taken over")

    fetches = file_fetches(test_hub)
    assert fetches["config.json"] == 1  # taken from the dead host's staging, not fetched again
    assert fetches["model.safetensors"] == 2  # the dead host's attempt, then the survivor's
    storage, url = vault
    store = DiskModelStore(storage, database_url=url)
    assert [m["model_id"] for m in survivor.models()] == [TINY]
    assert [m.model_id for m in store.list()] == [TINY]
    assert_consistent(store)


def test_any_host_lists_streams_and_cancels_a_job_another_host_runs(
    hosts: list[Host], test_hub: TestHub
) -> None:
    first, second = hosts
    test_hub.faults.hang("model.safetensors")
    submitted = httpx.post(
        f"{first.url}/api/v1/downloads",
        json={"model_id": TINY, "wait": False},
        timeout=WAIT_SECONDS,
    )
    job_id = submitted.json()["id"]
    wait_until(lambda: second.job(job_id)["status"] == "downloading", "the job runs")

    listed = httpx.get(f"{second.url}/api/v1/downloads", timeout=WAIT_SECONDS).json()
    with httpx.stream(
        "GET", f"{second.url}/api/v1/downloads/{job_id}/events", timeout=WAIT_SECONDS
    ) as events:
        lines = events.iter_lines()
        first_event = next(lines)
        cancelled = httpx.delete(f"{second.url}/api/v1/downloads/{job_id}", timeout=WAIT_SECONDS)
        rest = list(lines)

    assert [job["id"] for job in listed["jobs"]] == [job_id]
    assert first_event == "event: progress"
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert "event: end" in rest
    assert first.job(job_id)["status"] == "cancelled"
    test_hub.faults.release()
    assert first.models() == second.models() == []
