"""A fleet host still copying a model serves its peers the files it has landed (ADR 0282):
through its Hub paths, at the download's exact commit only, with ranges; a file still
arriving, or asked for at another revision, is a 404 (the peer then asks the central)."""

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devon_adapters.transfer.staging_layout import FileJob
from devon_adapters.vault.paths import VaultPaths
from devon_core.models import RemoteFile
from devon_testhub import TestHub
from tests.support.fleet_support import NOWHERE
from tests.support.hub_endpoint_support import served_vault

MODEL = "acme/shardy-7b"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
DATA = bytes(range(256)) * 64


def _stage(vault: Path, path: str, data: bytes, *, complete: bool) -> None:
    dest = VaultPaths.at(vault).staging("huggingface", MODEL)
    job = FileJob.plan(dest, RemoteFile(path, len(data), hashlib.sha256(data).hexdigest()))
    job.start_partial(COMMIT)
    with job.open_partial() as out:
        out.write(data if complete else data[: len(data) // 2])
    if complete:
        job.complete(COMMIT)


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request) as answer:  # noqa: S310
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


@pytest.mark.parametrize("upstream", [True, False])
def test_a_host_serves_landed_files_at_their_commit_only(
    test_hub: TestHub, tmp_path: Path, upstream: bool
) -> None:
    vault = tmp_path / "vault"
    host = NOWHERE if upstream else ""
    _stage(vault, "model-00001-of-00003.safetensors", DATA, complete=True)
    _stage(vault, "model-00002-of-00003.safetensors", DATA, complete=False)
    with served_vault(test_hub, vault, DEVON_UPSTREAM=host, DEVON_HOST_NAME="gpu1") as served:
        base = f"{served.url}/{MODEL}/resolve"
        whole = _get(f"{base}/{COMMIT}/model-00001-of-00003.safetensors")
        part = _get(f"{base}/{COMMIT}/model-00001-of-00003.safetensors", {"Range": "bytes=100-199"})
        arriving = _get(f"{base}/{COMMIT}/model-00002-of-00003.safetensors")
        at_main = _get(f"{base}/main/model-00001-of-00003.safetensors")

    if not upstream:  # a DEVON that is no fleet host never sends a download's files
        assert whole[0] == 404
        return
    status, headers, body = whole
    assert (status, body) == (200, DATA)
    assert headers["etag"] == f'"{hashlib.sha256(DATA).hexdigest()}"'
    assert headers["x-repo-commit"] == COMMIT
    assert (part[0], part[2]) == (206, DATA[100:200])
    assert arriving[0] == 404
    assert at_main[0] == 404
