"""The whole stack over real HTTP: the app built by the composition root from settings
(disk vault, Hugging Face source) served by uvicorn, downloading from the test hub."""

import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from devon_app import Settings
from devon_http.asgi import create_app_from_settings, create_default_app
from devon_testhub import TestHub
from devon_testhub.default_catalogue import GATED_REPO
from tests.support import http_spec_examples as spec
from tests.support.hf_helpers import SHARDY, WIDGET, files_under
from tests.support.http_support import (
    WAIT_SECONDS,
    served_from_settings,
    serving,
    shape_problems,
    vault_fixture,
    wait_until,
)


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


def test_a_client_leaving_a_real_download_leaves_the_vault_consistent(
    base_url: str, test_hub: TestHub, vault: Path
) -> None:
    test_hub.faults.hang(path_contains="/resolve/")
    address = urlsplit(base_url)
    body = b'{"model_id": "%s"}' % SHARDY.encode()
    try:
        with socket.create_connection((address.hostname, address.port)) as raw:
            raw.sendall(
                b"POST /api/v1/downloads HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            assert ok(httpx.get(f"{base_url}/health"))["status"] == "ok"
        assert ok(httpx.get(f"{base_url}/api/v1/models"))["count"] == 0
    finally:
        test_hub.faults.release()

    def listed() -> list[dict[str, Any]]:
        models: list[dict[str, Any]] = ok(httpx.get(f"{base_url}/api/v1/models"))["models"]
        return models

    wait_until(lambda: listed(), "the abandoned download to be committed")
    [model] = listed()
    repo = test_hub.catalogue[SHARDY]
    assert files_under(Path(model["path"])) == {f.path: f.content.read() for f in repo.files}


def test_the_default_app_takes_its_api_key_from_the_environment(
    test_hub: TestHub, vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVON_STORAGE_PATH", str(vault))
    monkeypatch.setenv("HF_ENDPOINT", test_hub.url)
    monkeypatch.setenv("DEVON_CONFIG_PATH", "")
    monkeypatch.setenv("DEVON_API_KEY", "from-env")
    with serving(create_default_app()) as url:
        assert httpx.get(f"{url}/api/v1/status").status_code == 401
        headers = {"Authorization": "Bearer from-env"}
        assert ok(httpx.get(f"{url}/api/v1/status", headers=headers))["storage_path"] == str(vault)


__all__ = ["served_from_settings", "vault_fixture"]  # the fixtures `base_url`, `vault`
