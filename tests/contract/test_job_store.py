"""The job store in the vault's index, as several processes see it (two index objects on
one SQLite file, or on one PostgreSQL schema, stand for two processes or hosts), and the
runner resuming jobs whose owner is gone."""

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devon_adapters import IndexJobStore, ThreadJobRunner
from devon_adapters.index import Index
from devon_adapters.index_backends import VaultIndex
from devon_adapters.job_runner import make_owner, owner_gone
from devon_adapters.postgres_index import PostgresIndex
from devon_core import Job, JobRequest, JobStatus
from devon_core.jobs import HISTORY_KEEP
from tests.contract.http_support import LLAMA, QWEN, fake_devon
from tests.contract.postgres_support import scratch_database

T = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def open_index(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], VaultIndex]:
    """Opens the same index each time it is called: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return lambda: Index(tmp_path / "index.sqlite3")
    url = scratch_database().vault_url()
    return lambda: PostgresIndex(url)


@pytest.fixture
def two(open_index: Callable[[], VaultIndex]) -> Iterator[tuple[IndexJobStore, IndexJobStore]]:
    first, second = open_index(), open_index()
    yield IndexJobStore(first), IndexJobStore(second)
    first.close()
    second.close()


def request(model_id: str = QWEN, patterns: tuple[str, ...] | None = None) -> JobRequest:
    return JobRequest("huggingface", model_id, patterns)


def test_jobs_written_by_one_process_are_read_by_another(
    two: tuple[IndexJobStore, IndexJobStore],
) -> None:
    one, other = two
    job = one.submit(request(patterns=("*a*",)), "id-1", T)
    assert other.get("id-1") == job
    assert other.submit(request(patterns=("*a*",)), "id-2", T).id == "id-1"


def test_the_concurrency_limit_counts_every_process(
    two: tuple[IndexJobStore, IndexJobStore],
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
    two: tuple[IndexJobStore, IndexJobStore],
) -> None:
    one, _ = two
    one.submit(request(QWEN, ("*a*",)), "a", T)
    assert one.claim("o", 5, T) is not None
    one.submit(request(QWEN, ("*b*",)), "b", T)
    assert one.claim("o", 5, T) is None


def test_a_cancelled_job_stops_reporting_and_cannot_commit(
    two: tuple[IndexJobStore, IndexJobStore],
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
    two: tuple[IndexJobStore, IndexJobStore],
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
    open_index: Callable[[], VaultIndex],
) -> None:
    index = open_index()
    jobs = IndexJobStore(index)
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
        index.close()
    assert resumed.status is JobStatus.COMPLETED
    assert devon.get(LLAMA) is not None
