"""Suite-wide settings."""

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.contract.postgres_support import drop_scratch_database

# Speed is measured in bench/, never asserted here: no per-example deadline, so a loaded CI
# machine cannot turn a slow example into a failure.
settings.register_profile(
    "devon", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.load_profile("devon")


@pytest.fixture(scope="session", autouse=True)
def _drop_the_scratch_database() -> Iterator[None]:
    """Each test process's PostgreSQL database (made on first use) goes with the session."""
    yield
    drop_scratch_database()
