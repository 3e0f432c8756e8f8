"""Which request joins which job, and the states a job can be cancelled or restarted in."""

from datetime import UTC, datetime

import attrs
import pytest

from devon_core import (
    Conflict,
    DownloadCancelled,
    InvalidInput,
    Job,
    JobRequest,
    JobStatus,
    NotFound,
    StoreUnavailable,
    TooManyJobs,
)
from devon_core.jobs import (
    Enqueue,
    Join,
    SpeedMeter,
    Widen,
    check_cancellable,
    check_page_limit,
    check_restartable,
    error_kind,
    merge_patterns,
    page_of,
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


def test_a_request_that_would_queue_past_the_cap_is_refused_with_a_retry_hint() -> None:
    running = job(("*Q4*",), JobStatus.DOWNLOADING)
    with pytest.raises(TooManyJobs) as refused:
        plan_submission(request(("*Q8*",)), [running], queued=2, max_queued=2)
    assert refused.value.retry_after_s > 0
    assert "queued" in str(refused.value)


def test_a_request_that_joins_or_widens_is_accepted_at_the_cap() -> None:
    queued = job(("*Q4*",))
    assert plan_submission(request(("*Q4*",)), [queued], queued=2, max_queued=2) == Join(queued)
    assert isinstance(plan_submission(request(("*Q8*",)), [queued], queued=2, max_queued=2), Widen)


def test_a_request_below_the_cap_is_queued() -> None:
    assert plan_submission(request(), [], queued=1, max_queued=2) == Enqueue()


def test_a_page_names_the_last_job_shown_when_more_follow() -> None:
    jobs = [job(job_id=f"j{i}") for i in range(3)]
    assert page_of(jobs, 2).next == "j1"
    assert [j.id for j in page_of(jobs, 2).jobs] == ["j0", "j1"]
    assert page_of(jobs[:2], 2).next is None
    assert page_of(jobs, None).count == 3


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_a_page_limit_out_of_range_is_invalid(limit: int) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        check_page_limit(limit)


def test_a_job_that_failed_for_a_lost_index_raises_store_unavailable() -> None:
    failed = attrs.evolve(
        job(), status=JobStatus.FAILED, error="gone", error_kind=error_kind(StoreUnavailable())
    )
    with pytest.raises(StoreUnavailable, match="gone"):
        failed.outcome()


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
