"""The real `devon` command at a terminal (a pseudo-terminal): the live progress bar,
questions before deleting, and Ctrl-C during a download."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from devon_testhub import TestHub
from tests.support.cli_process import Terminal, cli_env, run_piped

TINY = "tinyco/Tiny-0.5B-Instruct"


@pytest.fixture
def env(tmp_path: Path, test_hub: TestHub) -> dict[str, str]:
    return cli_env(tmp_path / "vault", test_hub.url)


@pytest.fixture
def env_with_model(env: dict[str, str]) -> dict[str, str]:
    assert run_piped(env, "download", TINY).code == 0
    return env


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.02)


def model_count(env: dict[str, str]) -> int:
    count: int = json.loads(run_piped(env, "list", "--json").stdout)["count"]
    return count


def test_download_at_a_terminal_shows_a_live_progress_bar(env: dict[str, str]) -> None:
    terminal = Terminal(env, "download", TINY)
    assert terminal.finish() == 0
    assert "100%" in terminal.output
    assert "/s" in terminal.output
    assert f"Downloaded {TINY}: " in terminal.output


def test_clean_at_a_terminal_asks_and_no_keeps_the_models(env_with_model: dict[str, str]) -> None:
    terminal = Terminal(env_with_model, "clean", "--all")
    terminal.expect("[y/N]")
    terminal.send("n\n")
    assert terminal.finish() == 0
    assert f"huggingface/{TINY}" in terminal.output
    assert "Nothing removed." in terminal.output
    assert model_count(env_with_model) == 1


def test_clean_at_a_terminal_asks_and_yes_removes_the_models(
    env_with_model: dict[str, str],
) -> None:
    terminal = Terminal(env_with_model, "clean", "--all")
    terminal.expect("[y/N]")
    terminal.send("y\n")
    assert terminal.finish() == 0
    assert "Removed 1 model" in terminal.output
    assert model_count(env_with_model) == 0


def test_ctrl_c_during_a_download_exits_130_and_the_same_command_resumes(
    tmp_path: Path,
) -> None:
    # A hub of its own: the interrupted requests it holds must not show in other tests' stats.
    with TestHub() as hub:
        env = cli_env(tmp_path / "vault", hub.url)
        hub.faults.hang("model.safetensors")
        terminal = Terminal(env, "download", TINY)
        # config.json has arrived whole (staged under its own name) while the weights hang.
        wait_for(lambda: any((tmp_path / "vault").rglob("config.json")))
        terminal.process.send_signal(signal.SIGINT)
        assert terminal.finish() == 130
        assert "run the same command again to resume" in terminal.output
        assert "Traceback" not in terminal.output
        hub.faults.release()
        assert model_count(env) == 0
        again = run_piped(env, "download", TINY)
        refetched = hub.stats.count("/config.json", "GET")
    assert again.code == 0
    assert again.stdout.startswith(f"Downloaded {TINY}: ")
    assert refetched == 1


def test_download_as_ranges_at_a_terminal_shows_the_bar_reach_100(
    env: dict[str, str], test_hub: TestHub
) -> None:
    ranged = {**env, "DEVON_DOWNLOAD_SPLIT_SIZE": "1kb", "DEVON_DOWNLOAD_CONNECTIONS": "4"}

    terminal = Terminal(ranged, "download", TINY)

    assert terminal.finish() == 0
    assert "100%" in terminal.output
    assert f"Downloaded {TINY}: " in terminal.output
    weights = test_hub.catalogue[TINY].file("model.safetensors")
    assert weights is not None
    asked = [r.range_header for r in test_hub.stats.requests("model.safetensors", "GET")]
    assert asked == [f"bytes=0-{weights.size - 1}"]  # the ranged path (one piece: a small file)
