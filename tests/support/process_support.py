"""Processes a test started, with what they started in turn (Linux `/proc`), and `serve()`
in a process of its own (`serve_process`)."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.http_support import WAIT_SECONDS


def children_of(pid: int) -> list[int]:
    """The processes `pid` started that still run."""
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


def descendants_of(pid: int) -> list[int]:
    """`pid`'s children, theirs, and so on."""
    found: list[int] = []
    waiting = [pid]
    while waiting:
        children = children_of(waiting.pop())
        found += children
        waiting += children
    return found


def signal_host(pid: int, signum: int) -> None:
    """`signum` to a `devon serve` process (`pid`, which leads its process group) and to
    every process under it: its workers share its group, but its download processes lead
    sessions of their own (ADR 0133). They are found before any is signalled, so that none
    is missed for having been orphaned by the signal."""
    under = descendants_of(pid)
    os.killpg(pid, signum)
    for process in under:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process, signum)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve_process(
    env: Mapping[str, str], workers: int = 1, output: int = subprocess.PIPE
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`serve()` in a process of its own on a free port, with `env`; yields its URL and
    process once `/health` answers, and stops it with Ctrl-C's signal afterwards."""
    port = free_port()
    code = f"from devon_http.serve import serve; serve(port={port}, workers={workers})"
    server = subprocess.Popen(
        [sys.executable, "-c", code],
        env=dict(env),
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, server)
        yield url, server
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_for_health(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS * 2
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(
                f"the server exited: {server.stdout.read() if server.stdout else ''}"
            )
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("the server never answered /health")
