"""The download process `devon serve` starts (`python -m devon_app.jobs_child`, ADR
0133), run by itself: what a user sees of it on the server's stderr."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


def child_env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "DEVON_STORAGE_PATH": str(tmp_path / "vault"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HF_ENDPOINT": "http://127.0.0.1:9",
    }


def test_the_download_process_starts_and_stops_without_a_word_on_stderr(
    tmp_path: Path,
) -> None:
    env = child_env(tmp_path)

    child = subprocess.run(
        [sys.executable, "-m", "devon_app.jobs_child"],
        env=env,
        stdin=subprocess.DEVNULL,  # the end of stdin: its server is gone, so it stops
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert child.returncode == 0
    assert child.stderr == ""


STARTS_IT_IN_ITS_OWN_SESSION = """
import subprocess, sys
subprocess.run([sys.executable, "-m", "devon_app.jobs_child"], stdin=subprocess.DEVNULL)
print(open("/proc/self/autogroup").read())
"""


@pytest.mark.skipif(
    not Path("/proc/self/autogroup").exists(), reason="the kernel schedules no session groups"
)
def test_the_download_process_started_by_hand_leaves_its_starters_session_at_its_priority(
    tmp_path: Path,
) -> None:
    # A shell (here a fresh session, so that nothing else ran in it) starts the process
    # without a session of its own: lowering that session's group would slow the shell and
    # everything else started from it.
    starter = subprocess.run(
        [sys.executable, "-c", STARTS_IT_IN_ITS_OWN_SESSION],
        env=child_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        start_new_session=True,
    )

    assert starter.stdout.split()[-1] == "0"
