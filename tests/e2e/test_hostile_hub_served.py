"""`devon serve` against a Hub that streams JSON without end or trickles it: the request
gets a 502 naming the Hub, the server's memory stays bounded, it stops reading when the
client leaves, and SIGTERM ends it within seconds even mid-answer (a behaviour bound, not
a speed target)."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli_process import cli_env
from tests.support.hostile_hub import (
    HostileHub,
    endless,
    endless_model_list,
    endless_siblings,
    hostile_hub_fixture,
)
from tests.support.process_support import descendants_of, free_port, wait_for_health

MODEL = "hostile/model"
MEMORY_BOUND = 300 * 1024 * 1024
STOPS_WITHIN_S = 10.0
"""SIGTERM waits 3 s for requests in flight (`SHUTDOWN_GRACE_S`), then stops them."""
WAIT_S = 60.0


@pytest.fixture
def server(hub: HostileHub, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "devon_cli", "serve", "--port", str(port)],
        env=cli_env(tmp_path / "vault", hub.url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for_health(url, process)
        yield url, process
    finally:
        under = descendants_of(process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        for pid in under:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class PeakMemory:
    """The largest resident size `pid` reached while the block ran (sampled every 20 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            with contextlib.suppress(OSError, ValueError):
                self.peak = max(self.peak, rss_of(self.pid))

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def test_endless_hub_answers_get_a_502_naming_the_hub_while_memory_stays_bounded(
    hub: HostileHub, server: tuple[str, subprocess.Popen[str]]
) -> None:
    url, process = server
    hub.answers["/api/models"] = endless_model_list()
    hub.answers[f"/api/models/{MODEL}"] = endless_siblings(MODEL)
    with PeakMemory(process.pid) as memory:
        answers = [
            httpx.get(f"{url}/api/v1/search", params={"query": "x"}, timeout=WAIT_S)
            for _ in range(3)
        ]
        answers.append(httpx.get(f"{url}/api/v1/models/huggingface/{MODEL}", timeout=WAIT_S))
    for answer in answers:
        assert answer.status_code == 502
        detail = answer.json()["detail"]
        assert f"Hugging Face at {hub.url}" in detail
        assert "its answer was larger than 4.0 MiB, and was cut there" in detail
    print(f"peak resident size: {memory.peak / 2**20:.0f} MiB")
    assert 0 < memory.peak < MEMORY_BOUND
    assert all(asked.hung_up_at is not None for asked in hub.asked)


def test_the_server_stops_reading_the_hub_when_the_client_leaves(
    hub: HostileHub, server: tuple[str, subprocess.Popen[str]]
) -> None:
    url, _ = server
    hub.answers["/api/models"] = endless(b"[", b" ", every_s=0.05)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{url}/api/v1/search", params={"query": "x"}, timeout=1.0)
    left_at = time.monotonic()
    wait_for(lambda: hub.asked and hub.asked[0].hung_up_at is not None, "DEVON to hang up")
    # The answer's own deadline is 60 s: only the client leaving explains a hang-up now.
    assert hub.asked[0].hung_up_at is not None
    assert hub.asked[0].hung_up_at - left_at < 10.0


ASKING = {
    "a search": ("GET", "/api/v1/search?query=x", None),
    "a model's details": ("GET", f"/api/v1/models/huggingface/{MODEL}", None),
    "a download naming a quantisation": ("POST", "/api/v1/downloads", f"{MODEL}:Q4_K_M"),
}


@pytest.mark.parametrize(("method", "path", "model"), list(ASKING.values()), ids=list(ASKING))
def test_sigterm_stops_the_server_within_seconds_while_a_hub_answer_trickles(
    hub: HostileHub,
    server: tuple[str, subprocess.Popen[str]],
    method: str,
    path: str,
    model: str | None,
) -> None:
    url, process = server
    hub.answers["/api/models"] = endless(b"[", b" ", every_s=0.05)
    body = None if model is None else {"model_id": model}

    answers: list[httpx.Response] = []

    def ask() -> None:
        answers.append(httpx.request(method, f"{url}{path}", json=body, timeout=WAIT_S))

    client = threading.Thread(target=ask)
    client.start()
    wait_for(lambda: hub.asked, "the request to reach the Hub")
    process.send_signal(signal.SIGTERM)
    process.wait(STOPS_WITHIN_S)
    client.join(WAIT_S)
    wait_for(lambda: hub.asked[0].hung_up_at is not None, "the Hub to see DEVON hang up")
    assert answers[0].status_code == 503
    assert answers[0].json() == {
        "detail": "The server is shutting down and stopped this request; ask again once it is back"
    }


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


__all__ = ["hostile_hub_fixture"]  # the fixture `hub`, used by the tests above
