"""What every job store does, as several processes see it: the vault's index (two index
objects on one SQLite file, or on one PostgreSQL schema, stand for two processes or hosts)
and the memory store (one per process: both handles are that store); and the runner resuming
jobs whose owner is gone."""

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devon_adapters import IndexJobStore, MemoryJobStore, ThreadJobRunner
from devon_adapters.index.backends import VaultIndex
from devon_adapters.index.postgres import PostgresIndex
from devon_adapters.index.sqlite import Index
from devon_adapters.jobs.runner import make_owner, owner_gone
from devon_core import Conflict, Job, JobProgress, JobRequest, JobStatus, JobStore, NotFound
from devon_core.jobs import HISTORY_KEEP
from tests.support.http_support import LLAMA, QWEN, fake_devon
from tests.support.postgres_support import scratch_database

T = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def open_jobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], JobStore]]:
    """Opens the same job store each time it is called, as another process would: the index
    on one SQLite file or PostgreSQL schema; the memory store is this process's one store."""
    if request.param == "memory":
        memory = MemoryJobStore()
        yield lambda: memory
        return
    url = scratch_database().vault_url() if request.param == "postgres" else None
    opened: list[VaultIndex] = []

    def open_index() -> JobStore:
        index: VaultIndex = PostgresIndex(url) if url else Index(tmp_path / "index.sqlite3")
        opened.append(index)
        return IndexJobStore(index)

    yield open_index
    for index in opened:
        index.close()


@pytest.fixture
def two(open_jobs: Callable[[], JobStore]) -> tuple[JobStore, JobStore]:
    return open_jobs(), open_jobs()


def request(model_id: str = QWEN, patterns: tuple[str, ...] | None = None) -> JobRequest:
    return JobRequest("huggingface", model_id, patterns)


def running(store: JobStore) -> None:
    """Job `a` (of QWEN), downloading under owner `o`."""
    store.submit(request(), "a", T)
    assert store.claim("o", 2, T) is not None


def test_jobs_written_by_one_process_are_read_by_another(
    two: tuple[JobStore, JobStore],
) -> None:
    one, other = two
    job = one.submit(request(patterns=("*a*",)), "id-1", T)
    assert other.get("id-1") == job
    assert other.submit(request(patterns=("*a*",)), "id-2", T).id == "id-1"


def test_the_concurrency_limit_counts_every_process(
    two: tuple[JobStore, JobStore],
) -> None:
    one, other = two
    one.submit(request(QWEN), "a", T)
    one.submit(request(LLAMA), "b", T)
    assert one.claim("owner-1", 1, T) is not None
    assert other.claim("owner-2", 1, T) is None
    claimed = other.claim("owner-2", 2, T)
    assert claimed is not None
    assert claimed.id == "b"


def test_a_model_with_a_running_job_has_its_next_job_wait(
    two: tuple[JobStore, JobStore],
) -> None:
    one, _ = two
    one.submit(request(QWEN, ("*a*",)), "a", T)
    assert one.claim("o", 5, T) is not None
    one.submit(request(QWEN, ("*b*",)), "b", T)
    assert one.claim("o", 5, T) is None


def test_a_cancelled_job_stops_reporting_and_cannot_commit(
    two: tuple[JobStore, JobStore],
) -> None:
    one, other = two
    one.submit(request(), "a", T)
    one.claim("o", 2, T)
    assert other.cancel("a", T).status is JobStatus.CANCELLED
    assert one.heartbeat("o", ["a"], T) == ["a"]
    assert not one.begin_commit("a", "o")
    assert one.finish("a", "o", JobStatus.COMPLETED, T) is None
    assert other.get("a").status is JobStatus.CANCELLED  # type: ignore[union-attr]


def test_finished_jobs_are_kept_for_seven_days_or_the_last_thousand(
    two: tuple[JobStore, JobStore],
) -> None:
    store, _ = two
    old = T - timedelta(days=8)
    for number in range(HISTORY_KEEP + 5):
        store.add(
            Job(f"old-{number}", "huggingface", QWEN, JobStatus.COMPLETED, None, False, old,
                completed_at=old)
        )  # fmt: skip
    store.add(Job("recent", "huggingface", QWEN, JobStatus.FAILED, None, False, T, completed_at=T))
    assert store.prune(T) == 6
    kept = store.list()
    assert len(kept) == HISTORY_KEEP
    assert kept[0].id == "recent"
    assert "old-0" not in {job.id for job in kept}


