"""`POST /api/v1/scan` on a real vault."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from devon_app import Settings, build_devon
from devon_http import create_app
from tests.support.file_source import FileSource

Client = TestClient[Any]
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return tmp_path / "vault"


@pytest.fixture
def client(vault: Path) -> Iterator[Client]:
    devon = build_devon(Settings(storage_path=vault), sources=[FileSource()])
    with TestClient(create_app(devon, api_key="k")) as test_client:
        test_client.headers["Authorization"] = "Bearer k"
        yield test_client


def test_scan_registers_a_hand_placed_folder_and_says_what_it_skipped(
    client: Client, vault: Path
) -> None:
    (vault / "mine").mkdir()
    (vault / "mine" / "w.gguf").write_bytes(b"GGUF")
    (vault / "notes").mkdir()
    (vault / "notes" / "todo.txt").write_text("x")

    response = client.post("/api/v1/scan", content=b"{}", headers=JSON)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "registered": ["local/mine"],
        "dropped": [],
        "skipped": [
            {
                "path": str(vault / "notes"),
                "reason": "holds no model file (.safetensors, .gguf, .bin, .pt, .onnx...)",
            }
        ],
        "moved": [],
        "dry_run": False,
    }
    assert (vault / "mine" / "w.gguf").is_file()
    listed = client.get("/api/v1/models", params={"source": "local"}).json()
    assert [m["model_id"] for m in listed["models"]] == ["mine"]
    info = client.get("/api/v1/models/local/mine")
    assert info.status_code == 200
    assert info.json()["remote"] is None
    assert info.json()["local"]["last_used"] is not None
    assert client.delete("/api/v1/models/local/mine").status_code == 200


def test_scan_with_reconcile_drops_a_model_whose_folder_went_away(
    client: Client, vault: Path
) -> None:
    assert client.post("/api/v1/downloads", json={"model_id": "acme/gadget-1b"}).status_code == 200
    gadget = vault / "huggingface" / "acme" / "gadget-1b"
    (gadget / "config.json").unlink()
    (gadget / "weights" / "part-1.bin").unlink()
    (gadget / "weights").rmdir()
    gadget.rmdir()

    response = client.post("/api/v1/scan", json={"reconcile": True})

    assert response.status_code == 200
    assert response.json()["dropped"] == ["huggingface/acme/gadget-1b"]
    assert client.get("/api/v1/models").json()["count"] == 0


def test_scan_with_a_wrongly_typed_field_is_422(client: Client) -> None:
    response = client.post("/api/v1/scan", json={"reconcile": "yes"})
    assert response.status_code == 422
    assert set(response.json()) == {"detail"}


def test_scan_with_move_reports_each_move(client: Client, vault: Path) -> None:
    (vault / "mine").mkdir()
    (vault / "mine" / "w.gguf").write_bytes(b"GGUF")

    response = client.post("/api/v1/scan", json={"move": True})

    assert response.status_code == 200, response.text
    assert response.json()["moved"] == [
        {"model": "local/mine", "origin": str(vault / "mine"), "target": str(vault / "local/mine")}
    ]
    assert (vault / "local" / "mine" / "w.gguf").is_file()


def test_scan_dry_run_changes_nothing(client: Client, vault: Path) -> None:
    (vault / "mine").mkdir()
    (vault / "mine" / "w.gguf").write_bytes(b"GGUF")

    response = client.post("/api/v1/scan", json={"dry_run": True, "move": True})

    assert response.status_code == 200, response.text
    assert response.json()["dry_run"] is True
    assert response.json()["registered"] == ["local/mine"]
    assert client.get("/api/v1/models").json()["count"] == 0
    assert (vault / "mine" / "w.gguf").is_file()


def test_clean_all_keeps_local_models_unless_the_body_names_local(
    client: Client, vault: Path
) -> None:
    (vault / "mine").mkdir()
    (vault / "mine" / "w.gguf").write_bytes(b"GGUF")
    assert client.post("/api/v1/scan", content=b"{}", headers=JSON).status_code == 200

    kept = client.post("/api/v1/clean", json={"all": True})
    named = client.post("/api/v1/clean", json={"all": True, "source": "local"})

    assert kept.json() == {
        "removed": 0,
        "freed_bytes": 0,
        "dry_run": False,
        "models": [],
        "skipped_local": ["local/mine"],
    }
    assert named.json()["models"] == ["local/mine"]
    assert "skipped_local" not in named.json()
    assert not (vault / "mine").exists()


def test_clean_with_a_malformed_source_name_is_422_with_a_detail(client: Client) -> None:
    response = client.post("/api/v1/clean", json={"all": True, "source": "Not A Source"})

    assert response.status_code == 422
    assert "source" in response.json()["detail"]
