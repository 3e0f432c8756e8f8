"""The Python examples of docs/hub-endpoint.md run as written, with HF_ENDPOINT pointing
at a served DEVON whose vault holds the model they name."""

import re
from pathlib import Path

import pytest

from devon_testhub import TestHub
from tests.support.hf_helpers import TINY
from tests.support.hub_endpoint_support import hf_env, run_python, served_vault

DOC = Path(__file__).resolve().parents[2] / "docs" / "hub-endpoint.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))])
def test_docs_example_runs_against_a_served_vault(
    example: str, test_hub: TestHub, tmp_path: Path
) -> None:
    with served_vault(test_hub, tmp_path / "vault", holding=(TINY,)) as served:
        done = run_python(example, hf_env(served.url, tmp_path / "hf-home"))

    assert done.returncode == 0, done.stderr
    assert test_hub.catalogue[TINY].sha in done.stdout
