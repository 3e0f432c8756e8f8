"""`devon ensure MODEL[:QUANT]` on a fleet host: the model present and verified locally
(fetched through the upstream when missing), and the path a runtime loads printed."""

import json
from pathlib import Path

from devon_testhub import TestHub
from tests.support.cli_process import run_piped
from tests.support.fleet_support import central_devon, host_env
from tests.support.hf_helpers import SHARDY, WIDGET


def test_ensure_fetches_a_missing_model_through_the_upstream_and_prints_its_folder(
    test_hub: TestHub, tmp_path: Path
) -> None:
    vault = tmp_path / "gpu1" / "vault"
    with central_devon(test_hub, tmp_path / "central") as central:
        done = run_piped(host_env(central.url, vault, "gpu1"), "ensure", SHARDY)

    assert done.code == 0, done.stderr
    folder = Path(done.stdout.strip())
    assert folder == vault / "huggingface" / "acme" / "shardy-7b"
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".safetensors")) == [
        f"model-0000{n}-of-00003.safetensors" for n in (1, 2, 3)
    ]


def test_ensure_of_a_quantisation_prints_its_gguf_file(test_hub: TestHub, tmp_path: Path) -> None:
    vault = tmp_path / "gpu1" / "vault"
    with central_devon(test_hub, tmp_path / "central") as central:
        done = run_piped(host_env(central.url, vault, "gpu1"), "ensure", f"{WIDGET}:Q4_K_M")

    assert done.code == 0, done.stderr
    path = Path(done.stdout.strip())
    assert path == vault / "huggingface" / "acme" / "Widget-8B-GGUF" / "widget-8b.Q4_K_M.gguf"
    assert path.stat().st_size > 0
    assert not (path.parent / "widget-8b.Q8_0.gguf").exists()


def test_ensure_of_a_held_model_answers_without_the_upstream(
    test_hub: TestHub, tmp_path: Path
) -> None:
    vault = tmp_path / "gpu1" / "vault"
    with central_devon(test_hub, tmp_path / "central") as central:
        env = host_env(central.url, vault, "gpu1")
        first = run_piped(env, "ensure", SHARDY)
    again = run_piped(env, "ensure", SHARDY, "--json")  # the central is gone now

    assert again.code == 0, again.stderr
    assert json.loads(again.stdout)["path"] == first.stdout.strip()


def test_ensure_of_a_repo_of_several_quantisations_asks_for_one(
    test_hub: TestHub, tmp_path: Path
) -> None:
    vault = tmp_path / "gpu1" / "vault"
    with central_devon(test_hub, tmp_path / "central") as central:
        done = run_piped(host_env(central.url, vault, "gpu1"), "ensure", WIDGET)

    assert done.code != 0
    assert "pick one with --quant" in done.stderr
    assert not (vault / "huggingface" / "acme" / "Widget-8B-GGUF").exists()
