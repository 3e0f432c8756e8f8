"""Jobs live in the vault's index: `devon serve` killed with SIGKILL mid-download resumes the
job on restart without fetching again what arrived, and with several workers any of them
answers for any job."""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devon_testhub import TestHub
from tests.support.job_support import (
    BIG,
    BIG_BYTES,
    WAIT,
    finished,
    get_job,
    read_events,
    start,
    wait_for,
)
from tests.support.process_support import children_of, free_port, signal_host, wait_for_health

pytestmark = pytest.mark.slow

SLACK = 64 * 1024
"""Bytes a killed process may have received but not yet written (its write buffers)."""


@pytest.fixture
def hub(jobs_hub: TestHub) -> TestHub:
    return jobs_hub


class Servers:
    """`devon serve` processes on one port and one vault, started and killed at will."""

    def __init__(self, hub: TestHub, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = os.environ | {
            "DEVON_STORAGE_PATH": str(tmp_path / "vault"),
            "HF_ENDPOINT": hub.url,
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "DEVON_API_KEY": "",
        }
        self.running: list[subprocess.Popen[str]] = []

    def start(self, workers: int = 1) -> subprocess.Popen[str]:
        code = f"from devon_http.serve import serve; serve(port={self.port}, workers={workers})"
        server = subprocess.Popen(
            [sys.executable, "-c", code],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self.running.append(server)
        wait_for_health(self.url, server)
        return server

    def kill(self, server: subprocess.Popen[str]) -> None:
        signal_host(server.pid, 9)  # the server and all it started, as a crash would
        server.wait(WAIT)

    def stop_all(self) -> None:
        for server in self.running:
            if server.poll() is None:
                self.kill(server)


@pytest.fixture
def servers(hub: TestHub, tmp_path: Path) -> Iterator[Servers]:
    group = Servers(hub, tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


def test_a_server_killed_mid_download_resumes_the_job_on_restart_without_refetching(
    servers: Servers, hub: TestHub
) -> None:
    server = servers.start()
    job = start(servers.url, BIG)
    progressed = wait_for(
        servers.url, job["id"], lambda j: j["bytes_done"] > BIG_BYTES // 4, "a quarter"
    )
    servers.kill(server)
    while hub.stats.in_flight:
        time.sleep(0.02)
    served_before = hub.stats.bytes_served("/resolve/")

    servers.start()
    done = wait_for(servers.url, job["id"], finished, "the resumed job to finish")

    assert done["status"] == "completed"
    assert done["id"] == job["id"]
    assert any(start and start > 0 for start in hub.stats.range_starts("safetensors"))
    fetched_again = hub.stats.bytes_served("/resolve/") - served_before
    assert fetched_again <= BIG_BYTES - progressed["bytes_done"] + SLACK
    models = httpx.get(f"{servers.url}/api/v1/models").json()["models"]
    assert [m["model_id"] for m in models] == [BIG]


def test_any_of_two_workers_answers_for_any_job(servers: Servers, hub: TestHub) -> None:
    servers.start(workers=2)
    job = start(servers.url, BIG)
    for _ in range(12):  # a new connection each time: both workers answer some of them
        assert get_job(servers.url, job["id"])["model_id"] == BIG
    events = read_events(servers.url, job["id"])
    assert events[-1][0] == "end"
    assert events[-1][1]["status"] == "completed"
    second = start(servers.url, BIG, force=True)
    wait_for(servers.url, second["id"], lambda j: j["status"] == "downloading", "the start")
    cancelled = httpx.delete(f"{servers.url}/api/v1/downloads/{second['id']}")
    cancelled_at = time.monotonic()
    assert cancelled.status_code == 200
    assert get_job(servers.url, second["id"])["status"] == "cancelled"
    while hub.stats.in_flight:  # whichever worker runs it stops its transfer
        assert time.monotonic() - cancelled_at < 2.0, "the hub was still sending"
        time.sleep(0.02)


def download_processes(server_pid: int) -> list[int]:
    """The download processes `devon serve` (process `server_pid`) started."""
    found = []
    for child in children_of(server_pid):
        with contextlib.suppress(OSError):  # gone since it was listed
            if b"devon_app.jobs_child" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[16])


def scheduling_group_nice(pid: int) -> int:
    """The `nice` of the session group Linux schedules `pid` in (`/proc/<pid>/autogroup`
    reads `/autogroup-<n> nice <nice>`)."""
    return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])


def the_download_process(server: "subprocess.Popen[str]") -> int:
    deadline = time.monotonic() + WAIT
    while not (found := download_processes(server.pid)):
        assert time.monotonic() < deadline, "no download process started"
        time.sleep(0.05)
    [pid] = found
    return pid


def downloading(servers: Servers) -> tuple["subprocess.Popen[str]", dict[str, Any]]:
    """A server and its job of BIG, once the job's first bytes arrived."""
    server = servers.start()
    job = start(servers.url, BIG)
    wait_for(servers.url, job["id"], lambda j: j["bytes_done"] > 0, "the first bytes")
    return server, job


def test_downloads_run_in_a_process_of_their_own_at_a_lower_cpu_priority(
    servers: Servers,
) -> None:
    server, job = downloading(servers)

    pid = the_download_process(server)

    assert niceness(pid) == min(niceness(server.pid) + 10, 19)
    done = wait_for(servers.url, job["id"], finished, "the job to finish")
    assert done["status"] == "completed"


@pytest.mark.skipif(
    not Path("/proc/self/autogroup").exists(), reason="the kernel schedules no session groups"
)
def test_the_download_process_is_scheduled_in_a_session_group_of_its_own_at_its_priority(
    servers: Servers,
) -> None:
    server, _ = downloading(servers)

    pid = the_download_process(server)

    assert os.getsid(pid) == pid != os.getsid(server.pid)
    assert scheduling_group_nice(pid) == niceness(pid)
    assert scheduling_group_nice(server.pid) == 0


def test_a_download_process_killed_mid_download_is_replaced_and_the_job_completes(
    servers: Servers, hub: TestHub
) -> None:
    server = servers.start()
    job = start(servers.url, BIG)
    wait_for(servers.url, job["id"], lambda j: j["bytes_done"] > BIG_BYTES // 4, "a quarter")

    killed = the_download_process(server)
    os.kill(killed, 9)
    done = wait_for(servers.url, job["id"], finished, "the job to finish in a new process")

    assert done["status"] == "completed"
    assert done["id"] == job["id"]
    assert the_download_process(server) != killed
    models = httpx.get(f"{servers.url}/api/v1/models").json()["models"]
    assert [m["model_id"] for m in models] == [BIG]


def test_a_server_stopped_mid_download_stops_its_download_process_and_requeues_the_job(
    servers: Servers, hub: TestHub
) -> None:
    server = servers.start()
    job = start(servers.url, BIG)
    wait_for(servers.url, job["id"], lambda j: j["bytes_done"] > 0, "the first bytes")
    child = the_download_process(server)

    server.terminate()
    server.wait(WAIT)

    assert not Path(f"/proc/{child}").exists()
    servers.start()
    done = wait_for(servers.url, job["id"], finished, "the job to finish after a restart")
    assert done["status"] == "completed"
