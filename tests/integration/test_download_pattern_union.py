"""Patterns add to a model already in the vault: over HTTP, on the disk vault, with the
real Hugging Face source on the test hub."""

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devon_core import Forbidden
from devon_testhub import GATED_REPO, TestHub
from tests.support.hf_helpers import WIDGET, files_under, hub_bytes
from tests.support.job_support import JSON, devon_on, serve_devon

Q4, Q8 = "widget-8b.Q4_K_M.gguf", "widget-8b.Q8_0.gguf"


@pytest.fixture
def url(test_hub: TestHub, tmp_path: Path) -> Iterator[str]:
    yield from serve_devon(devon_on(tmp_path / "vault", test_hub))


def download(url: str, **body: object) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/downloads", json={"model_id": WIDGET, **body}, headers=JSON, timeout=30
    )


def test_asking_for_another_quantisation_adds_it_and_fetches_nothing_twice(
    url: str, test_hub: TestHub
) -> None:
    assert download(url, include_patterns=["*Q4_K_M*"]).json()["files"] == [Q4]
    added = download(url, include_patterns=["*Q8_0*"])
    assert added.status_code == 200
    assert added.json()["files"] == [Q4, Q8]
    on_disk = files_under(Path(added.json()["path"]))
    assert on_disk == {Q4: hub_bytes(test_hub, WIDGET, Q4), Q8: hub_bytes(test_hub, WIDGET, Q8)}
    assert test_hub.stats.count(Q4, "GET") == 1
    assert added.json()["size_bytes"] == sum(len(data) for data in on_disk.values())


def test_force_fetches_again_what_it_names_and_keeps_the_rest(url: str, test_hub: TestHub) -> None:
    download(url, include_patterns=["*Q4_K_M*", "*Q8_0*"])
    forced = download(url, include_patterns=["*Q8_0*"], force=True)
    assert forced.json()["files"] == [Q4, Q8]
    assert test_hub.stats.count(Q8, "GET") == 2
    assert test_hub.stats.count(Q4, "GET") == 1
    assert files_under(Path(forced.json()["path"]))[Q4] == hub_bytes(test_hub, WIDGET, Q4)


def test_adding_files_moves_last_used_with_downloaded_at(url: str) -> None:
    download(url, include_patterns=["*Q4_K_M*"])
    used = httpx.get(f"{url}/api/v1/models/huggingface/{WIDGET}").json()["local"]["last_used"]
    download(url, include_patterns=["*Q8_0*"])
    after = httpx.get(f"{url}/api/v1/models").json()["models"][0]
    assert after["last_used"] == after["downloaded_at"] > used


def test_a_refused_download_leaves_no_staging_directory(test_hub: TestHub, tmp_path: Path) -> None:
    devon = devon_on(tmp_path / "vault", test_hub)
    with pytest.raises(Forbidden):
        devon.download(GATED_REPO)
    staging = tmp_path / "vault" / ".devon" / "staging"
    assert [os.path.relpath(p, staging) for p in staging.rglob("*")] == []