def test_an_owner_is_gone_when_its_process_is_or_its_heartbeat_is_stale() -> None:
    now = datetime.now(UTC)
    assert not owner_gone(make_owner(), now, now, 30)
    assert owner_gone(f"{socket.gethostname()}:999999999:-:x", now, now, 30)
    assert owner_gone(make_owner(), now - timedelta(seconds=31), now, 30)
    assert not owner_gone("elsewhere:1:-:x", now, now, 30)


def test_a_starting_runner_resumes_the_jobs_of_a_process_that_is_gone(
    open_jobs: Callable[[], JobStore],
) -> None:
    jobs = open_jobs()
    now = datetime.now(UTC)
    jobs.submit(request(LLAMA), "orphan", now)
    assert jobs.claim(f"{socket.gethostname()}:999999999:-:dead", 2, now) is not None
    devon = fake_devon()
    runner = ThreadJobRunner(devon.sources, devon.store, jobs, devon.clock)
    try:
        runner.start()
        resumed = runner.wait("orphan", timeout=30)
    finally:
        runner.close()
    assert resumed.status is JobStatus.COMPLETED
    assert devon.get(LLAMA) is not None


def test_a_runner_takes_over_its_own_job_that_it_no_longer_runs(
    open_jobs: Callable[[], JobStore],
) -> None:
    # Its thread ended without ending the job (an error while ending it): nothing beats it.
    jobs = open_jobs()
    devon = fake_devon()
    runner = ThreadJobRunner(devon.sources, devon.store, jobs, devon.clock, stale_after_s=2)
    beaten_last = devon.clock.now() - timedelta(seconds=10)
    jobs.submit(request(LLAMA), "lost", beaten_last)
    assert jobs.claim(runner.owner, 2, beaten_last) is not None
    try:
        runner.start()
        resumed = runner.wait("lost", timeout=30)
    finally:
        runner.close()
    assert resumed.status is JobStatus.COMPLETED
    assert devon.get(LLAMA) is not None


def test_a_request_for_more_files_widens_the_queued_job_of_its_model(
    two: tuple[JobStore, JobStore],
) -> None:
    one, other = two
    one.submit(request(patterns=("*a*",)), "a", T)
    widened = other.submit(request(patterns=("*b*",)), "b", T)
    assert widened.id == "a"
    assert set(widened.include_patterns or ()) == {"*a*", "*b*"}
    assert [job.id for job in one.list()] == ["a"]


def test_progress_is_recorded_only_for_the_owner_of_a_running_job(
    two: tuple[JobStore, JobStore],
) -> None:
    one, other = two
    running(one)
    progress = JobProgress(bytes_done=10, bytes_total=40, files_done=1, files_total=4)
    assert one.record_progress("a", "o", progress, T)
    assert not one.record_progress("a", "someone-else", progress, T)
    job = other.get("a")
    assert job is not None
    assert (job.bytes_done, job.bytes_total, job.files_done) == (10, 40, 1)


def test_a_finished_job_keeps_its_status_time_and_error(two: tuple[JobStore, JobStore]) -> None:
    one, other = two
    running(one)
    later = T + timedelta(minutes=1)
    one.finish("a", "o", JobStatus.FAILED, later, error="it broke", error_kind="download_failed")
    job = other.get("a")
    assert job is not None
    assert (job.status, job.completed_at, job.error, job.error_kind) == (
        JobStatus.FAILED,
        later,
        "it broke",
        "download_failed",
    )
    with pytest.raises(Conflict):
        other.cancel("a", later)


def test_a_released_job_is_queued_again_for_any_owner(two: tuple[JobStore, JobStore]) -> None:
    one, other = two
    running(one)
    one.release("a", "o")
    assert other.list(JobStatus.QUEUED)[0].id == "a"
    claimed = other.claim("p", 2, T)
    assert claimed is not None
    assert claimed.id == "a"


def test_the_jobs_of_a_gone_owner_are_requeued(two: tuple[JobStore, JobStore]) -> None:
    one, other = two
    one.submit(request(QWEN), "mine", T)
    one.submit(request(LLAMA), "theirs", T)
    one.claim("alive", 2, T)
    one.claim("dead", 2, T)
    assert other.requeue_orphans(lambda owner, _heartbeat: owner == "dead") == ["theirs"]
    assert [job.id for job in one.list(JobStatus.QUEUED)] == ["theirs"]


def test_a_job_being_committed_cannot_be_cancelled(two: tuple[JobStore, JobStore]) -> None:
    one, other = two
    running(one)
    assert one.begin_commit("a", "o")
    with pytest.raises(Conflict):
        other.cancel("a", T)


def test_cancelling_an_unknown_job_is_not_found(two: tuple[JobStore, JobStore]) -> None:
    with pytest.raises(NotFound):
        two[0].cancel("nope", T)
