"""The whole stack over real HTTP: the app built by the composition root from settings
(disk vault, Hugging Face source) served by uvicorn, downloading from the test hub."""

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devon_adapters import Settings
from devon_http.asgi import create_app_from_settings
from devon_testhub import TestHub
from devon_testhub.default_catalogue import GATED_REPO
from tests.contract import http_spec_examples as spec
from tests.contract.hf_helpers import SHARDY, WIDGET, files_under
from tests.contract.http_support import WAIT_SECONDS, serving, shape_problems


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return tmp_path / "vault"


@pytest.fixture
def base_url(test_hub: TestHub, vault: Path) -> Iterator[str]:
    settings = Settings(storage_path=vault, hf_endpoint=test_hub.url)
    with serving(create_app_from_settings(settings)) as url:
        yield url


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_a_model_downloaded_over_http_is_in_the_vault_as_the_hub_has_it(
    base_url: str, test_hub: TestHub, vault: Path
) -> None:
    downloaded = ok(httpx.post(f"{base_url}/api/v1/downloads", json={"model_id": SHARDY}))

    repo = test_hub.catalogue[SHARDY]
    assert shape_problems(downloaded, spec.DOWNLOADED) == []
    assert downloaded["path"] == str(vault / "huggingface" / SHARDY)
    assert downloaded["files"] == sorted(f.path for f in repo.files)
    assert files_under(Path(downloaded["path"])) == {f.path: f.content.read() for f in repo.files}
    listed = ok(httpx.get(f"{base_url}/api/v1/models"))
    assert shape_problems(listed, spec.MODELS) == []
    assert [m["model_id"] for m in listed["models"]] == [SHARDY]


def test_info_of_a_downloaded_model_has_both_parts_shaped_like_the_spec(base_url: str) -> None:
    body = {"model_id": WIDGET, "include_patterns": ["*Q4_K_M*"]}
    ok(httpx.post(f"{base_url}/api/v1/downloads", json=body))
    info = ok(httpx.get(f"{base_url}/api/v1/models/huggingface/{WIDGET}"))
    assert shape_problems(info, spec.INFO) == []
    assert info["local"]["last_used"] is not None
    assert info["remote"]["model_id"] == WIDGET


def test_search_over_http_answers_from_the_hub_shaped_like_the_spec(base_url: str) -> None:
    found = ok(httpx.get(f"{base_url}/api/v1/search", params={"format": "gguf", "limit": 3}))
    assert found["count"] == 3
    for result in found["results"]:
        assert shape_problems(result, spec.REMOTE_MODEL) == []


def test_delete_over_http_removes_the_files(base_url: str) -> None:
    path = ok(httpx.post(f"{base_url}/api/v1/downloads", json={"model_id": SHARDY}))["path"]
    deleted = ok(httpx.delete(f"{base_url}/api/v1/models/huggingface/{SHARDY}"))
    assert deleted == {"deleted": True, "model_id": SHARDY, "source": "huggingface"}
    assert not Path(path).exists()


def test_a_download_failing_verification_is_500_and_lists_nothing(
    base_url: str, test_hub: TestHub
) -> None:
    test_hub.faults.corrupt(SHARDY, "model-00002-of-00003.safetensors")
    response = httpx.post(f"{base_url}/api/v1/downloads", json={"model_id": SHARDY}, timeout=30)
    assert response.status_code == 500
    assert set(response.json()) == {"detail"}
    assert ok(httpx.get(f"{base_url}/api/v1/models"))["count"] == 0


def test_a_gated_model_is_403(base_url: str) -> None:
    response = httpx.post(f"{base_url}/api/v1/downloads", json={"model_id": GATED_REPO})
    assert response.status_code == 403
    assert set(response.json()) == {"detail"}


def test_an_unreachable_hub_is_502(test_hub: TestHub, vault: Path) -> None:
    settings = Settings(storage_path=vault, hf_endpoint="http://127.0.0.1:9")
    with serving(create_app_from_settings(settings)) as url:
        response = httpx.get(f"{url}/api/v1/search", timeout=30)
    assert response.status_code == 502
    assert set(response.json()) == {"detail"}


def test_health_answers_while_the_hub_holds_a_download(base_url: str, test_hub: TestHub) -> None:
    test_hub.faults.hang(path_contains="/resolve/")
    responses: list[httpx.Response] = []
    body = {"model_id": SHARDY}
    download = threading.Thread(
        target=lambda: responses.append(
            httpx.post(f"{base_url}/api/v1/downloads", json=body, timeout=WAIT_SECONDS * 3)
        )
    )
    download.start()
    try:
        assert ok(httpx.get(f"{base_url}/health"))["status"] == "ok"
        assert ok(httpx.get(f"{base_url}/api/v1/models"))["count"] == 0
        assert download.is_alive()
    finally:
        test_hub.faults.release()
        download.join(WAIT_SECONDS * 3)
    assert responses[0].status_code == 200
