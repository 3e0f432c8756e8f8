"""Fixtures of the integration and end-to-end tests: a test hub on 127.0.0.1 that the real
`huggingface_hub` talks to, a throw-away HF_HOME, each index backend, and PostgreSQL clean-up.

`tests/integration/conftest.py` and `tests/e2e/conftest.py` import them by name, first thing,
so that the Hugging Face settings below are in the environment before anything imports
`huggingface_hub`. The unit tests never import this module (it needs psycopg)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator

import pytest

from devon_testhub import TestHub  # imports no huggingface_hub
from tests.support.postgres_support import drop_scratch_database  # imports no huggingface_hub

# Before huggingface_hub is imported anywhere (it reads these once, at import): no telemetry,
# no progress bars, no implicit token, and a throw-away HF_HOME, because even downloads with
# `local_dir=` write refs to, and copy blobs from, the shared cache. HF_ENDPOINT is left
# alone on purpose: tests pass `endpoint=hub.url` explicitly.
_HF_HOME = tempfile.mkdtemp(prefix="devon-test-hf-home-")
os.environ["HF_HOME"] = _HF_HOME
os.environ["HF_HUB_CACHE"] = os.path.join(_HF_HOME, "hub")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"


@pytest.fixture(scope="session", autouse=True)
def throw_away_hf_home() -> Iterator[None]:
    yield
    shutil.rmtree(_HF_HOME, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def drop_the_scratch_database_at_the_end() -> Iterator[None]:
    """Each test process's PostgreSQL database (made on first use) goes with the session."""
    yield
    drop_scratch_database()


@pytest.fixture(autouse=True)
def close_postgres_indexes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close every PostgreSQL index a test opened, after its other fixtures: a connection pool
    left to the garbage collector can be collected in one of its own threads, which cannot
    wait for itself (psycopg_pool's "cannot join current thread", in whichever test runs
    then)."""
    from devon_adapters.index.postgres import PostgresIndex

    opened: list[PostgresIndex] = []
    opening = PostgresIndex.__init__

    def tracked(index: PostgresIndex, url: str) -> None:
        opened.append(index)
        opening(index, url)

    monkeypatch.setattr(PostgresIndex, "__init__", tracked)
    yield
    for index in opened:
        index.close()


def cleared(
    hub: TestHub, bandwidth: int | None = None, faults: Callable[[TestHub], None] | None = None
) -> Iterator[TestHub]:
    """`hub` for one test, to `yield from` in a fixture: faults and request stats cleared
    before and after, then its bandwidth limited (bytes a second) or other `faults` set."""
    hub.reset()
    if bandwidth is not None:
        hub.faults.set_bandwidth(bandwidth)
    if faults is not None:
        faults(hub)
    yield hub
    hub.reset()


@pytest.fixture(scope="session")
def session_test_hub() -> Iterator[TestHub]:
    with TestHub() as hub:
        yield hub


@pytest.fixture
def test_hub(session_test_hub: TestHub) -> Iterator[TestHub]:
    """The session's test hub (default catalogue), with faults and request stats cleared."""
    yield from cleared(session_test_hub)


@pytest.fixture(scope="session")
def session_jobs_hub() -> Iterator[TestHub]:
    from tests.support.job_support import jobs_catalogue  # after the HF settings above

    with TestHub(jobs_catalogue()) as hub:
        yield hub


@pytest.fixture
def jobs_hub(session_jobs_hub: TestHub) -> Iterator[TestHub]:
    """A test hub with a model big enough to watch download (`job_support.BIG`), sending
    `job_support.SLOW` bytes a second, its faults and stats cleared."""
    from tests.support.job_support import SLOW

    yield from cleared(session_jobs_hub, SLOW)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Each index backend in turn: None (SQLite in the vault), then a PostgreSQL schema of
    the test's own."""
    from tests.support.postgres_support import scratch_database

    return None if request.param == "sqlite" else scratch_database().vault_url()
