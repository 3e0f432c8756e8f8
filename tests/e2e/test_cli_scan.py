"""`devon scan` from the shell."""

import json
from pathlib import Path

from devon_testhub import TestHub
from tests.support.cli_process import cli_env, run_piped


def place(folder: Path, files: dict[str, bytes]) -> None:
    for relative, data in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)


def test_scan_registers_a_hand_placed_folder_and_lists_it_under_local(
    tmp_path: Path, session_test_hub: TestHub
) -> None:
    vault = tmp_path / "vault"
    env = cli_env(vault, session_test_hub.url)
    place(vault / "my-finetune", {"model.Q8_0.gguf": b"GGUF"})

    result = run_piped(env, "scan", "--json")

    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "registered": ["local/my-finetune"],
        "dropped": [],
        "skipped": [],
        "moved": [],
        "dry_run": False,
    }
    listed = json.loads(run_piped(env, "list", "--source", "local", "--json").stdout)
    assert [m["model_id"] for m in listed["models"]] == ["my-finetune"]
    assert listed["models"][0]["metadata"]["quantization"] == "Q8_0"
    assert listed["models"][0]["path"] == str(vault / "my-finetune")
    manifest = json.loads((vault / "manifest.json").read_text())
    assert list(manifest) == ["local::my-finetune"]


def test_scan_reports_a_half_written_folder_on_stderr_and_exits_1(
    tmp_path: Path, session_test_hub: TestHub
) -> None:
    vault = tmp_path / "vault"
    env = cli_env(vault, session_test_hub.url)
    assert run_piped(env, "status").code == 0  # the vault exists before the copy starts
    place(vault / "huggingface" / "me" / "copying", {"model.gguf.part": b"GG"})

    result = run_piped(env, "scan")

    assert result.code == 1
    assert "Registered 0 models, skipped 1 folder" in result.stdout
    assert "skipped " in result.stderr
    assert "still being written (model.gguf.part)" in result.stderr


def test_scan_reconcile_says_what_it_dropped(tmp_path: Path, session_test_hub: TestHub) -> None:
    vault = tmp_path / "vault"
    env = cli_env(vault, session_test_hub.url)
    place(vault / "gone-soon", {"w.safetensors": b"x"})
    assert run_piped(env, "scan").code == 0
    # A server keeps its store open; here each command opens the vault, which already
    # drops rows whose folder vanished, so reconcile has nothing left to drop.
    (vault / "gone-soon" / "w.safetensors").unlink()
    (vault / "gone-soon").rmdir()

    result = run_piped(env, "scan", "--reconcile")

    assert result.code == 0
    assert "Registered 0 models, dropped 0, skipped 0 folders" in result.stdout
    assert json.loads(run_piped(env, "list", "--json").stdout)["count"] == 0


def test_scan_moves_only_with_move_and_prints_each_move(
    tmp_path: Path, session_test_hub: TestHub
) -> None:
    vault = tmp_path / "vault"
    env = cli_env(vault, session_test_hub.url)
    place(vault / "my-finetune", {"model.Q8_0.gguf": b"GGUF"})

    result = run_piped(env, "scan", "--move")

    assert result.code == 0, result.stderr
    target = vault / "local" / "my-finetune"
    assert f"moved {vault / 'my-finetune'} -> {target}" in result.stdout
    assert "Registered 1 model, moved 1, skipped 0 folders" in result.stdout
    assert (target / "model.Q8_0.gguf").is_file()
    assert not (vault / "my-finetune").exists()


def test_scan_dry_run_says_what_it_would_do_and_changes_nothing(
    tmp_path: Path, session_test_hub: TestHub
) -> None:
    vault = tmp_path / "vault"
    env = cli_env(vault, session_test_hub.url)
    place(vault / "my-finetune", {"model.Q8_0.gguf": b"GGUF"})

    result = run_piped(env, "scan", "--move", "--dry-run")

    assert result.code == 0, result.stderr
    assert f"would move {vault / 'my-finetune'} -> {vault / 'local' / 'my-finetune'}" in (
        result.stdout
    )
    assert "would register local/my-finetune" in result.stdout
    assert "Would register 1 model, move 1, skip 0 folders in " in result.stdout
    assert result.stdout.rstrip().endswith("; nothing changed (dry run).")
    assert (vault / "my-finetune" / "model.Q8_0.gguf").is_file()
    assert json.loads(run_piped(env, "list", "--json").stdout)["count"] == 0


def test_clean_all_keeps_hand_placed_models_and_says_how_to_name_them(
    tmp_path: Path, session_test_hub: TestHub
) -> None:
    vault = tmp_path / "vault"
    env = cli_env(vault, session_test_hub.url)
    place(vault / "mine-a", {"model.gguf": b"GGUF"})
    place(vault / "mine-b", {"model.gguf": b"GGUF"})
    assert run_piped(env, "scan").code == 0

    kept = run_piped(env, "clean", "--all", "--yes")
    named = run_piped(env, "clean", "--all", "--yes", "--source", "local")

    assert kept.code == 0, kept.stderr
    assert "Skipped 2 local models (hand-placed; name them with --source local)." in kept.stdout
    assert named.code == 0, named.stderr
    assert "Removed 2 models" in named.stdout
    assert not (vault / "mine-a").exists()
