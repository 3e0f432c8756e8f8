"""The test hub, HF_HOME, index backends and PostgreSQL clean-up (tests/support/fixtures.py).

Imported first: it sets the Hugging Face environment before anything imports huggingface_hub."""

from tests.support.fixtures import (
    close_postgres_indexes,
    database_url,
    drop_the_scratch_database_at_the_end,
    jobs_hub,
    session_jobs_hub,
    session_test_hub,
    test_hub,
    throw_away_hf_home,
)

__all__ = [
    "close_postgres_indexes",
    "database_url",
    "drop_the_scratch_database_at_the_end",
    "jobs_hub",
    "session_jobs_hub",
    "session_test_hub",
    "test_hub",
    "throw_away_hf_home",
]
