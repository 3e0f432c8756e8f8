"""What KITT (the benchmark runner that uses DEVON) does, reproduced from its behaviour: its
campaign runner falls back to the `devon` command when no DEVON URL is set."""

from __future__ import annotations

from pathlib import Path

from devon_testhub import TestHub
from tests.contract.cli_process import cli_env, run_piped

WIDGET = "acme/Widget-8B-GGUF"


def test_download_with_yes_and_one_file_included_fetches_that_file(
    tmp_path: Path, test_hub: TestHub
) -> None:
    # KITT's campaign runner runs `devon download REPO -y --include FILE` and then looks for
    # FILE under <storage>/huggingface/REPO.
    vault = tmp_path / "vault"
    result = run_piped(
        cli_env(vault, test_hub.url),
        "download",
        WIDGET,
        "-y",
        "--include",
        "widget-8b.Q4_K_M.gguf",
    )
    assert result.code == 0, result
    model = vault / "huggingface" / WIDGET
    assert sorted(p.name for p in model.iterdir()) == ["widget-8b.Q4_K_M.gguf"]
