"""`devon import-legacy`: a DEVON 1.x vault brought in from the shell."""

import json
from pathlib import Path

from devon_testhub import TestHub
from tests.support.cli_process import cli_env, run_piped
from tests.support.vault_builders import legacy_vault

OLD = {
    "huggingface::acme/old-7b": {"config.json": b"{}", "model.safetensors": b"w" * 64},
    "huggingface::acme/lost-1b": {"config.json": b"{}"},
}


def _legacy_with_one_lost_model(root: Path) -> Path:
    legacy = legacy_vault(root, OLD)
    (legacy / "models" / "huggingface" / "acme" / "lost-1b" / "config.json").unlink()
    return legacy


def test_import_legacy_brings_models_in_and_reports_what_it_skipped(
    tmp_path: Path, session_test_hub: TestHub
) -> None:
    legacy = _legacy_with_one_lost_model(tmp_path / "old")
    env = cli_env(tmp_path / "vault", session_test_hub.url)

    result = run_piped(env, "import-legacy", str(legacy))

    assert result.code == 1
    assert "Imported 1 model" in result.stdout
    assert "skipped huggingface/acme/lost-1b" in result.stderr
    listed = json.loads(run_piped(env, "list", "--json").stdout)
    assert [m["model_id"] for m in listed["models"]] == ["acme/old-7b"]
    assert (legacy / "models" / "huggingface" / "acme" / "old-7b" / "config.json").exists()


def test_import_legacy_twice_imports_nothing_twice(
    tmp_path: Path, session_test_hub: TestHub
) -> None:
    legacy = legacy_vault(tmp_path / "old", {"huggingface::acme/old-7b": {"a.bin": b"a"}})
    env = cli_env(tmp_path / "vault", session_test_hub.url)
    assert run_piped(env, "import-legacy", str(legacy)).code == 0

    again = run_piped(env, "import-legacy", str(legacy), "--json")

    assert again.code == 0
    report = json.loads(again.stdout)
    assert report["imported"] == []
    assert report["already_present"] == ["huggingface/acme/old-7b"]


def test_import_legacy_of_a_folder_without_a_1x_index_is_bad_usage(
    tmp_path: Path, session_test_hub: TestHub
) -> None:
    (tmp_path / "empty").mkdir()
    env = cli_env(tmp_path / "vault", session_test_hub.url)
    result = run_piped(env, "import-legacy", str(tmp_path / "empty"))
    assert result.code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: No DEVON 1.x vault here")
