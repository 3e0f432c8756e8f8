"""A download job always ends: a full disk or a lost index database mid-download answers the
waiting request (507 / 503), ends the job, and a new request for the model works once the
disk has room again or the database is back (issue 25, item 2)."""

import contextlib
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from devon_adapters import IndexJobStore
from devon_adapters.index.reserve import SpaceReserve
from devon_adapters.index.sqlite import Index
from devon_core import InsufficientStorage, JobProgress, JobRequest, JobStatus
from devon_testhub import Catalogue, TestHub
from tests.support.fixtures import cleared
from tests.support.job_support import JSON, WAIT, finished
from tests.support.postgres_support import SERVER, scratch_database, url_with_schema
from tests.support.process_support import serve_process
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

MODEL = "jobs/big-24mb"
MODEL_BYTES = 24 * 1024 * 1024
T = datetime(2026, 12, 1, tzinfo=UTC)
STOP_WITHIN_S = 10.0
"""Stopping waits on no job: the server's own bounds (a few seconds) with room for a
machine shared by several test sessions."""
RATE = 6 * 1024 * 1024
"""Bytes per second the hub sends: the model takes about 4 s."""


@pytest.fixture(scope="module")
def module_hub() -> Iterator[TestHub]:
    catalogue = Catalogue.default().with_large_repo(MODEL, MODEL_BYTES, shards=2)
    catalogue.warm()
    with TestHub(catalogue) as hub:
        yield hub


@pytest.fixture
def hub(module_hub: TestHub) -> Iterator[TestHub]:
    yield from cleared(module_hub, RATE)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 40 MB filesystem of the test's own (tmpfs), unmounted after."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def server_env(hub: TestHub, tmp_path: Path, vault: Path, **extra: str) -> dict[str, str]:
    return os.environ | {
        "DEVON_STORAGE_PATH": str(vault),
        "HF_ENDPOINT": hub.url,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "DEVON_API_KEY": "",
        **extra,
    }


class Waiting:
    """A waiting `POST /api/v1/downloads` in a thread of its own."""

    def __init__(self, url: str, model_id: str) -> None:
        self.response: httpx.Response | None = None
        self.answered_at: float | None = None
        self._thread = threading.Thread(target=self._post, args=(url, model_id), daemon=True)
        self._thread.start()

    def _post(self, url: str, model_id: str) -> None:
        self.response = httpx.post(
            f"{url}/api/v1/downloads", json={"model_id": model_id}, headers=JSON, timeout=WAIT * 4
        )
        self.answered_at = time.monotonic()

    def answer(self) -> httpx.Response:
        self._thread.join(WAIT * 4)
        assert self.response is not None, "the waiting request never answered"
        return self.response


def the_job_started(url: str, model_id: str) -> dict[str, Any]:
    """The job of `model_id` once it is downloading."""
    deadline = time.monotonic() + WAIT
    while True:
        jobs = httpx.get(f"{url}/api/v1/downloads", timeout=WAIT).json()["jobs"]
        mine = [j for j in jobs if j["model_id"] == model_id]
        if mine and mine[0]["status"] == "downloading":
            return dict(mine[0])
        assert time.monotonic() < deadline, f"no job of {model_id} started: {jobs}"
        time.sleep(0.05)


