"""Contract-test fixtures: a test hub on 127.0.0.1 that the real `huggingface_hub` talks to."""

from __future__ import annotations

import os
from collections.abc import Iterator

# Before huggingface_hub is imported anywhere: no telemetry, no progress bars, no implicit
# token. HF_ENDPOINT is left alone on purpose: tests pass `endpoint=hub.url` explicitly.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")

import pytest

from devon_testhub import TestHub


@pytest.fixture(scope="session")
def session_test_hub() -> Iterator[TestHub]:
    with TestHub() as hub:
        yield hub


@pytest.fixture
def test_hub(session_test_hub: TestHub) -> Iterator[TestHub]:
    """The session's test hub (default catalogue), with faults and request stats cleared."""
    session_test_hub.reset()
    yield session_test_hub
    session_test_hub.reset()
