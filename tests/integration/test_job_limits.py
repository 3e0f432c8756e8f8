"""Limits with clear answers (issue 25, items 5 and 7): a cap on queued jobs (429 with
Retry-After), the job list in pages, a cap on open event streams (503), on a real loopback
socket with the real Hugging Face source and a throttled test hub."""

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devon_http import create_app
from devon_http.connections import LIMITS, LimitedProtocol, set_limits
from devon_http.serve import running
from devon_testhub import TestHub
from tests.support.hf_helpers import LEGACY, ONNX, SHARDY, TINY, WIDGET
from tests.support.job_support import (
    BIG,
    WAIT,
    devon_on,
    post_download,
    serve_devon,
    start,
    wait_for,
)

# -- queued jobs --------------------------------------------------------------------------


@pytest.fixture
def two_queued_at_most(jobs_hub: TestHub, tmp_path: Path) -> Iterator[str]:
    """A server running one download at a time, whose queue holds two jobs."""
    devon = devon_on(tmp_path / "vault", jobs_hub, max_concurrent_downloads=1, max_queued_jobs=2)
    yield from serve_devon(devon)


def test_a_job_past_the_queue_cap_is_429_with_retry_after_and_nothing_queued(
    two_queued_at_most: str,
) -> None:
    url = two_queued_at_most
    running = start(url, BIG)
    wait_for(url, running["id"], lambda j: j["status"] == "downloading", "the first to start")
    queued = [start(url, TINY), start(url, WIDGET)]

    refused = post_download(url, {"model_id": SHARDY, "wait": False})

    assert refused.status_code == 429
    assert list(refused.json()) == ["detail"]
    assert "queued" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) > 0
    listed = httpx.get(f"{url}/api/v1/downloads").json()["jobs"]
    assert {j["model_id"] for j in listed} == {BIG, TINY, WIDGET}
    assert all(j["status"] == "queued" for j in listed if j["id"] != running["id"])
    assert {j["id"] for j in listed} == {running["id"], *(j["id"] for j in queued)}


def test_a_request_that_joins_a_queued_job_is_accepted_at_the_cap(two_queued_at_most: str) -> None:
    url = two_queued_at_most
    running = start(url, BIG)
    wait_for(url, running["id"], lambda j: j["status"] == "downloading", "the first to start")
    tiny, _ = start(url, TINY), start(url, WIDGET)

    again = post_download(url, {"model_id": TINY, "wait": False})

    assert again.status_code == 202
    assert again.json()["id"] == tiny["id"]


def test_a_waiting_post_past_the_queue_cap_is_429_too(two_queued_at_most: str) -> None:
    url = two_queued_at_most
    running = start(url, BIG)
    wait_for(url, running["id"], lambda j: j["status"] == "downloading", "the first to start")
    start(url, TINY), start(url, WIDGET)

    refused = post_download(url, {"model_id": LEGACY})

    assert refused.status_code == 429
    assert "retry-after" in refused.headers


def test_room_in_the_queue_is_accepted_again(two_queued_at_most: str) -> None:
    url = two_queued_at_most
    running = start(url, BIG)
    wait_for(url, running["id"], lambda j: j["status"] == "downloading", "the first to start")
    tiny, _ = start(url, TINY), start(url, WIDGET)
    assert post_download(url, {"model_id": ONNX, "wait": False}).status_code == 429

    assert httpx.delete(f"{url}/api/v1/downloads/{tiny['id']}").status_code == 200

    assert post_download(url, {"model_id": ONNX, "wait": False}).status_code == 202


# -- the job list in pages ----------------------------------------------------------------


