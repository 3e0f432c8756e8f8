"""The Hub endpoint of a `devon serve` process, fetched by the `hf` command (the in-process
tests are in tests/integration/test_hub_endpoint.py)."""

import sys
from pathlib import Path

from devon_testhub import TestHub
from tests.support.hf_helpers import TINY, files_under
from tests.support.hub_endpoint_support import hf_env, run_python, served_vault
from tests.support.process_support import serve_process


def test_hf_download_command_fetches_a_model_from_devon_serve(
    test_hub: TestHub, tmp_path: Path
) -> None:
    vault = tmp_path / "vault"
    with served_vault(test_hub, vault, holding=(TINY,)):
        pass  # the vault now holds the model; a `devon serve` process serves it below
    env = {
        "DEVON_STORAGE_PATH": str(vault),
        "DEVON_CONFIG_PATH": "",
        "HF_ENDPOINT": test_hub.url,
        "DEVON_API_KEY": "",
    }
    with serve_process(env) as (url, _):
        hf = Path(sys.executable).parent / "hf"  # the command huggingface_hub installs
        out = str(tmp_path / "out")
        command = (
            "import subprocess\n"
            f"subprocess.run([{str(hf)!r}, 'download', {TINY!r}, '--local-dir', {out!r}],"
            " check=True)"
        )
        done = run_python(command, hf_env(url, tmp_path / "hf-home"))

    assert done.returncode == 0, done.stderr
    expected = {f.path: f.content.read() for f in test_hub.catalogue[TINY].files}
    assert files_under(tmp_path / "out") == expected
