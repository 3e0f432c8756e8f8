"""Pull-through by a `devon serve` process, its jobs in a child process (the in-process tests
are in tests/integration/test_hub_pull_through.py)."""

from pathlib import Path

import pytest
from huggingface_hub import snapshot_download

from devon_testhub import TestHub
from tests.support.hf_helpers import TINY, files_under
from tests.support.process_support import serve_process


@pytest.mark.slow
def test_devon_serve_pulls_through_with_its_jobs_in_a_child_process(
    test_hub: TestHub, tmp_path: Path
) -> None:
    env = {
        "DEVON_STORAGE_PATH": str(tmp_path / "vault"),
        "DEVON_CONFIG_PATH": "",
        "HF_ENDPOINT": test_hub.url,
        "DEVON_API_KEY": "",
        "DEVON_HUB_PULL_THROUGH": "true",
    }
    with serve_process(env) as (url, _):
        folder = snapshot_download(TINY, endpoint=url, cache_dir=tmp_path / "c")

    expected = {f.path: f.content.read() for f in test_hub.catalogue[TINY].files}
    assert files_under(Path(folder)) == expected
