"""Quantisations and partial downloads over real HTTP (the app from settings, a disk vault,
the test hub): `model_id` carrying `:QUANT`, search by `quant=`, `staging_bytes` in status,
and `"partial": true` on clean. Documented fields keep their meaning."""

from pathlib import Path
from typing import Any

import httpx

from devon_testhub import TestHub
from tests.support import http_spec_examples as spec
from tests.support.hf_helpers import WIDGET
from tests.support.http_support import served_from_settings, shape_problems, vault_fixture

KIB = 1024
Q4 = "widget-8b.Q4_K_M.gguf"
JSON = {"Content-Type": "application/json"}


def post(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(url, json=body, headers=JSON, timeout=60)


def test_a_model_id_with_a_quantisation_downloads_exactly_its_files(base_url: str) -> None:
    response = post(f"{base_url}/api/v1/downloads", {"model_id": f"{WIDGET}:q4_k_m"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert shape_problems(body, spec.DOWNLOADED) == []
    assert (body["model_id"], body["files"], body["size_bytes"]) == (WIDGET, [Q4], 44 * KIB)


def test_a_download_without_a_selection_still_fetches_the_whole_repo(
    base_url: str, test_hub: TestHub
) -> None:
    body = post(f"{base_url}/api/v1/downloads", {"model_id": WIDGET}).json()
    assert body["files"] == sorted(f.path for f in test_hub.catalogue[WIDGET].files)


def test_a_missing_quantisation_is_404_before_anything_is_fetched(
    base_url: str, test_hub: TestHub, vault: Path
) -> None:
    response = post(f"{base_url}/api/v1/downloads", {"model_id": f"{WIDGET}:Q3_K_X"})
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}
    assert "no quantisation 'Q3_K_X' (did you mean Q3_K_M?)" in response.json()["detail"]
    assert test_hub.stats.count("/resolve/", "GET") == 0
    assert not any((vault / ".devon" / "staging").rglob("*.gguf"))


def test_an_invalid_quantisation_tag_is_400(base_url: str) -> None:
    response = post(f"{base_url}/api/v1/downloads", {"model_id": f"{WIDGET}:Q4-K-M"})
    assert response.status_code == 400
    assert "Invalid quantisation" in response.json()["detail"]


def test_search_by_quant_returns_each_quantisation_with_size_and_files(base_url: str) -> None:
    response = httpx.get(f"{base_url}/api/v1/search", params={"quant": "BF16", "limit": 5})
    assert response.status_code == 200
    (widget,) = response.json()["results"]
    bf16 = next(q for q in widget["quantizations"] if q["name"] == "BF16")
    assert bf16 == {
        "name": "BF16",
        "size_bytes": 144 * KIB,
        "files": [
            "BF16/widget-8b.BF16-00001-of-00002.gguf",
            "BF16/widget-8b.BF16-00002-of-00002.gguf",
        ],
    }


def test_a_repo_without_quantisations_has_an_empty_list(base_url: str) -> None:
    results = httpx.get(f"{base_url}/api/v1/search", params={"query": "shardy"}).json()["results"]
    assert results[0]["quantizations"] == []


def test_status_counts_staging_bytes_and_clean_partial_removes_them(
    base_url: str, vault: Path
) -> None:
    staging = vault / ".devon" / "staging" / "huggingface" / "acme" / "left-behind"
    (staging / ".cache" / "devon" / "partial").mkdir(parents=True)
    (staging / ".cache" / "devon" / "partial" / "model.gguf.part").write_bytes(b"x" * 5000)
    (staging / "config.json").write_bytes(b"{}")
    status = httpx.get(f"{base_url}/api/v1/status").json()
    assert set(status) == set(spec.STATUS)
    assert status["staging_bytes"] == 5002

    dry = post(f"{base_url}/api/v1/clean", {"partial": True, "dry_run": True}).json()
    assert (dry["partial_models"], dry["partial_freed_bytes"]) == (
        ["huggingface/acme/left-behind"],
        5002,
    )
    assert staging.exists()
    cleaned = post(f"{base_url}/api/v1/clean", {"partial": True}).json()
    assert set(cleaned) == {*spec.CLEANED, "partial_models", "partial_freed_bytes"}
    assert (cleaned["removed"], cleaned["models"]) == (0, [])
    assert cleaned["partial_models"] == ["huggingface/acme/left-behind"]
    assert not staging.exists()
    assert httpx.get(f"{base_url}/api/v1/status").json()["staging_bytes"] == 0


def test_the_model_path_still_takes_only_a_plain_id(base_url: str) -> None:
    response = httpx.get(f"{base_url}/api/v1/models/huggingface/huggingface/acme/x")
    assert response.status_code == 400


def test_a_clean_that_removes_no_staging_answers_exactly_the_documented_fields(
    base_url: str,
) -> None:
    cleaned = post(f"{base_url}/api/v1/clean", {"partial": True, "all": True}).json()
    assert cleaned == {"removed": 0, "freed_bytes": 0, "dry_run": False, "models": []}


HELD = [{"name": "Q4_K_M", "size_bytes": 44 * KIB, "files": [Q4]}]


def test_a_model_s_info_names_the_quantisations_its_copy_holds(base_url: str) -> None:
    post(f"{base_url}/api/v1/downloads", {"model_id": f"{WIDGET}:Q4_K_M"})
    info = httpx.get(f"{base_url}/api/v1/models/huggingface/{WIDGET}").json()
    assert info["local"]["quantizations"] == HELD


def test_the_list_gives_each_model_s_quantisations_when_asked(base_url: str) -> None:
    post(f"{base_url}/api/v1/downloads", {"model_id": f"{WIDGET}:Q4_K_M"})
    plain = httpx.get(f"{base_url}/api/v1/models").json()
    asked = httpx.get(f"{base_url}/api/v1/models", params={"quantizations": "true"}).json()
    assert "quantizations" not in plain["models"][0]  # the documented shape by default
    assert asked["models"][0]["quantizations"] == HELD
    assert {k: v for k, v in asked["models"][0].items() if k != "quantizations"} == plain["models"][
        0
    ]


def test_export_can_list_each_gguf_file_instead_of_the_folder(base_url: str, vault: Path) -> None:
    post(f"{base_url}/api/v1/downloads", {"model_id": f"{WIDGET}:Q4_K_M"})
    default = post(f"{base_url}/api/v1/export", {}).json()
    files = post(f"{base_url}/api/v1/export", {"gguf_files": True}).json()
    folder = str(vault.resolve() / "huggingface" / WIDGET)
    assert default["content"] == [folder]
    assert files["content"] == [f"{folder}/{Q4}"]


__all__ = ["served_from_settings", "vault_fixture"]  # the fixtures `base_url`, `vault`
