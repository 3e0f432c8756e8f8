"""The real `devon` command (child process, pipes) and GGUF quantisations: references
`owner/name:QUANT` and Hub file URLs, the refusal to fetch every quantisation unasked,
`--quant`, `--all`, `--dry-run`, `info --files`, and search by quantisation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from devon_testhub import TestHub
from tests.support.cli_process import Finished, cli_env, run_piped
from tests.support.hf_helpers import WIDGET

KIB = 1024
Q4 = "widget-8b.Q4_K_M.gguf"
BF16_SHARDS = [
    "BF16/widget-8b.BF16-00001-of-00002.gguf",
    "BF16/widget-8b.BF16-00002-of-00002.gguf",
]


class Devon:
    def __init__(self, vault: Path, hub: TestHub) -> None:
        self.vault = vault
        self.hub = hub
        self.env = cli_env(vault, hub.url)

    def __call__(self, *args: str) -> Finished:
        return run_piped(self.env, *args)

    def files_of(self, model_id: str = WIDGET) -> list[str]:
        models = json.loads(self("list", "--json").stdout)["models"]
        found = [m["files"] for m in models if m["model_id"] == model_id]
        return found[0] if found else []

    def staged(self) -> list[Path]:
        staging = self.vault / ".devon" / "staging"
        return [p for p in staging.rglob("*") if p.is_file()] if staging.exists() else []


@pytest.fixture
def devon(tmp_path: Path, test_hub: TestHub) -> Devon:
    return Devon(tmp_path / "vault", test_hub)


def fetched(hub: TestHub) -> int:
    """File transfers the hub served (GETs of `/resolve/`)."""
    return hub.stats.count("/resolve/", "GET")


def test_download_of_a_repo_of_several_quantisations_refuses_and_lists_each(
    devon: Devon,
) -> None:
    result = devon("download", WIDGET)
    assert result.code == 2
    assert result.stderr.splitlines()[-1].startswith("error: ")
    assert "--quant" in result.stderr
    assert "--all" in result.stderr
    # Each quantisation with its size and the command that takes it; a sharded one once.
    assert re.search(rf"Q4_K_M\s+44\.0 KiB\s+1\s+devon download {WIDGET}:Q4_K_M", result.stderr)
    assert re.search(rf"BF16\s+144\.0 KiB\s+2\s+devon download {WIDGET}:BF16", result.stderr)
    assert result.stderr.count(f"devon download {WIDGET}:") == 9
    assert devon.files_of() == []
    assert fetched(devon.hub) == 0


def test_a_quantisation_tag_in_any_case_downloads_exactly_its_file(devon: Devon) -> None:
    result = devon("download", f"{WIDGET}:q4_k_m")
    assert result.code == 0, result
    assert result.stdout.startswith(f"Downloaded {WIDGET}:Q4_K_M: 1 file, 44.0 KiB")
    assert devon.files_of() == [Q4]


def test_quant_option_downloads_a_sharded_quantisation_whole(devon: Devon) -> None:
    assert devon("download", WIDGET, "--quant", "bf16").code == 0
    assert devon.files_of() == BF16_SHARDS


def test_all_downloads_every_file_of_the_repo(devon: Devon, test_hub: TestHub) -> None:
    assert devon("download", WIDGET, "--all").code == 0
    assert devon.files_of() == sorted(f.path for f in test_hub.catalogue[WIDGET].files)


def test_a_hub_file_url_downloads_exactly_that_file(devon: Devon) -> None:
    url = f"https://huggingface.co/{WIDGET}/resolve/main/{Q4}?download=true"
    assert devon("download", url).code == 0
    assert devon.files_of() == [Q4]


def test_a_blob_url_to_one_shard_downloads_its_whole_set(devon: Devon) -> None:
    assert devon("download", f"hf.co/{WIDGET}/blob/main/{BF16_SHARDS[1]}").code == 0
    assert devon.files_of() == BF16_SHARDS


def test_an_hf_co_reference_with_a_tag_downloads_that_quantisation(devon: Devon) -> None:
    assert devon("download", f"hf.co/{WIDGET}:Q8_0").code == 0
    assert devon.files_of() == ["widget-8b.Q8_0.gguf"]


def test_a_file_url_to_a_missing_file_fails_before_anything_is_fetched(devon: Devon) -> None:
    result = devon("download", f"https://huggingface.co/{WIDGET}/resolve/main/foo.gguf")
    assert result.code == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: {WIDGET} has no file 'foo.gguf'; see 'devon info {WIDGET} --files'"
    )
    assert fetched(devon.hub) == 0
    assert devon.staged() == []


def test_a_missing_quantisation_is_an_error_naming_the_near_one(devon: Devon) -> None:
    result = devon("download", f"{WIDGET}:Q4_K_X")
    assert result.code == 1
    assert "no quantisation 'Q4_K_X' (did you mean Q4_K_M" in result.stderr
    assert fetched(devon.hub) == 0


def test_dry_run_prints_the_files_and_total_and_fetches_nothing(devon: Devon) -> None:
    result = devon("download", WIDGET, "--quant", "BF16", "--dry-run")
    assert result.code == 0, result
    for shard in BF16_SHARDS:
        assert re.search(rf"{re.escape(shard)}\s+72\.0 KiB\s+BF16", result.stdout)
    assert "Total: 2 files, 144.0 KiB." in result.stdout
    assert "Dry run: nothing fetched." in result.stdout
    assert fetched(devon.hub) == 0
    assert devon.files_of() == []


def test_dry_run_as_json_lists_files_with_sizes_and_the_total(devon: Devon) -> None:
    plan = json.loads(devon("download", f"{WIDGET}:Q4_K_M", "--dry-run", "--json").stdout)
    assert [(f["path"], f["size_bytes"]) for f in plan["files"]] == [(Q4, 44 * KIB)]
    assert plan["total_bytes"] == 44 * KIB
    assert plan["present"] is False


def test_a_mistyped_id_gets_a_did_you_mean(devon: Devon) -> None:
    result = devon("download", "acme/Widget-8b-GGUF:Q4_K_M")
    assert result.code == 1
    assert f"(did you mean {WIDGET}?)" in result.stderr


def test_info_files_lists_remote_files_with_sizes_and_quantisations(devon: Devon) -> None:
    result = devon("info", WIDGET, "--files")
    assert result.code == 0, result
    assert re.search(rf"{re.escape(Q4)}\s+44\.0 KiB\s+Q4_K_M", result.stdout)
    assert re.search(rf"{re.escape(BF16_SHARDS[0])}\s+72\.0 KiB\s+BF16", result.stdout)


def test_info_files_lists_the_vault_copy_with_sizes_on_disk(devon: Devon) -> None:
    assert devon("download", f"{WIDGET}:Q4_K_M").code == 0
    result = devon("info", WIDGET, "--files")
    vault_part = result.stdout.split("On huggingface")[0]
    assert re.search(rf"{re.escape(Q4)}\s+44\.0 KiB\s+Q4_K_M", vault_part)


def test_search_by_quantisation_shows_the_matching_ones_with_their_sizes(devon: Devon) -> None:
    result = devon("search", "--format", "gguf", "--size", "<50kb", "--quant", "q4_k_m")
    assert result.code == 0, result
    line = next(line for line in result.stdout.splitlines() if line.startswith(WIDGET))
    assert "Q4_K_M 44.0 KiB" in line


def test_search_size_matches_a_gguf_repo_by_one_of_its_quantisations(devon: Devon) -> None:
    result = devon("search", "widget", "--format", "gguf", "--size", "<30kb")
    rows = [line for line in result.stdout.splitlines() if line.startswith(WIDGET)]
    assert rows, result.stdout
    assert "IQ2_XS 24.0 KiB" in result.stdout
    assert "Q2_K 28.0 KiB" in result.stdout
    assert "Q4_K_M" not in result.stdout


def test_search_with_a_near_miss_licence_suggests_the_real_one(devon: Devon) -> None:
    result = devon("search", "shardy", "--license", "apache")
    assert result.code == 0
    assert result.stderr == "No models match. Did you mean --license apache-2.0?\n"


def test_search_with_a_near_miss_quantisation_suggests_the_real_one(devon: Devon) -> None:
    result = devon("search", "widget", "--quant", "Q4_K_X")
    assert result.stderr == "No models match. Did you mean --quant Q4_K_M?\n"


def test_a_near_miss_format_is_refused_with_the_near_one(devon: Devon) -> None:
    result = devon("search", "--format", "guff")
    assert result.code == 2
    assert "(did you mean gguf?)" in result.stderr


def test_a_missing_file_is_an_error_even_when_the_vault_holds_the_model(devon: Devon) -> None:
    assert devon("download", f"{WIDGET}:Q4_K_M").code == 0
    result = devon("download", f"https://huggingface.co/{WIDGET}/resolve/main/foo.gguf")
    assert result.code == 1
    assert f"{WIDGET} has no file 'foo.gguf'" in result.stderr


def test_a_second_quantisation_adds_to_the_model(devon: Devon) -> None:
    assert devon("download", f"{WIDGET}:Q4_K_M").code == 0
    assert devon("download", f"{WIDGET}:Q8_0").code == 0
    assert devon.files_of() == [Q4, "widget-8b.Q8_0.gguf"]


def test_dry_run_of_a_quantisation_the_vault_holds_fetches_nothing(devon: Devon) -> None:
    assert devon("download", f"{WIDGET}:Q4_K_M").code == 0
    plan = json.loads(devon("download", f"{WIDGET}:q4_k_m", "--dry-run", "--json").stdout)
    assert (plan["files"], plan["total_bytes"], plan["present"]) == ([], 0, True)
