"""The download process `devon serve` starts (`python -m devon_adapters.jobs_child`, ADR
0133), run by itself: what a user sees of it on the server's stderr."""

import os
import subprocess
import sys
from pathlib import Path


def test_the_download_process_starts_and_stops_without_a_word_on_stderr(
    tmp_path: Path,
) -> None:
    env = os.environ | {
        "DEVON_STORAGE_PATH": str(tmp_path / "vault"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HF_ENDPOINT": "http://127.0.0.1:9",
    }

    child = subprocess.run(
        [sys.executable, "-m", "devon_adapters.jobs_child"],
        env=env,
        stdin=subprocess.DEVNULL,  # the end of stdin: its server is gone, so it stops
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert child.returncode == 0
    assert child.stderr == ""
