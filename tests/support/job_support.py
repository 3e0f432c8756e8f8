"""Shared pieces of the download-job tests: a test hub with a model big enough to watch
(throttled per test), DEVON served on a real loopback socket over a temporary vault, and
small clients for jobs and their event stream."""

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from devon_app import Settings, build_devon
from devon_core import Devon
from devon_http import create_app
from devon_http.serve import running
from devon_testhub import Catalogue, TestHub
from tests.support.hf_helpers import source_for

BIG = "jobs/big-8mb"
BIG_BYTES = 8 * 1024 * 1024
BIG_SHARDS = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
BIG_FILES = sorted(
    [*BIG_SHARDS, ".gitattributes", "README.md", "config.json", "model.safetensors.index.json"]
)
SLOW = 2 * 1024 * 1024
"""Bytes per second of the throttled hub: the big model takes about 4 s."""
WAIT = 30.0
"""Generous: eight test sessions share two cores."""
JSON = {"Content-Type": "application/json"}


def jobs_catalogue() -> Catalogue:
    catalogue = Catalogue.default().with_large_repo(BIG, BIG_BYTES, shards=2)
    catalogue.warm()
    return catalogue


def devon_on(vault: Path, hub: TestHub, **settings: Any) -> Devon:
    return build_devon(
        Settings(storage_path=vault, hf_endpoint=hub.url, **settings),
        sources=[source_for(hub)],
    )


def serve_devon(devon: Devon, **options: Any) -> Iterator[str]:
    with running(create_app(devon, **options)) as url:
        yield url


def post_download(url: str, body: dict[str, Any], timeout: float = WAIT) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/downloads", json=body, headers=JSON, timeout=timeout)


def start(url: str, model_id: str, **fields: Any) -> dict[str, Any]:
    response = post_download(url, {"model_id": model_id, "wait": False, **fields})
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


def get_job(url: str, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/api/v1/downloads/{job_id}", timeout=WAIT)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def wait_for(
    url: str, job_id: str, condition: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while True:
        job = get_job(url, job_id)
        if condition(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}: {job}")
        time.sleep(0.05)


def finished(job: dict[str, Any]) -> bool:
    return job["status"] in ("completed", "failed", "cancelled")


def under_way(job: dict[str, Any]) -> bool:
    """Downloading, with some bytes fetched and most still to come."""
    done: int = job["bytes_done"]
    return job["status"] == "downloading" and 0 < done < BIG_BYTES // 2


def read_events(url: str, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every event of the job's stream, until the server closes it."""
    events = []
    with httpx.stream("GET", f"{url}/api/v1/downloads/{job_id}/events", timeout=WAIT) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-cache"
        name = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: ") and name:
                events.append((name, json.loads(line.removeprefix("data: "))))
    return events
