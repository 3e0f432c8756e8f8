"""Download jobs over HTTP on a real loopback socket, with the real Hugging Face source
fetching from a throttled test hub into a vault on disk."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devon_testhub import TestHub
from tests.support.hf_helpers import WIDGET
from tests.support.job_support import (
    BIG,
    BIG_BYTES,
    BIG_FILES,
    JSON,
    WAIT,
    devon_on,
    finished,
    get_job,
    post_download,
    read_events,
    serve_devon,
    start,
    under_way,
    wait_for,
)

SLACK = 256 * 1024
"""Bytes in flight when a transfer is stopped (socket buffers), which a resume asks again."""


@pytest.fixture
def hub(jobs_hub: TestHub) -> TestHub:
    return jobs_hub


@pytest.fixture
def url(hub: TestHub, tmp_path: Path) -> Iterator[str]:
    yield from serve_devon(devon_on(tmp_path / "vault", hub))


def in_background(call: Any) -> tuple[threading.Thread, list[Any]]:
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(call()))
    thread.start()
    return thread, results


def test_a_download_without_waiting_answers_202_with_its_location_and_the_job(
    url: str,
) -> None:
    response = post_download(url, {"model_id": BIG, "wait": False})
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/api/v1/downloads/{job['id']}"
    assert job["status"] in ("queued", "downloading")
    assert (job["model_id"], job["source"], job["force"]) == (BIG, "huggingface", False)
    assert job["result"] is None
    assert job["error"] is None
    assert job["completed_at"] is None

    done = wait_for(url, job["id"], finished, "the job to finish")
    assert done["status"] == "completed"
    assert done["result"]["files"] == BIG_FILES
    listed = httpx.get(f"{url}/api/v1/models").json()["models"]
    assert [m["model_id"] for m in listed] == [BIG]
    assert done["result"]["path"] == listed[0]["path"]


def test_progress_grows_while_a_throttled_download_runs(url: str) -> None:
    job = start(url, BIG)
    seen = [wait_for(url, job["id"], under_way, "the first bytes")["bytes_done"]]
    later = wait_for(url, job["id"], lambda j: j["bytes_done"] > seen[0], "more bytes")
    assert later["bytes_total"] >= BIG_BYTES
    assert later["files_total"] == len(BIG_FILES)
    assert later["started_at"] is not None
    speed = wait_for(url, job["id"], lambda j: bool(j["bytes_per_second"]), "a speed")
    assert speed["bytes_per_second"] > 0
    done = wait_for(url, job["id"], finished, "the job to finish")
    assert (done["bytes_done"], done["files_done"]) == (done["bytes_total"], len(BIG_FILES))
    assert done["bytes_per_second"] is None


def test_the_event_stream_delivers_progress_then_one_end_and_closes(url: str) -> None:
    job = start(url, BIG)
    events = read_events(url, job["id"])
    names = [name for name, _ in events]
    assert names[-1] == "end"
    assert names.count("end") == 1
    progress = [data for name, data in events if name == "progress"]
    assert any(data["status"] == "downloading" for data in progress)
    done = [data["bytes_done"] for data in progress]
    assert done == sorted(done)
    assert len(set(done)) > 1
    assert events[-1][1]["status"] == "completed"
    assert events[-1][1]["id"] == job["id"]


def test_a_finished_job_gets_its_end_at_once(url: str, hub: TestHub) -> None:
    hub.faults.set_bandwidth(0)
    job = start(url, WIDGET, include_patterns=["*Q2_K*"])
    wait_for(url, job["id"], finished, "the job to finish")
    assert [name for name, _ in read_events(url, job["id"])] == ["end"]


def test_cancel_stops_the_transfer_within_two_seconds_and_lists_nothing(
    url: str, hub: TestHub
) -> None:
    job = start(url, BIG)
    wait_for(url, job["id"], under_way, "the transfer to be under way")
    response = httpx.delete(f"{url}/api/v1/downloads/{job['id']}")
    cancelled_at = time.monotonic()
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    while hub.stats.in_flight:
        assert time.monotonic() - cancelled_at < 2.0, "the hub was still sending"
        time.sleep(0.02)
    assert get_job(url, job["id"])["status"] == "cancelled"
    assert httpx.get(f"{url}/api/v1/models").json()["count"] == 0


def test_a_restarted_job_gets_a_new_id_and_resumes_from_its_partial_files(
    url: str, hub: TestHub
) -> None:
    job = start(url, BIG)
    wait_for(url, job["id"], under_way, "the transfer to be under way")
    httpx.delete(f"{url}/api/v1/downloads/{job['id']}")
    while hub.stats.in_flight:
        time.sleep(0.02)
    served_before = hub.stats.bytes_served("/resolve/")
    hub.faults.set_bandwidth(0)

    response = httpx.post(f"{url}/api/v1/downloads/{job['id']}/restart")
    assert response.status_code == 202
    again = response.json()
    assert again["id"] != job["id"]
    assert response.headers["location"] == f"/api/v1/downloads/{again['id']}"
    assert wait_for(url, again["id"], finished, "the restart")["status"] == "completed"
    assert any(start and start > 0 for start in hub.stats.range_starts("safetensors"))
    total_served = hub.stats.bytes_served("/resolve/")
    assert total_served - served_before < BIG_BYTES


def test_asking_again_for_a_cancelled_download_fetches_nothing_twice(
    url: str, hub: TestHub
) -> None:
    job = start(url, BIG)
    wait_for(url, job["id"], under_way, "the transfer to be under way")
    httpx.delete(f"{url}/api/v1/downloads/{job['id']}")
    while hub.stats.in_flight:  # the cancelled transfer stops (within 2 s)
        time.sleep(0.02)
    hub.faults.set_bandwidth(0)
    response = post_download(url, {"model_id": BIG})
    assert response.status_code == 200
    assert any(start and start > 0 for start in hub.stats.range_starts("safetensors"))
    assert hub.stats.bytes_served("safetensors") <= BIG_BYTES + SLACK


def test_a_finished_job_cannot_be_cancelled_and_a_running_one_cannot_be_restarted(
    url: str, hub: TestHub
) -> None:
    job = start(url, BIG)
    wait_for(url, job["id"], lambda j: j["status"] == "downloading", "the download to start")
    restart = httpx.post(f"{url}/api/v1/downloads/{job['id']}/restart")
    assert restart.status_code == 409
    assert "only a failed or cancelled job can be restarted" in restart.json()["detail"]
    hub.faults.set_bandwidth(0)
    wait_for(url, job["id"], finished, "the job to finish")
    cancel = httpx.delete(f"{url}/api/v1/downloads/{job['id']}")
    assert cancel.status_code == 409
    assert set(cancel.json()) == {"detail"}


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("DELETE", ""), ("GET", "/events"), ("POST", "/restart")]
)
def test_an_unknown_job_is_404(url: str, method: str, suffix: str) -> None:
    response = httpx.request(method, f"{url}/api/v1/downloads/no-such-job{suffix}")
    assert response.status_code == 404
    assert response.json() == {"detail": "No download job 'no-such-job'"}


def test_a_second_request_for_the_same_model_joins_its_job(url: str) -> None:
    first = start(url, BIG)
    second = start(url, BIG)
    waiting, answers = in_background(lambda: post_download(url, {"model_id": BIG}))
    wait_for(url, first["id"], finished, "the job to finish")
    waiting.join(WAIT)
    assert second["id"] == first["id"]
    assert answers[0].status_code == 200
    assert httpx.get(f"{url}/api/v1/downloads").json()["count"] == 1


def test_other_patterns_for_a_queued_job_widen_it_and_the_vault_gets_both(
    hub: TestHub, tmp_path: Path
) -> None:
    devon = devon_on(tmp_path / "vault", hub, max_concurrent_downloads=1)
    for url in serve_devon(devon):
        busy = start(url, BIG)  # holds the only slot: the widget job stays queued
        first = start(url, WIDGET, include_patterns=["*Q2_K*"])
        second = start(url, WIDGET, include_patterns=["*Q8_0*"])
        assert first["status"] == "queued"
        assert second["id"] == first["id"]
        assert second["include_patterns"] == ["*Q2_K*", "*Q8_0*"]
        hub.faults.set_bandwidth(0)
        wait_for(url, busy["id"], finished, "the big job")
        done = wait_for(url, first["id"], finished, "the widget job")
        assert done["result"]["files"] == ["widget-8b.Q2_K.gguf", "widget-8b.Q8_0.gguf"]


def test_a_waiting_download_is_listed_with_its_progress_while_it_waits(url: str) -> None:
    waiting, answers = in_background(lambda: post_download(url, {"model_id": BIG}))
    deadline = time.monotonic() + WAIT

    def listed() -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = httpx.get(f"{url}/api/v1/downloads").json()["jobs"]
        return jobs

    while not (listed() and listed()[0]["bytes_done"] > 0):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [job] = listed()
    assert (job["model_id"], job["status"]) == (BIG, "downloading")
    waiting.join(WAIT)
    assert answers[0].status_code == 200
    assert answers[0].json()["model_id"] == BIG
    assert set(answers[0].json()) == {"model_id", "source", "path", "files", "size_bytes"}


def test_a_cancel_from_another_client_ends_a_waiting_request_with_409(url: str) -> None:
    waiting, answers = in_background(lambda: post_download(url, {"model_id": BIG}))
    deadline = time.monotonic() + WAIT
    while not (jobs := httpx.get(f"{url}/api/v1/downloads?status=downloading").json()["jobs"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    httpx.delete(f"{url}/api/v1/downloads/{jobs[0]['id']}")
    waiting.join(WAIT)
    assert answers[0].status_code == 409
    assert answers[0].json() == {"detail": f"The download of {BIG} was cancelled"}


def test_jobs_are_listed_newest_first_and_filtered_by_status(url: str, hub: TestHub) -> None:
    hub.faults.set_bandwidth(0)
    first = start(url, WIDGET, include_patterns=["*Q2_K*"])
    wait_for(url, first["id"], finished, "the first job")
    second = start(url, "acme/no-such-model")
    wait_for(url, second["id"], finished, "the second job")
    listing = httpx.get(f"{url}/api/v1/downloads").json()
    assert [j["id"] for j in listing["jobs"]] == [second["id"], first["id"]]
    assert listing["count"] == 2
    failed = httpx.get(f"{url}/api/v1/downloads", params={"status": "failed"}).json()
    assert [j["id"] for j in failed["jobs"]] == [second["id"]]
    assert "was not found" in failed["jobs"][0]["error"]
    bad = httpx.get(f"{url}/api/v1/downloads", params={"status": "done"})
    assert bad.status_code == 400
    assert "Invalid job status 'done'" in bad.json()["detail"]


def test_a_waiting_download_of_a_missing_model_answers_404_as_before(url: str) -> None:
    response = post_download(url, {"model_id": "acme/no-such-model"})
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_a_wait_that_is_not_a_bool_is_422(url: str) -> None:
    response = httpx.post(
        f"{url}/api/v1/downloads", json={"model_id": BIG, "wait": "no"}, headers=JSON
    )
    assert response.status_code == 422
    assert response.json() == {"detail": "Invalid request body: wait: Expected bool, got str"}