@pytest.fixture
def many_jobs(jobs_hub: TestHub, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A server whose vault holds TINY and 130 finished jobs of it (newest first)."""
    jobs_hub.faults.set_bandwidth(0)
    devon = devon_on(tmp_path / "vault", jobs_hub)
    devon.download(TINY)
    ids = [devon.start_download(TINY).id for _ in range(130)]
    for url in serve_devon(devon):
        yield url, ids[::-1]


def test_the_job_list_answers_100_jobs_and_the_cursor_of_the_next_page(
    many_jobs: tuple[str, list[str]],
) -> None:
    url, newest_first = many_jobs
    page = httpx.get(f"{url}/api/v1/downloads").json()
    assert page["count"] == 100
    assert [j["id"] for j in page["jobs"]] == newest_first[:100]
    assert page["next"] == newest_first[99]


def test_following_next_lists_every_job_once_and_the_last_page_has_no_next(
    many_jobs: tuple[str, list[str]],
) -> None:
    url, newest_first = many_jobs
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "50", **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{url}/api/v1/downloads", params=params).json()
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == newest_first


@pytest.mark.parametrize("limit", ["0", "1001", "x"])
def test_a_limit_out_of_range_is_400(many_jobs: tuple[str, list[str]], limit: str) -> None:
    url, _ = many_jobs
    response = httpx.get(f"{url}/api/v1/downloads", params={"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()["detail"]


def test_a_cursor_whose_job_is_gone_is_404(many_jobs: tuple[str, list[str]]) -> None:
    url, _ = many_jobs
    response = httpx.get(f"{url}/api/v1/downloads", params={"cursor": "nope"})
    assert response.status_code == 404
    assert "cursor" in response.json()["detail"]


def test_an_empty_cursor_lists_from_the_start(many_jobs: tuple[str, list[str]]) -> None:
    url, newest_first = many_jobs
    page = httpx.get(f"{url}/api/v1/downloads", params={"cursor": "", "limit": "1"}).json()
    assert [j["id"] for j in page["jobs"]] == newest_first[:1]


# -- event streams ------------------------------------------------------------------------


def open_stream(url: str, job_id: str) -> socket.socket:
    """An event stream held open on a socket of its own, its answer's head read."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=WAIT)
    sock.sendall(f"GET /api/v1/downloads/{job_id}/events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the stream"
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    return sock


@contextlib.contextmanager
def streams_held(url: str, job_id: str, count: int) -> Iterator[None]:
    """`count` event streams of the job held open, closed on exit."""
    with contextlib.ExitStack() as held:
        for _ in range(count):
            held.callback(open_stream(url, job_id).close)
        yield


def test_an_event_stream_past_the_cap_is_503_and_health_still_answers(
    jobs_hub: TestHub, tmp_path: Path
) -> None:
    devon = devon_on(tmp_path / "vault", jobs_hub)
    for url in serve_devon(devon, max_event_streams=3):
        job = start(url, BIG)
        with streams_held(url, job["id"], 3):
            refused = httpx.get(f"{url}/api/v1/downloads/{job['id']}/events", timeout=WAIT)

            assert refused.status_code == 503
            assert "DEVON_MAX_EVENT_STREAMS" in refused.json()["detail"]
            assert "retry-after" in refused.headers
            assert httpx.get(f"{url}/health").status_code == 200
        deadline = time.monotonic() + WAIT
        while True:  # the closed streams give their places back
            with httpx.stream("GET", f"{url}/api/v1/downloads/{job['id']}/events") as again:
                if again.status_code == 200:
                    break
            assert time.monotonic() < deadline, "the closed streams kept their places"
            time.sleep(0.1)
        httpx.delete(f"{url}/api/v1/downloads/{job['id']}")


def test_health_answers_while_event_streams_hold_every_connection(
    jobs_hub: TestHub, tmp_path: Path
) -> None:
    devon = devon_on(tmp_path / "vault", jobs_hub)
    before = (LIMITS.header_timeout_s, LIMITS.max_connections)
    set_limits(1.0, 4)
    try:
        app = create_app(devon, max_event_streams=10)
        with running(app, http=LimitedProtocol) as url:
            job = start(url, BIG)
            with streams_held(url, job["id"], 4):
                health = httpx.get(f"{url}/health", timeout=WAIT)

                assert health.status_code == 200
                assert health.json()["status"] == "ok"
            httpx.delete(f"{url}/api/v1/downloads/{job['id']}")
    finally:
        set_limits(*before)


def test_the_stream_of_a_job_ends_when_the_job_ends(jobs_hub: TestHub, tmp_path: Path) -> None:
    jobs_hub.faults.hang("/resolve/")  # the job is stuck: no byte arrives
    devon = devon_on(tmp_path / "vault", jobs_hub)
    try:
        for url in serve_devon(devon):
            job = start(url, BIG)
            wait_for(url, job["id"], lambda j: j["status"] == "downloading", "the start")
            sock = open_stream(url, job["id"])
            httpx.delete(f"{url}/api/v1/downloads/{job['id']}")
            received = b""
            with contextlib.closing(sock):
                while chunk := sock.recv(65536):
                    received += chunk
                    if b"event: end" in received and received.endswith(b"\r\n0\r\n\r\n"):
                        break
            assert b"event: end" in received
            assert b'"status":"cancelled"' in received
    finally:
        jobs_hub.faults.release()


def test_a_page_keeps_the_documented_shape_with_next_added(
    many_jobs: tuple[str, list[str]],
) -> None:
    url, _ = many_jobs
    page = httpx.get(f"{url}/api/v1/downloads", params={"status": "completed"}).json()
    assert set(page) == {"count", "jobs", "next"}
    assert page["count"] == len(page["jobs"])
