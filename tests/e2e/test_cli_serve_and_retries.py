"""What a person sees when things go wrong around a download or a server: retries on the
progress bar (and as lines when piped), a busy port as one `error:` line and exit 1 for
`devon serve` and the test hub, and what `devon serve` logs when it starts."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devon_testhub import TestHub
from tests.support.cli_process import COMMAND, Terminal, cli_env, run_piped

TINY = "tinyco/Tiny-0.5B-Instruct"


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_a_retried_transfer_is_reported_on_its_own_line_when_piped(
    tmp_path: Path, test_hub: TestHub
) -> None:
    test_hub.faults.fail_requests(503, times=1, path_contains="model.safetensors", method="GET")
    result = run_piped(cli_env(tmp_path / "vault", test_hub.url), "download", TINY)
    assert result.code == 0, result
    assert "retrying model.safetensors: the Hub answered HTTP 503; retry 2 of 6 in 1 s\n" in (
        result.stderr
    )


def test_a_retried_transfer_shows_on_the_progress_bar(tmp_path: Path, test_hub: TestHub) -> None:
    test_hub.faults.fail_requests(503, times=1, path_contains="model.safetensors", method="GET")
    terminal = Terminal(cli_env(tmp_path / "vault", test_hub.url), "download", TINY, columns=160)
    assert terminal.finish() == 0
    assert "model.safetensors: the Hub answered HTTP 503; retry 2 of 6 in 1 s" in terminal.output
    assert f"Downloaded {TINY}: " in terminal.output


def test_serve_on_a_busy_port_is_one_error_line_and_exit_1(
    tmp_path: Path, test_hub: TestHub, busy_port: int
) -> None:
    env = cli_env(tmp_path / "vault", test_hub.url)
    result = run_piped(env, "serve", "--port", str(busy_port))
    assert result.code == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: cannot listen on 127.0.0.1:{busy_port}: Address already in use "
        "(another server is using it: pick another --port)"
    )
    assert sum(line.startswith("error") for line in result.stderr.splitlines()) == 1
    assert "startup complete" not in result.stderr


def test_the_test_hub_on_a_busy_port_is_one_error_line_and_exit_1(busy_port: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "devon_testhub", "--port", str(busy_port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == f"error: cannot listen on 127.0.0.1:{busy_port}: Address already in use\n"


def test_serve_logs_the_vault_and_each_source_endpoint_at_start(
    tmp_path: Path, test_hub: TestHub
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = cli_env(tmp_path / "vault", test_hub.url)
    server = subprocess.Popen(
        [*COMMAND, "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        assert server.stderr is not None
        while not any("startup complete" in line for line in lines):
            assert time.monotonic() < deadline, lines
            assert server.poll() is None, lines
            lines.append(server.stderr.readline())
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(60)
    log = "".join(lines)
    assert f"vault at {tmp_path / 'vault'}" in log
    assert f"source huggingface at {test_hub.url}" in log
    assert f"serving on http://127.0.0.1:{port}" in log
