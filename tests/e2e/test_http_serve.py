"""`serve`: the API under uvicorn as `devon serve` runs it, with several workers on one vault."""

import asyncio
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from devon_app import Settings
from devon_http.serve import (
    bound_settings,
    exposure_warning,
    host_warning,
    is_loopback,
    tcp_listener,
)
from devon_testhub import TestHub
from tests.support.hf_helpers import SHARDY
from tests.support.http_support import WAIT_SECONDS
from tests.support.process_support import serve_process


@pytest.fixture
def two_workers(test_hub: TestHub, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    env = os.environ | {
        "DEVON_STORAGE_PATH": str(tmp_path / "vault"),
        "HF_ENDPOINT": test_hub.url,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "DEVON_API_KEY": "",
    }
    with serve_process(env, workers=2) as served:
        yield served


def test_two_workers_serve_one_vault_and_log_each_request(
    two_workers: tuple[str, subprocess.Popen[str]],
) -> None:
    url, server = two_workers
    downloaded = httpx.post(f"{url}/api/v1/downloads", json={"model_id": SHARDY}, timeout=30)
    assert downloaded.status_code == 200
    # Fresh connections land on either worker; every one sees the committed model.
    for _ in range(6):
        with httpx.Client() as client:
            models = client.get(f"{url}/api/v1/models").json()["models"]
        assert [m["model_id"] for m in models] == [SHARDY]

    server.send_signal(signal.SIGINT)
    output, _ = server.communicate(timeout=WAIT_SECONDS)
    assert "POST /api/v1/downloads 200" in output
    assert output.count("GET /api/v1/models 200") == 6


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.53"])
def test_loopback_addresses_are_recognised(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "devon.example.org"])
def test_other_addresses_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_serving_beyond_loopback_without_a_key_warns() -> None:
    warning = exposure_warning("0.0.0.0", None)
    assert warning is not None
    assert "DEVON_API_KEY" in warning


def test_serving_beyond_loopback_with_a_key_does_not_warn() -> None:
    assert exposure_warning("0.0.0.0", "k") is None
    assert exposure_warning("127.0.0.1", None) is None


def test_settings_handed_to_workers_read_back_the_same(tmp_path: Path) -> None:
    settings = Settings(
        storage_path=tmp_path / "vault",
        max_storage_bytes=5 * 1024**3,
        verify_checksums=False,
        api_key="k",
        hf_token="hf_x",
        hf_endpoint="http://127.0.0.1:1234",
        host="0.0.0.0",
        port=8123,
        workers=3,
    )
    env = settings.as_env() | {"DEVON_CONFIG_PATH": ""}
    assert Settings.from_env(env) == settings


def nodelay_of_accepted_connection(listener: socket.socket) -> int:
    """TCP_NODELAY of a connection asyncio accepts on `listener` (as a uvicorn worker does)."""

    async def accept_one() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        with socket.create_connection(listener.getsockname()[:2]):
            value = await asyncio.wait_for(accepted, WAIT_SECONDS)
        server.close()
        return value

    return asyncio.run(accept_one())


def test_listener_shared_by_workers_gives_connections_tcp_nodelay() -> None:
    config = uvicorn.Config("devon_http.asgi:create_default_app", host="127.0.0.1", port=0)
    listener = tcp_listener(config.bind_socket())
    assert listener.proto == socket.IPPROTO_TCP
    assert nodelay_of_accepted_connection(listener) != 0


def test_serving_beyond_loopback_without_allowed_hosts_warns() -> None:
    warning = host_warning("0.0.0.0", ())
    assert warning is not None
    assert "DEVON_ALLOWED_HOSTS" in warning
    assert host_warning("0.0.0.0", ("devon.lan",)) is None
    assert host_warning("127.0.0.1", ()) is None


def test_a_loopback_server_answers_to_the_loopback_names_by_default(tmp_path: Path) -> None:
    settings = bound_settings(Settings(storage_path=tmp_path), "127.0.0.1")
    assert set(settings.allowed_hosts) == {"localhost", "127.0.0.1", "::1"}


def test_a_server_beyond_loopback_answers_to_the_listed_hosts(tmp_path: Path) -> None:
    listed = Settings(storage_path=tmp_path, allowed_hosts=("devon.lan",))
    assert bound_settings(listed, "0.0.0.0").allowed_hosts == ("devon.lan",)
    assert bound_settings(Settings(storage_path=tmp_path), "0.0.0.0").allowed_hosts == ("*",)


def test_security_settings_reach_the_workers(tmp_path: Path) -> None:
    settings = Settings(
        storage_path=tmp_path,
        allowed_hosts=("devon.lan", "10.0.0.5"),
        cors_origins=("https://kitt.lan",),
        frame_ancestors=("'self'",),
        header_timeout_s=3.0,
        keepalive_timeout_s=2.0,
        max_connections=9,
    )
    env = settings.as_env() | {"DEVON_CONFIG_PATH": ""}
    assert Settings.from_env(env) == settings
