"""The app served by uvicorn on a real loopback socket: key paths over HTTP, a server that
keeps answering while downloads run, and a client leaving mid-download."""

import io
import logging
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from devon_http import create_app
from devon_http.request_log import RequestLog, configure_logging
from tests.support.http_support import (
    LLAMA,
    QWEN,
    WAIT_SECONDS,
    BlockingSource,
    fake_devon,
    serving,
    wait_until,
)

KEY = "served-key"


@pytest.fixture
def blocking() -> BlockingSource:
    return BlockingSource()


@pytest.fixture
def base_url(blocking: BlockingSource) -> Iterator[str]:
    try:
        with serving(create_app(fake_devon(blocking))) as url:
            yield url
    finally:
        blocking.release.set()


def download_in_background(
    base_url: str, model_id: str
) -> tuple[threading.Thread, list[httpx.Response]]:
    responses: list[httpx.Response] = []

    def run() -> None:
        body = {"model_id": model_id}
        responses.append(
            httpx.post(f"{base_url}/api/v1/downloads", json=body, timeout=WAIT_SECONDS)
        )

    thread = threading.Thread(target=run)
    thread.start()
    return thread, responses


def test_key_paths_over_a_real_socket() -> None:
    with serving(create_app(fake_devon(local=[QWEN]), api_key=KEY)) as url:
        auth = {"Authorization": f"Bearer {KEY}"}
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
        assert httpx.get(f"{url}/api/v1/models").status_code == 401
        downloaded = httpx.post(f"{url}/api/v1/downloads", json={"model_id": LLAMA}, headers=auth)
        assert downloaded.status_code == 200
        models = httpx.get(f"{url}/api/v1/models", headers=auth).json()["models"]
        assert [m["model_id"] for m in models] == [QWEN, LLAMA]
        info = httpx.get(f"{url}/api/v1/models/huggingface/{QWEN}", headers=auth)
        assert info.json()["local"]["model_id"] == QWEN
        missing = httpx.delete(f"{url}/api/v1/models/huggingface/acme/gone.v1", headers=auth)
        assert (missing.status_code, missing.json()) == (
            404,
            {"detail": "Model huggingface/acme/gone.v1 is not in the vault"},
        )
        assert httpx.get(f"{url}/nowhere").status_code == 401
        unknown = httpx.get(f"{url}/nowhere", headers=auth)
        assert unknown.status_code == 404
        assert set(unknown.json()) == {"detail"}


def test_health_answers_while_a_download_is_in_flight(
    base_url: str, blocking: BlockingSource
) -> None:
    thread, responses = download_in_background(base_url, LLAMA)
    assert blocking.began(LLAMA).wait(WAIT_SECONDS)

    assert httpx.get(f"{base_url}/health").status_code == 200
    assert httpx.get(f"{base_url}/api/v1/models").json()["count"] == 0
    assert thread.is_alive()
    assert not responses

    blocking.release.set()
    thread.join(WAIT_SECONDS)
    assert responses[0].status_code == 200


def test_downloads_of_different_models_run_at_the_same_time(
    base_url: str, blocking: BlockingSource
) -> None:
    first, _ = download_in_background(base_url, LLAMA)
    second, _ = download_in_background(base_url, QWEN)
    # Each download blocks until released: both can only have begun if they run together.
    assert blocking.began(LLAMA).wait(WAIT_SECONDS)
    assert blocking.began(QWEN).wait(WAIT_SECONDS)
    blocking.release.set()
    first.join(WAIT_SECONDS)
    second.join(WAIT_SECONDS)
    models = httpx.get(f"{base_url}/api/v1/models").json()["models"]
    assert sorted(m["model_id"] for m in models) == sorted([LLAMA, QWEN])


def test_a_client_leaving_mid_download_leaves_no_half_model(
    base_url: str, blocking: BlockingSource
) -> None:
    address = urlsplit(base_url)
    body = b'{"model_id": "%s"}' % LLAMA.encode()
    with socket.create_connection((address.hostname, address.port)) as raw:
        raw.sendall(
            b"POST /api/v1/downloads HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        assert blocking.began(LLAMA).wait(WAIT_SECONDS)
    # The client is gone; the download is still running and nothing is listed yet.
    assert httpx.get(f"{base_url}/api/v1/models").json()["count"] == 0

    blocking.release.set()

    def listed() -> list[dict[str, object]]:
        models: list[dict[str, object]] = httpx.get(f"{base_url}/api/v1/models").json()["models"]
        return models

    wait_until(lambda: listed(), "the abandoned download to finish")
    [model] = listed()
    assert model["model_id"] == LLAMA
    assert model["files"] == ["config.json", "model.safetensors"]
    assert model["size_bytes"] == 5100


def test_each_request_is_logged_with_method_path_status_and_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="devon.http")
    with serving(create_app(fake_devon(), request_log=RequestLog())) as url:
        httpx.get(f"{url}/api/v1/status")
        httpx.get(f"{url}/nowhere")
    lines = [r.getMessage() for r in caplog.records if r.name == "devon.http"]
    assert [line.rsplit(" ", 2)[0] for line in lines] == [
        "GET /api/v1/status 200",
        "GET /nowhere 404",
    ]
    assert all(line.endswith(" ms") for line in lines)


