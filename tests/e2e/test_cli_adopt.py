"""`devon adopt` from the shell, on a real Hugging Face cache, with the hub stopped."""

import json
import shutil
from pathlib import Path

import pytest

from tests.support.cli_process import cli_env, run_piped
from tests.support.hf_cache_builder import build_cache_once
from tests.support.hf_helpers import LEGACY, TINY, WIDGET


@pytest.fixture(scope="module")
def built_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return build_cache_once(tmp_path_factory)


@pytest.fixture
def env(built_cache: tuple[Path, str], tmp_path: Path) -> dict[str, str]:
    """A `devon` environment whose configured cache is a copy of the built one; the hub it
    names is stopped."""
    cache = tmp_path / "hf" / "hub"
    shutil.copytree(built_cache[0], cache, symlinks=True)
    return cli_env(tmp_path / "vault", built_cache[1], DEVON_HF_CACHE=str(cache))


def test_adopt_reports_adopted_and_skipped_repos_and_exits_1(env: dict[str, str]) -> None:
    result = run_piped(env, "adopt")

    assert result.code == 1
    assert f"adopted {TINY} (" in result.stdout
    assert "Adopted 2 models" in result.stdout
    assert f"skipped {LEGACY} (hash_mismatch)" in result.stderr
    listed = json.loads(run_piped(env, "list", "--json").stdout)
    assert [m["model_id"] for m in listed["models"]] == [WIDGET, TINY]


def test_adopt_of_named_complete_models_exits_0_with_a_json_report(
    env: dict[str, str],
) -> None:
    result = run_piped(env, "adopt", TINY, "--json")

    assert result.code == 0
    report = json.loads(result.stdout)
    assert [m["model_id"] for m in report["adopted"]] == [TINY]
    assert report["adopted"][0]["metadata_from"] == "cache"
    assert report["skipped"] == []
    assert report["cache"] == env["DEVON_HF_CACHE"]


def test_adopt_twice_reports_the_model_already_in_the_vault(env: dict[str, str]) -> None:
    run_piped(env, "adopt", TINY)

    again = run_piped(env, "adopt", TINY)

    assert again.code == 0
    assert f"already in the vault {TINY}" in again.stdout
    assert "Adopted 0 models" in again.stdout


def test_adopt_dry_run_with_a_cache_option_adopts_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    cache = env.pop("DEVON_HF_CACHE")

    result = run_piped(env, "adopt", "--cache", cache, "--dry-run", "--json")

    assert result.code == 1
    report = json.loads(result.stdout)
    assert report["dry_run"] is True
    assert [m["model_id"] for m in report["adopted"]] == [WIDGET, TINY]
    assert json.loads(run_piped(env, "list", "--json").stdout)["models"] == []


def test_adopt_of_an_invalid_model_id_is_bad_usage(env: dict[str, str]) -> None:
    result = run_piped(env, "adopt", "bad..id")

    assert result.code == 2
    assert result.stderr.startswith("error: ")


def test_adopt_dry_run_without_a_cache_on_the_machine_has_nothing_to_adopt_and_exits_0(
    tmp_path: Path,
) -> None:
    env = cli_env(tmp_path / "vault", "http://127.0.0.1:9", DEVON_HF_CACHE=str(tmp_path / "none"))

    result = run_piped(env, "adopt", "--dry-run")

    assert result.code == 0
    assert result.stdout.startswith("Nothing to adopt")
