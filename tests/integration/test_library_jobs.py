"""The library's job API: start without waiting, read, list, wait, cancel, restart."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from devon_core import Conflict, Devon, JobStatus
from devon_testhub import TestHub
from tests.support.job_support import (
    BIG,
    BIG_BYTES,
    WAIT,
    devon_on,
)


@pytest.fixture
def hub(jobs_hub: TestHub) -> TestHub:
    return jobs_hub


@pytest.fixture
def devon(hub: TestHub, tmp_path: Path) -> Iterator[Devon]:
    devon = devon_on(tmp_path / "vault", hub)
    yield devon
    devon.close()


def test_a_started_download_returns_at_once_and_can_be_waited_for(
    devon: Devon, hub: TestHub
) -> None:
    job = devon.start_download(BIG)
    assert job.status in (JobStatus.QUEUED, JobStatus.DOWNLOADING)
    assert devon.jobs().jobs[0].id == job.id
    hub.faults.set_bandwidth(0)
    done = devon.wait(job.id, timeout=WAIT)
    assert done.status is JobStatus.COMPLETED
    assert done.outcome().size_bytes >= BIG_BYTES
    assert devon.get(BIG) is not None
    assert [j.id for j in devon.jobs(status="completed").jobs] == [job.id]


def test_waiting_too_long_raises_timeout_error(devon: Devon) -> None:
    job = devon.start_download(BIG)
    with pytest.raises(TimeoutError):
        devon.wait(job.id, timeout=0.2)


def test_a_cancelled_job_can_be_restarted_under_a_new_id(devon: Devon, hub: TestHub) -> None:
    job = devon.start_download(BIG)
    assert devon.cancel(job.id).status is JobStatus.CANCELLED
    assert devon.get(BIG) is None
    with pytest.raises(Conflict):
        devon.cancel(job.id)
    hub.faults.set_bandwidth(0)
    again = devon.restart(job.id)
    assert again.id != job.id
    assert devon.wait(again.id, timeout=WAIT).status is JobStatus.COMPLETED


def test_a_model_already_in_the_vault_gives_a_completed_job(devon: Devon, hub: TestHub) -> None:
    hub.faults.set_bandwidth(0)
    devon.download(BIG)
    job = devon.start_download(BIG)
    assert job.status is JobStatus.COMPLETED
    assert job.result is not None
    assert devon.job(job.id).result == job.result
