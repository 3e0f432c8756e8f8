"""`devon link hf-cache` and `devon unlink hf-cache` from the shell, and the view kept
current by `DEVON_HF_CACHE_VIEW`."""

import json
from pathlib import Path

from devon_testhub import TestHub
from tests.support.cli_process import cli_env, run_piped
from tests.support.hf_cache_builder import download as cache_download
from tests.support.hf_helpers import SHARDY, TINY

QUANT = "acme/Widget-8B-GGUF:Q4_K_M"


def _folder(cache: Path, repo_id: str) -> Path:
    return cache / f"models--{repo_id.replace('/', '--')}"


def test_link_shows_every_model_and_says_how_to_use_the_cache(
    test_hub: TestHub, tmp_path: Path
) -> None:
    env = cli_env(tmp_path / "vault", test_hub.url)
    assert run_piped(env, "download", TINY).code == 0
    cache = tmp_path / "view"

    result = run_piped(env, "link", "hf-cache", str(cache))

    assert result.code == 0, result.stderr
    assert f"linked {TINY} (created: huggingface, snapshot " in result.stdout
    assert f"Use it: HF_HUB_CACHE={cache} HF_HUB_OFFLINE=1" in result.stdout
    assert (_folder(cache, TINY) / "refs" / "main").exists()


def test_link_without_a_directory_uses_the_cache_the_environment_names(
    test_hub: TestHub, tmp_path: Path
) -> None:
    env = cli_env(tmp_path / "vault", test_hub.url, HF_HUB_CACHE=str(tmp_path / "named"))
    run_piped(env, "download", TINY)

    report = json.loads(run_piped(env, "link", "hf-cache", "--json").stdout)

    assert report["cache"] == str(tmp_path / "named")
    assert _folder(tmp_path / "named", TINY).is_dir()


def test_link_json_is_the_report(test_hub: TestHub, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "vault", test_hub.url)
    run_piped(env, "download", QUANT)
    cache = tmp_path / "view"

    report = json.loads(run_piped(env, "link", "hf-cache", str(cache), "--json").stdout)

    assert report["dry_run"] is False
    assert [(r["repo_id"], r["files"], r["links"]) for r in report["linked"]] == [
        ("acme/Widget-8B-GGUF", 1, "hardlink")
    ]
    assert report["removed"] == []
    assert report["skipped"] == []


def test_link_dry_run_writes_nothing(test_hub: TestHub, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "vault", test_hub.url)
    run_piped(env, "download", TINY)
    cache = tmp_path / "view"

    result = run_piped(env, "link", "hf-cache", str(cache), "--dry-run")

    assert result.code == 0
    assert f"would link {TINY} (created:" in result.stdout
    assert not cache.exists()


def test_link_exits_1_when_a_folder_devon_did_not_make_holds_the_id(
    test_hub: TestHub, tmp_path: Path
) -> None:
    env = cli_env(tmp_path / "vault", test_hub.url)
    run_piped(env, "download", TINY)
    cache = tmp_path / "view"
    cache_download(test_hub, cache, TINY)

    result = run_piped(env, "link", "hf-cache", str(cache))

    assert result.code == 1
    assert f"skipped {TINY} (not_made_by_devon)" in result.stderr


def test_unlink_removes_the_view_and_keeps_the_vault(test_hub: TestHub, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "vault", test_hub.url)
    run_piped(env, "download", TINY)
    cache = tmp_path / "view"
    run_piped(env, "link", "hf-cache", str(cache))

    result = run_piped(env, "unlink", "hf-cache", str(cache))

    assert result.code == 0
    assert f"removed {TINY}" in result.stdout
    assert not _folder(cache, TINY).exists()
    assert json.loads(run_piped(env, "list", "--json").stdout)["count"] == 1


def test_the_setting_keeps_the_view_current_across_commands(
    test_hub: TestHub, tmp_path: Path
) -> None:
    cache = tmp_path / "kept"
    env = cli_env(
        tmp_path / "vault", test_hub.url, DEVON_HF_CACHE=str(cache), DEVON_HF_CACHE_VIEW="true"
    )

    run_piped(env, "download", SHARDY)
    assert (_folder(cache, SHARDY) / "refs" / "main").exists()

    run_piped(env, "remove", SHARDY, "--yes")
    assert not _folder(cache, SHARDY).exists()


def test_link_help_does_not_promise_an_http_response_body(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "vault", "http://127.0.0.1:9")

    for command in ("link", "unlink"):
        result = run_piped(env, command, "hf-cache", "--help")

        assert "--json" in result.stdout
        assert "HTTP" not in result.stdout


def test_link_help_names_every_place_the_default_cache_comes_from(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "vault", "http://127.0.0.1:9")

    result = run_piped(env, "link", "hf-cache", "--help")

    text = " ".join(result.stdout.split())
    for name in ("DEVON_HF_CACHE", "HF_HUB_CACHE", "$HF_HOME/hub", "$XDG_CACHE_HOME"):
        assert name in text
