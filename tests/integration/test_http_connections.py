"""Connection limits of a served DEVON: a deadline for request headers, keep-alive, a cap."""

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from devon_app import Settings
from devon_http import create_app
from devon_http.connections import LIMITS, LimitedProtocol, set_limits
from devon_http.serve import running
from tests.support.http_support import WAIT_SECONDS, fake_devon

HEADER_TIMEOUT_S = 0.5


@pytest.fixture
def address() -> Iterator[tuple[str, int]]:
    before = (LIMITS.header_timeout_s, LIMITS.max_connections)
    set_limits(HEADER_TIMEOUT_S, 3)
    try:
        with running(create_app(fake_devon()), http=LimitedProtocol, timeout_keep_alive=1) as url:
            parts = urlsplit(url)
            assert parts.hostname is not None
            assert parts.port is not None
            yield parts.hostname, parts.port
    finally:
        set_limits(*before)


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closes `sock` (reads to EOF) within the test's patience."""
    sock.settimeout(WAIT_SECONDS)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    return True


def test_a_connection_trickling_half_a_header_is_closed(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert closed_by_server(sock)


def test_a_connection_that_sends_nothing_is_closed(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        assert closed_by_server(sock)


def test_an_idle_keep_alive_connection_is_closed(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert closed_by_server(sock)


def test_a_request_whose_head_arrives_in_time_is_answered(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        sock.sendall(b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
        sock.settimeout(WAIT_SECONDS)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def test_connections_beyond_the_cap_get_503(address: tuple[str, int]) -> None:
    held = [socket.create_connection(address) for _ in range(3)]
    try:
        for sock in held:  # each is accepted: the server has seen it
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            sock.settimeout(WAIT_SECONDS)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        with socket.create_connection(address) as extra:
            extra.settimeout(WAIT_SECONDS)
            answer = b""
            while chunk := extra.recv(4096):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503")
        assert list(json.loads(body)) == ["detail"]
    finally:
        for sock in held:
            sock.close()


def answer_beyond_the_cap(address: tuple[str, int], request: bytes) -> bytes:
    """The whole answer to `request` on a connection made while 3 others hold the cap."""
    held = [socket.create_connection(address) for _ in range(3)]
    try:
        for sock in held:  # each is accepted and busy: the server has seen it
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            sock.settimeout(WAIT_SECONDS)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        with socket.create_connection(address) as extra:
            extra.sendall(request)
            extra.settimeout(WAIT_SECONDS)
            answer = b""
            while chunk := extra.recv(4096):
                answer += chunk
        return answer
    finally:
        for sock in held:
            sock.close()


def test_health_is_answered_even_when_every_connection_is_taken(
    address: tuple[str, int],
) -> None:
    answer = answer_beyond_the_cap(address, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body)["status"] == "ok"


def test_any_other_request_beyond_the_cap_gets_503(address: tuple[str, int]) -> None:
    answer = answer_beyond_the_cap(
        address, b"GET /api/v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503")
    assert list(json.loads(body)) == ["detail"]


def test_limits_are_settings_with_defaults() -> None:
    settings = Settings.from_env({"DEVON_CONFIG_PATH": ""})
    assert (settings.header_timeout_s, settings.keepalive_timeout_s) == (10.0, 5.0)
    assert settings.max_connections == 512
    custom = Settings.from_env(
        {
            "DEVON_CONFIG_PATH": "",
            "DEVON_HEADER_TIMEOUT": "2.5",
            "DEVON_KEEPALIVE_TIMEOUT": "1",
            "DEVON_MAX_CONNECTIONS": "64",
        }
    )
    assert (custom.header_timeout_s, custom.keepalive_timeout_s, custom.max_connections) == (
        2.5,
        1.0,
        64,
    )


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("DEVON_HEADER_TIMEOUT", "0"),
        ("DEVON_KEEPALIVE_TIMEOUT", "x"),
        ("DEVON_MAX_CONNECTIONS", "0"),
    ],
)
def test_a_bad_limit_names_its_variable(var: str, value: str) -> None:
    from devon_core.errors import InvalidInput

    with pytest.raises(InvalidInput, match=var):
        Settings.from_env({"DEVON_CONFIG_PATH": "", var: value})