def test_downloads_beyond_the_limit_wait_without_holding_up_other_requests() -> None:
    blocking = BlockingSource()
    app = create_app(fake_devon(blocking), max_concurrent_downloads=1)
    with serving(app) as url:
        try:
            first, _ = download_in_background(url, LLAMA)
            assert blocking.began(LLAMA).wait(WAIT_SECONDS)
            second, responses = download_in_background(url, QWEN)
            assert httpx.get(f"{url}/api/v1/models").json()["count"] == 0
            assert httpx.get(f"{url}/api/v1/status").status_code == 200
            assert not blocking.began(QWEN).is_set()
        finally:
            blocking.release.set()
        first.join(WAIT_SECONDS)
        second.join(WAIT_SECONDS)
        assert responses[0].status_code == 200
        assert httpx.get(f"{url}/api/v1/models").json()["count"] == 2


REQUEST_LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO devon.http: GET /api/v1/status 200 \d+\.\d ms"
)


def test_request_lines_written_by_devons_own_handler_are_one_per_request_in_its_format(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As under `devon serve`: DEVON's handler is the only destination (no root handlers),
    # so the request log writes the lines itself, several per write under load.
    stream = io.StringIO()
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    devon_logger = logging.getLogger("devon")
    monkeypatch.setattr(devon_logger, "handlers", [])
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging()
    record = logging.LogRecord(
        "devon.http", logging.INFO, "", 0, "GET /api/v1/status 200 1.0 ms", (), None
    )
    assert REQUEST_LINE.fullmatch(devon_logger.handlers[0].format(record))
    with serving(create_app(fake_devon(), request_log=RequestLog())) as url:
        threads = [
            threading.Thread(target=lambda: [httpx.get(f"{url}/api/v1/status") for _ in range(5)])
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_SECONDS)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 40
    assert all(REQUEST_LINE.fullmatch(line) for line in lines), lines[:3]


@pytest.fixture
def devons_stream(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What DEVON's own handler writes, installed as under `devon serve`: it is the only
    destination (no root handlers), so the request log writes the lines itself."""
    stream = io.StringIO()
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    monkeypatch.setattr(logging.getLogger("devon"), "handlers", [])
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging()
    return stream


def test_a_request_line_reaches_devons_stream_while_the_server_keeps_running(
    devons_stream: io.StringIO,
) -> None:
    stream = devons_stream
    with serving(create_app(fake_devon(), request_log=RequestLog())) as url:
        httpx.get(f"{url}/api/v1/status")

        wait_until(lambda: "GET /api/v1/status 200" in stream.getvalue(), "the request line")

        assert len(stream.getvalue().splitlines()) == 1


def test_control_characters_in_a_path_are_escaped_in_lines_devons_handler_writes(
    devons_stream: io.StringIO,
) -> None:
    stream = devons_stream
    with serving(create_app(fake_devon(), request_log=RequestLog())) as url:
        httpx.get(f"{url}/api/v1/models/x%0d%0a2026-01-01 INFO devon.http: GET /forged 200%1b[31m")

        wait_until(lambda: "forged" in stream.getvalue(), "the request line")

    [line] = stream.getvalue().splitlines()
    assert "\r" not in line
    assert "\x1b" not in line
    assert "x\\x0d\\x0a2026-01-01 INFO devon.http: GET /forged 200\\x1b[31m 400 " in line


EXITS_RIGHT_AFTER_A_REQUEST = """
import asyncio
from devon_http.guard import HttpSecurity, RequestGuard
from devon_http.request_log import RequestLog, configure_logging

async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})

async def one_request():
    async def receive():
        return {"type": "http.request"}
    async def send(message):
        pass
    guarded = RequestGuard(app, HttpSecurity(), RequestLog())
    await guarded({"type": "http", "method": "GET", "path": "/last", "headers": []}, receive, send)

configure_logging()
asyncio.run(one_request())
"""


def test_a_request_line_is_written_when_the_process_exits_before_its_write() -> None:
    done = subprocess.run(
        [sys.executable, "-c", EXITS_RIGHT_AFTER_A_REQUEST],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert "INFO devon.http: GET /last 200" in done.stderr