def start_job(url: str, model_id: str) -> dict[str, Any]:
    """A job of `model_id` started without waiting."""
    response = httpx.post(
        f"{url}/api/v1/downloads",
        json={"model_id": model_id, "wait": False},
        headers=JSON,
        timeout=WAIT,
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def the_job(url: str, model_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while True:
        jobs = httpx.get(f"{url}/api/v1/downloads", timeout=WAIT).json()["jobs"]
        mine = [j for j in jobs if j["model_id"] == model_id]
        if mine and mine[0]["bytes_done"] > 0:
            return dict(mine[0])
        assert time.monotonic() < deadline, f"no job of {model_id} under way: {jobs}"
        time.sleep(0.05)


def fill(disk: Path, name: str = "filler") -> Path:
    """Write a file on `disk` until the disk is full."""
    filler = disk / name
    chunk = b"\0" * (256 * 1024)
    with contextlib.suppress(OSError), filler.open("wb") as out:
        while True:
            out.write(chunk)
            out.flush()
    return filler


def test_a_disk_filling_mid_download_answers_507_ends_the_job_and_a_new_post_works(
    hub: TestHub, tmp_path: Path, small_disk: Path
) -> None:
    env = server_env(hub, tmp_path, small_disk / "vault")
    with serve_process(env) as (url, _):
        waiting = Waiting(url, MODEL)
        job = the_job(url, MODEL)
        filler = fill(small_disk)

        response = waiting.answer()

        assert response.status_code == 507, response.text
        assert "space" in response.json()["detail"]
        assert waiting.answered_at is not None
        ended = httpx.get(f"{url}/api/v1/downloads/{job['id']}").json()
        assert finished(ended), ended
        assert ended["status"] == "failed"

        filler.unlink()
        again = httpx.post(
            f"{url}/api/v1/downloads", json={"model_id": MODEL}, headers=JSON, timeout=WAIT * 2
        )
        assert again.status_code == 200, again.text
        assert again.json()["size_bytes"] >= MODEL_BYTES


StatusReader = Callable[[str], str | None]


def recorded_status(read: StatusReader, job_id: str) -> str | None:
    """The job's status as the index holds it, read until it is an end (or WAIT passes)."""
    deadline = time.monotonic() + WAIT
    status: str | None = None
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.Error, psycopg.Error):
            status = read(job_id)
            if status in ("completed", "failed", "cancelled"):
                return status
        time.sleep(0.1)
    return status


def sqlite_status(vault: Path) -> StatusReader:
    def read(job_id: str) -> str | None:
        with contextlib.closing(sqlite3.connect(vault / ".devon" / "index.sqlite3")) as db:
            row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else str(row[0])

    return read


def test_an_end_the_full_disk_cannot_record_still_answers_and_is_recorded_once_there_is_room(
    hub: TestHub, tmp_path: Path, small_disk: Path
) -> None:
    vault = small_disk / "vault"
    with serve_process(server_env(hub, tmp_path, vault)) as (url, _):
        waiting = Waiting(url, MODEL)
        job = the_job(url, MODEL)
        fillers = [fill(small_disk)]
        (vault / ".devon" / "index-reserve").unlink(missing_ok=True)  # as if used up
        fillers.append(fill(small_disk, "filler-2"))

        response = waiting.answer()

        assert response.status_code == 507, response.text
        listed = httpx.get(f"{url}/api/v1/downloads").json()["jobs"]
        assert [j["status"] for j in listed if j["id"] == job["id"]] == ["failed"]
        for filler in fillers:
            filler.unlink()
        assert recorded_status(sqlite_status(vault), job["id"]) == "failed"
        again = httpx.post(
            f"{url}/api/v1/downloads", json={"model_id": MODEL}, headers=JSON, timeout=WAIT * 2
        )
        assert again.status_code == 200, again.text


def ended_while_cut(url: str, job_id: str) -> dict[str, Any]:
    """The job as the server answers for it while its database is away: once the download
    process has ended it, the server shows that end (until then it answers 503)."""
    deadline = time.monotonic() + WAIT
    while True:
        response = httpx.get(f"{url}/api/v1/downloads/{job_id}", timeout=WAIT)
        if response.status_code == 200 and finished(response.json()):
            return dict(response.json())
        assert response.status_code in (200, 503), response.text
        assert time.monotonic() < deadline, f"the job never ended: {response.text}"
        time.sleep(0.1)


@contextlib.contextmanager
def served_through_a_proxy(
    hub: TestHub, tmp_path: Path
) -> Iterator[tuple[str, TcpProxy, StatusReader]]:
    """`devon serve` on a PostgreSQL index reached through a proxy the test cuts and
    restores; yields the server's URL, the proxy, and a reader of a job's recorded status."""
    database = scratch_database()
    schema = database.new_schema()
    server = urlsplit(SERVER)

    def read(job_id: str) -> str | None:
        with psycopg.connect(url_with_schema(database.url, schema)) as db:
            row = db.execute("SELECT status FROM jobs WHERE id = %s", (job_id,)).fetchone()
        return None if row is None else str(row[0])

    with TcpProxy((server.hostname or "127.0.0.1", server.port or 5432)) as proxy:
        through_proxy = url_with_schema(
            f"postgresql://127.0.0.1:{proxy.port}/{database.name}", schema
        )
        env = server_env(hub, tmp_path, tmp_path / "vault", DEVON_DATABASE_URL=through_proxy)
        with serve_process(env) as (url, _):
            yield url, proxy, read


def test_postgresql_going_away_mid_download_answers_503_and_the_end_is_recorded_once_back(
    hub: TestHub, tmp_path: Path
) -> None:
    with served_through_a_proxy(hub, tmp_path) as (url, proxy, read):
        waiting = Waiting(url, MODEL)
        job = the_job(url, MODEL)
        proxy.cut()

        response = waiting.answer()

        assert response.status_code == 503, response.text
        assert "cannot be reached" in response.json()["detail"]
        ended = ended_while_cut(url, job["id"])
        assert ended["status"] == "failed"
        assert "cannot be reached" in ended["error"]
        proxy.restore()
        assert recorded_status(read, job["id"]) == "failed"
        again = httpx.post(
            f"{url}/api/v1/downloads", json={"model_id": MODEL}, headers=JSON, timeout=WAIT * 2
        )
        assert again.status_code == 200, again.text


def test_the_event_stream_of_a_job_ends_when_postgresql_goes_away(
    hub: TestHub, tmp_path: Path
) -> None:
    with served_through_a_proxy(hub, tmp_path) as (url, proxy, _):
        job = start_job(url, MODEL)
        names: list[str] = []
        with httpx.stream(
            "GET", f"{url}/api/v1/downloads/{job['id']}/events", timeout=WAIT
        ) as events:
            lines = events.iter_lines()
            while "progress" not in names:
                line = next(lines)
                if line.startswith("event: "):
                    names.append(line.removeprefix("event: "))
            proxy.cut()
            for line in lines:  # to the stream's end
                if line.startswith("event: "):
                    names.append(line.removeprefix("event: "))
        proxy.restore()
    assert names[-1] in ("error", "end")


# -- the job store on a full disk ---------------------------------------------------------


def full_disk_store(vault: Path) -> tuple[IndexJobStore, Index]:
    """A job store on the vault's index (with its reserve), job `a` downloading under `o`."""
    (vault / ".devon").mkdir(parents=True)
    index = Index(vault / ".devon" / "index.sqlite3", SpaceReserve(vault / ".devon" / "reserve"))
    assert index.reserve is not None
    assert index.reserve.restore()
    jobs = IndexJobStore(index)
    jobs.submit(JobRequest("huggingface", MODEL), "a", T)
    assert jobs.claim("o", 2, T) is not None
    return jobs, index


def test_a_job_end_is_recorded_on_a_full_disk_from_the_indexs_reserve(small_disk: Path) -> None:
    jobs, index = full_disk_store(small_disk / "vault")
    fill(small_disk)
    with pytest.raises(InsufficientStorage):  # anything else the index is asked is refused
        jobs.record_progress("a", "o", JobProgress(1, 2), T)

    jobs.finish("a", "o", JobStatus.FAILED, T, error="full", error_kind="insufficient_storage")

    recorded = IndexJobStore(Index(index.path)).get("a")  # as another process reads it
    assert recorded is not None
    assert recorded.status is JobStatus.FAILED
    assert recorded.error == "full"
    assert index.reserve is not None
    assert not index.reserve.present()


def test_a_job_end_the_index_cannot_take_is_kept_in_memory_and_recorded_once_it_can(
    small_disk: Path,
) -> None:
    jobs, index = full_disk_store(small_disk / "vault")
    assert index.reserve is not None
    filler = fill(small_disk)
    index.reserve.release()
    second = fill(small_disk, "filler-2")

    job = jobs.finish(
        "a", "o", JobStatus.FAILED, T, error="full", error_kind="insufficient_storage"
    )

    assert job is not None
    assert job.status is JobStatus.FAILED
    assert jobs.get("a") == job
    assert [j.status for j in jobs.list()] == [JobStatus.FAILED]
    other_process = IndexJobStore(Index(index.path))
    assert other_process.get("a").status is JobStatus.DOWNLOADING  # type: ignore[union-attr]
    filler.unlink()
    second.unlink()
    deadline = time.monotonic() + WAIT
    while other_process.get("a").status is not JobStatus.FAILED:  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the end was never recorded"
        jobs.get("a")  # any use of the store tries again
        time.sleep(0.1)
    assert other_process.get("a") == job


# -- stopping -----------------------------------------------------------------------------


def test_sigterm_stops_the_server_within_seconds_while_a_request_waits_on_a_stuck_job(
    hub: TestHub, tmp_path: Path
) -> None:
    hub.faults.hang("/resolve/")  # the job is stuck: no byte arrives
    try:
        env = server_env(hub, tmp_path, tmp_path / "vault")
        with serve_process(env) as (url, server):
            waiting = Waiting(url, MODEL)
            job = the_job_started(url, MODEL)
            stream = httpx.stream("GET", f"{url}/api/v1/downloads/{job['id']}/events", timeout=WAIT)
            with stream as events:
                assert events.status_code == 200
                server.send_signal(signal.SIGTERM)
                stopping_at = time.monotonic()
                server.wait(STOP_WITHIN_S)
                stopped_after = time.monotonic() - stopping_at
                remaining = b"".join(events.iter_bytes())
            response = waiting.answer()
    finally:
        hub.faults.release()
    assert stopped_after < STOP_WITHIN_S
    assert b"event: end" not in remaining  # the stream ended without a made-up end
    assert response.status_code == 503
    assert "stopping" in response.json()["detail"]
    assert job["id"] in response.json()["detail"]
