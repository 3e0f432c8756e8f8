"""Cancel closes the transfer and progress moves (issue 25, item 8; ADR 0226): DEVON served
on a real loopback socket, the real Hugging Face source, a test hub that limits each
connection to 2 Mbit/s and can stall transfers; what the hub saw is what counts."""

import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from devon_app import Settings, build_devon
from devon_core import DownloadCancelled
from devon_testhub import TestHub
from tests.support.fixtures import cleared
from tests.support.hf_helpers import source_for
from tests.support.job_support import (
    BIG,
    WAIT,
    finished,
    get_job,
    serve_devon,
    start,
    wait_for,
)

MIB = 1024 * 1024
LINK = 250_000
"""2 Mbit/s per connection: the big model's 8 MiB take seconds over four connections."""
RANGED = {"split_threshold": MIB, "connections_per_file": 2, "max_connections_per_file": 2}
"""Each 4 MiB shard as two ranges at once: four connections in all."""


@pytest.fixture
def hub(session_jobs_hub: TestHub) -> Iterator[TestHub]:
    yield from cleared(session_jobs_hub, faults=lambda hub: hub.faults.limit_connection_rate(LINK))


@pytest.fixture
def url(hub: TestHub, tmp_path: Path) -> Iterator[str]:
    devon = build_devon(
        Settings(storage_path=tmp_path / "vault", hf_endpoint=hub.url),
        sources=[source_for(hub, **RANGED)],
    )
    yield from serve_devon(devon)


@pytest.fixture
def one_by_one_url(hub: TestHub, tmp_path: Path) -> Iterator[str]:
    """DEVON on a source that fetches one file at a time, each as one request, so that every
    request after the first goes out on the kept-alive connection of the one before."""
    hub.faults.limit_connection_rate(0)
    source = source_for(hub, max_workers=1, connections_per_file=1, read_timeout=60.0)
    devon = build_devon(
        Settings(storage_path=tmp_path / "vault", hf_endpoint=hub.url), sources=[source]
    )
    yield from serve_devon(devon)


def wait_until(condition: Any, what: str, within: float = WAIT) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def test_cancel_closes_every_connection_within_a_second_stalled_ones_included(
    url: str, hub: TestHub
) -> None:
    hub.faults.stall_transfers(after_bytes=64 * 1024, times=1, path_contains="00002")
    job = start(url, BIG)
    wait_until(lambda: hub.faults.stalled == 1, "a transfer to stall")
    wait_until(lambda: hub.stats.in_flight >= 3, "the other transfers to be under way")

    response = httpx.delete(f"{url}/api/v1/downloads/{job['id']}", timeout=WAIT)
    cancelled_at = time.monotonic()
    assert response.status_code == 200
    time.sleep(1.0)

    assert hub.faults.stalled == 0
    assert hub.stats.in_flight == 0
    assert hub.stats.body_bytes_after(cancelled_at + 1.0) == 0
    transfers = hub.stats.requests("/resolve/", "GET")
    assert all(r.ended_at - cancelled_at <= 1.0 for r in transfers if r.ended_at > cancelled_at)
    assert get_job(url, job["id"])["status"] == "cancelled"


def test_cancel_cuts_a_file_request_still_waiting_for_its_answer_on_a_kept_alive_connection(
    one_by_one_url: str, hub: TestHub
) -> None:
    hub.faults.hang("00002")  # the Hub takes the request and never answers it
    job = start(one_by_one_url, BIG)
    wait_until(lambda: hub.faults.held == 1, "the second shard's request to hang")

    response = httpx.delete(f"{one_by_one_url}/api/v1/downloads/{job['id']}", timeout=WAIT)
    assert response.status_code == 200
    # The cut takes about a tenth of a second; only the read timeout (60 s) ends it otherwise.
    wait_until(lambda: hub.faults.held == 0, "the hub to see the connection closed", within=5.0)

    [hung] = hub.stats.requests("00002")
    assert hung.reused  # it went out on a connection kept alive from a request before
    assert not hung.completed
    assert get_job(one_by_one_url, job["id"])["status"] == "cancelled"


def test_bytes_done_moves_within_the_first_second_on_a_slow_link(url: str, hub: TestHub) -> None:
    job = start(url, BIG)
    wait_until(lambda: hub.stats.begun("safetensors"), "the first file transfer")
    first_transfer_at = hub.stats.begun("safetensors")[0][0]

    seen = wait_for(url, job["id"], lambda j: j["bytes_done"] > 0, "the first bytes")
    seen_at = time.monotonic()

    assert seen_at - first_transfer_at <= 1.0
    assert seen["bytes_done"] < seen["bytes_total"]
    httpx.delete(f"{url}/api/v1/downloads/{job['id']}", timeout=WAIT)


def test_progress_events_come_at_least_once_a_second_while_bytes_move(
    url: str, hub: TestHub
) -> None:
    job = start(url, BIG)
    arrivals: list[tuple[float, int]] = []
    with httpx.stream("GET", f"{url}/api/v1/downloads/{job['id']}/events", timeout=WAIT) as s:
        for line in s.iter_lines():
            if line.startswith("data: ") and '"bytes_done"' in line:
                done = int(line.split('"bytes_done":')[1].split(",")[0])
                arrivals.append((time.monotonic(), done))
            if len(arrivals) > 1 and arrivals[-1][0] - arrivals[0][0] > 3.0:
                break
    httpx.delete(f"{url}/api/v1/downloads/{job['id']}", timeout=WAIT)

    moving = [(at, done) for at, done in arrivals if done > 0]
    gaps = [b[0] - a[0] for a, b in pairwise(moving)]
    assert len(moving) >= 3
    assert max(gaps) <= 1.2
    assert [done for _, done in moving] == sorted(done for _, done in moving)


def test_speed_is_zero_while_every_transfer_is_stalled(url: str, hub: TestHub) -> None:
    hub.faults.stall_transfers(after_bytes=64 * 1024, times=8, path_contains="safetensors")
    job = start(url, BIG)
    wait_until(lambda: hub.faults.stalled == 4, "every transfer to stall")

    still = wait_for(url, job["id"], lambda j: j["bytes_per_second"] == 0, "a speed of 0")

    assert still["status"] == "downloading"
    assert still["bytes_done"] >= 4 * 64 * 1024
    httpx.delete(f"{url}/api/v1/downloads/{job['id']}", timeout=WAIT)
    wait_for(url, job["id"], finished, "the cancel")


def test_a_stop_signal_closes_a_stalled_transfer_of_the_source_within_a_second(
    hub: TestHub, tmp_path: Path
) -> None:
    source = source_for(hub, **RANGED)
    model = source.info(BIG)
    files = [f for f in model.files if f.path.endswith(".safetensors")]
    hub.faults.stall_transfers(after_bytes=64 * 1024, times=4, path_contains="safetensors")
    stop = threading.Event()
    outcome: list[BaseException] = []

    def fetch() -> None:
        try:
            source.download(model, files, str(tmp_path), None, stop)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=fetch)
    thread.start()
    wait_until(lambda: hub.faults.stalled == 4, "every transfer to stall")
    stop.set()
    stopped_at = time.monotonic()
    thread.join(WAIT)
    wait_until(lambda: hub.stats.in_flight == 0, "the hub to see every connection closed")

    assert [type(e) for e in outcome] == [DownloadCancelled]
    assert time.monotonic() - stopped_at <= 1.0
    assert hub.faults.stalled == 0
