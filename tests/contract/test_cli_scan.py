"""`devon scan` from the shell."""

import json
from pathlib import Path

from devon_testhub import TestHub
from tests.contract.cli_process import cli_env, run_piped


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
    }
    listed = json.loads(run_piped(env, "list", "--source", "local", "--json").stdout)
    assert [m["model_id"] for m in listed["models"]] == ["my-finetune"]
    assert listed["models"][0]["metadata"]["quantization"] == "Q8_0"
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
    (vault / "local" / "gone-soon" / "w.safetensors").unlink()
    (vault / "local" / "gone-soon").rmdir()

    result = run_piped(env, "scan", "--reconcile")

    assert result.code == 0
    assert "Registered 0 models, dropped 0, skipped 0 folders" in result.stdout
    assert json.loads(run_piped(env, "list", "--json").stdout)["count"] == 0
