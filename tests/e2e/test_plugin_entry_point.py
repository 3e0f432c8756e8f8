"""docs/plugins.md's worked example, installed as a real `devon.sources` entry point (a
dist-info on the path, as pip would leave it) and driven through the CLI and the HTTP API."""

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli_process import cli_env, run_piped
from tests.support.process_support import serve_process

REPO = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    model = tmp_path / "catalogue" / "acme" / "tiny-model"
    model.mkdir(parents=True)
    (model / "config.json").write_text('{"model_type": "llama"}')
    (model / "model.safetensors").write_bytes(b"w" * 2048)
    return tmp_path / "catalogue"


@pytest.fixture
def env(tmp_path: Path, catalogue: Path) -> dict[str, str]:
    """An environment where the `folder` plugin is installed, with its catalogue set."""
    site = tmp_path / "site"
    dist = site / "devon_folder_example-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: devon-folder-example\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[devon.sources]\nfolder = tests.support.folder_source:FolderSource\n"
    )
    base = cli_env(tmp_path / "vault", "http://127.0.0.1:9")
    return base | {
        "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]),
        "DEVON_FOLDER_ROOT": str(catalogue),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }


def test_an_installed_plugin_is_searched_and_downloaded_from_through_the_cli(
    env: dict[str, str],
) -> None:
    found = run_piped(env, "search", "tiny", "--source", "folder", "--json")
    downloaded = run_piped(env, "download", "acme/tiny-model", "--source", "folder", "--json")
    listed = run_piped(env, "list", "--source", "folder", "--json")

    assert found.code == 0, found.stderr
    assert [m["model_id"] for m in json.loads(found.stdout)["results"]] == ["acme/tiny-model"]
    assert downloaded.code == 0, downloaded.stderr
    assert json.loads(downloaded.stdout)["files"] == ["config.json", "model.safetensors"]
    assert [m["source"] for m in json.loads(listed.stdout)["models"]] == ["folder"]


def test_a_plugin_reads_its_own_table_of_the_config_file(
    env: dict[str, str], catalogue: Path, tmp_path: Path
) -> None:
    config = tmp_path / "devon.toml"
    config.write_text(f'verify_checksums = true\n\n[folder]\nroot = "{catalogue}"\n')
    env = {k: v for k, v in env.items() if k != "DEVON_FOLDER_ROOT"}

    with_config = env | {"DEVON_CONFIG_PATH": str(config)}
    found = run_piped(with_config, "search", "--source", "folder", "--json")

    assert found.code == 0, found.stderr
    assert [m["model_id"] for m in json.loads(found.stdout)["results"]] == ["acme/tiny-model"]


def test_an_unknown_key_in_a_plugins_table_is_an_error_naming_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "devon.toml"
    config.write_text('[folder]\nrot = "/typo"\n')

    found = run_piped(env | {"DEVON_CONFIG_PATH": str(config)}, "search", "--source", "folder")

    assert found.code != 0
    assert "rot" in found.stderr


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[str]:
    with serve_process(env) as (url, _):
        yield url


def test_an_installed_plugin_is_served_over_http(served: str) -> None:
    found = httpx.get(f"{served}/api/v1/search", params={"source": "folder"}, timeout=30)
    downloaded = httpx.post(
        f"{served}/api/v1/downloads",
        json={"model_id": "acme/tiny-model", "source": "folder"},
        timeout=30,
    )
    listed = httpx.get(f"{served}/api/v1/models", params={"source": "folder"}, timeout=30)

    assert found.status_code == 200, found.text
    assert [m["model_id"] for m in found.json()["results"]] == ["acme/tiny-model"]
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.json()["source"] == "folder"
    assert listed.json()["count"] == 1
