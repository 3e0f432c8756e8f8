"""Never stale: a change made by any process (the library, the CLI, another worker) shows in
the very next response of every server worker, whatever each had prepared before."""

import contextlib
import http.client
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from devon_adapters import DiskModelStore
from tests.support.cli_process import cli_env, run_piped
from tests.support.process_support import children_of, serve_process
from tests.support.vault_builders import T0, put_model

MAX_CONNECTIONS = 200
MODELS = [f"acme/widget-{i}" for i in range(5)]
EXPORT = {"format": "json"}


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    store = DiskModelStore(tmp_path / "vault")
    for model_id in MODELS:
        put_model(store, model_id)
    store.close()
    return tmp_path / "vault"


@pytest.fixture
def served(vault: Path) -> Iterator[tuple[str, int]]:
    env = cli_env(vault, "http://127.0.0.1:9") | {
        "XDG_CONFIG_HOME": str(vault.parent / "config"),
        "DEVON_API_KEY": "",
    }
    with serve_process(env, workers=2, output=subprocess.DEVNULL) as (url, server):
        yield url, server.pid


class Connection:
    """One keep-alive HTTP/1.1 connection, which stays with the worker that accepted it."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.http = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        self.http.connect()
        assert self.http.sock is not None
        self.local_port: int = self.http.sock.getsockname()[1]

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.http.request(method, path, body=data, headers=headers)
        response = self.http.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        assert status == 200, body
        return body


def worker_holding(server_pid: int, server_port: int, client_port: int) -> int | None:
    """The pid of the server's child process that holds the connection from `client_port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], fields[9]
                if int(local.rsplit(":", 1)[1], 16) == server_port and (
                    int(remote.rsplit(":", 1)[1], 16) == client_port
                ):
                    inodes.add(f"socket:[{inode}]")
    for child in children_of(server_pid):
        fd_dir = Path(f"/proc/{child}/fd")
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in inodes for fd in fd_dir.iterdir()):
                return child
    return None


@pytest.fixture
def connections(served: tuple[str, int]) -> Iterator[list[Connection]]:
    """Connections until both workers hold at least two each (the kernel picks the worker)."""
    url, server_pid = served
    port = urlsplit(url).port or 0
    opened: list[Connection] = []
    held: dict[int, int] = {}
    try:
        while min(held.values(), default=0) < 2 or len(held) < 2:
            assert len(opened) < MAX_CONNECTIONS, f"connections reached only workers {held}"
            connection = Connection(url)
            connection.get("/health")
            worker = worker_holding(server_pid, port, connection.local_port)
            assert worker is not None
            held[worker] = held.get(worker, 0) + 1
            opened.append(connection)
        yield opened
    finally:
        for connection in opened:
            connection.http.close()


def prime(connections: list[Connection]) -> None:
    """Every connection asks each read endpoint, so both workers hold prepared answers."""
    for connection in connections:
        connection.get("/api/v1/models")
        connection.get("/api/v1/status")
        assert connection.request("POST", "/api/v1/export", EXPORT)[0] == 200


def listed(connection: Connection) -> list[str]:
    return [m["model_id"] for m in connection.get("/api/v1/models")["models"]]


def test_a_removal_by_the_library_shows_in_every_worker_next_answer(
    vault: Path, connections: list[Connection]
) -> None:
    prime(connections)
    store = DiskModelStore(vault)
    store.remove("huggingface", MODELS[0])
    store.close()
    for connection in connections:
        assert listed(connection) == MODELS[1:]
        assert connection.get("/api/v1/status")["model_count"] == len(MODELS) - 1
        _, exported = connection.request("POST", "/api/v1/export", EXPORT)
        assert [e["model_id"] for e in exported["content"]] == MODELS[1:]


def test_a_removal_by_the_cli_shows_in_every_worker_next_answer(
    vault: Path, connections: list[Connection]
) -> None:
    prime(connections)
    done = run_piped(cli_env(vault, "http://127.0.0.1:9"), "remove", MODELS[2], "--yes")
    assert done.code == 0, done.stderr
    for connection in connections:
        assert listed(connection) == [m for m in MODELS if m != MODELS[2]]


def test_a_model_marked_used_by_the_library_shows_in_every_worker_next_listing(
    vault: Path, connections: list[Connection]
) -> None:
    prime(connections)
    store = DiskModelStore(vault)
    store.mark_used("huggingface", MODELS[4], T0)
    store.close()
    for connection in connections:
        used = {m["model_id"]: m["last_used"] for m in connection.get("/api/v1/models")["models"]}
        assert used[MODELS[4]] == "2025-02-12T14:30:00.123456+00:00"


def test_a_removal_through_one_worker_shows_in_the_other_worker_next_answer(
    connections: list[Connection],
) -> None:
    prime(connections)
    status, _ = connections[0].request("DELETE", f"/api/v1/models/huggingface/{MODELS[1]}")
    assert status == 200
    for connection in connections:
        assert MODELS[1] not in listed(connection)
        assert connection.get("/api/v1/status")["model_count"] == len(MODELS) - 1
