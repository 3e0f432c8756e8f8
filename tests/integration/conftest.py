"""The test hub, HF_HOME, index backends and PostgreSQL clean-up (tests/support/fixtures.py).

Imported first: it sets the Hugging Face environment before anything imports huggingface_hub."""

from tests.support.fixtures import (
    _close_postgres_indexes as _close_postgres_indexes,
)
from tests.support.fixtures import (
    _drop_the_scratch_database as _drop_the_scratch_database,
)
from tests.support.fixtures import (
    _throw_away_hf_home as _throw_away_hf_home,
)
from tests.support.fixtures import (
    database_url as database_url,
)
from tests.support.fixtures import (
    jobs_hub as jobs_hub,
)
from tests.support.fixtures import (
    session_jobs_hub as session_jobs_hub,
)
from tests.support.fixtures import (
    session_test_hub as session_test_hub,
)
from tests.support.fixtures import (
    test_hub as test_hub,
)
