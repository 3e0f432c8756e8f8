"""Which request joins which job, and the states a job can be cancelled or restarted in."""

from datetime import UTC, datetime

import pytest

from devon_core import Conflict, DownloadCancelled, Job, JobRequest, JobStatus, NotFound
from devon_core.jobs import (
    Enqueue,
    Join,
    SpeedMeter,
    Widen,
    check_cancellable,
    check_restartable,
    error_kind,
    merge_patterns,
    patterns_cover,
    plan_submission,
)

T = datetime(2026, 1, 1, tzinfo=UTC)


def job(
    patterns: tuple[str, ...] | None = None,
    status: JobStatus = JobStatus.QUEUED,
    force: bool = False,
    job_id: str = "j1",
) -> Job:
    return Job(job_id, "huggingface", "acme/m", status, patterns, force, T)


def request(patterns: tuple[str, ...] | None = None, force: bool = False) -> JobRequest:
    return JobRequest("huggingface", "acme/m", patterns, force)


def test_a_request_joins_a_job_that_fetches_every_file() -> None:
    running = job(None, JobStatus.DOWNLOADING)
    assert plan_submission(request(("*Q4*",)), [running]) == Join(running)


def test_a_request_naming_more_widens_a_queued_job() -> None:
    queued = job(("*Q4*",))
    assert plan_submission(request(("*Q8*",)), [queued]) == Widen(queued, ("*Q4*", "*Q8*"))


def test_a_request_naming_more_than_a_running_job_is_queued_after_it() -> None:
    running = job(("*Q4*",), JobStatus.DOWNLOADING)
    assert plan_submission(request(("*Q8*",)), [running]) == Enqueue()


def test_a_forced_request_does_not_join_a_job_that_is_not_forced() -> None:
    running = job(None, JobStatus.DOWNLOADING)
    assert plan_submission(request(None, force=True), [running]) == Enqueue()


def test_a_request_without_patterns_widens_a_queued_job_to_every_file() -> None:
    queued = job(("*Q4*",))
    assert plan_submission(request(None), [queued]) == Widen(queued, None)


def test_patterns_cover_only_what_they_name() -> None:
    assert patterns_cover(None, ("*a*",))
    assert patterns_cover(("*a*", "*b*"), ("*b*",))
    assert not patterns_cover(("*a*",), None)
    assert merge_patterns(("*a*",), ("*b*", "*a*")) == ("*a*", "*b*")


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_a_finished_job_cannot_be_cancelled(status: JobStatus) -> None:
    with pytest.raises(Conflict):
        check_cancellable(job(status=status))


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.DOWNLOADING, JobStatus.COMPLETED])
def test_only_a_failed_or_cancelled_job_can_be_restarted(status: JobStatus) -> None:
    with pytest.raises(Conflict):
        check_restartable(job(status=status))


def test_a_failed_job_raises_the_error_it_ended_with() -> None:
    failed = Job(
        "j", "huggingface", "acme/m", JobStatus.FAILED, None, False, T,
        error="no such model", error_kind=error_kind(NotFound("x")),
    )  # fmt: skip
    with pytest.raises(NotFound, match="no such model"):
        failed.outcome()
    with pytest.raises(DownloadCancelled):
        job(status=JobStatus.CANCELLED).outcome()


def test_speed_leaves_out_bytes_found_in_staging() -> None:
    meter = SpeedMeter()
    assert meter.sample(T, 1000) is None
    seconds = [T.replace(second=s) for s in (1, 2)]
    assert meter.sample(seconds[0], 1500) == 500
    assert meter.sample(seconds[1], 2000) == 500


def test_speed_is_zero_once_nothing_arrived_for_a_second() -> None:
    meter = SpeedMeter()
    meter.sample(T, 0)
    meter.sample(T.replace(second=1), 1000)
    assert meter.sample(T.replace(second=1, microsecond=500_000), 1000) == pytest.approx(1000 / 1.5)
    assert meter.sample(T.replace(second=2, microsecond=100_000), 1000) == 0
