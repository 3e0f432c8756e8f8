"""Import of a DEVON 1.2 vault: a models folder holding its own manifest.json."""

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devon_adapters import DiskModelStore, import_legacy_vault
from tests.support.vault_builders import assert_consistent, files_on_disk
from tests.support.weights import kitt_read_manifest

WIDGET = {"config.json": b"{}", "model.safetensors": b"w" * 50}


def vault_1_2(
    models_dir: Path, models: dict[str, dict[str, bytes]], recorded_root: Path | None = None
) -> Path:
    """A 1.2 vault as KITT reads it: `<models>/manifest.json` keyed `source::id`, each value
    with an absolute `path` (under `recorded_root`, the folder's place when it was written)
    and `metadata.format` a list; naive local times, as 1.2 wrote them."""
    manifest: dict[str, Any] = {}
    for key, files in models.items():
        source, model_id = key.split("::")
        directory = models_dir / source / model_id
        for relative, data in files.items():
            (directory / relative).parent.mkdir(parents=True, exist_ok=True)
            (directory / relative).write_bytes(data)
        recorded = (recorded_root or models_dir) / source / model_id
        manifest[key] = {
            "source": source,
            "model_id": model_id,
            "path": str(recorded),
            "files": sorted(files),
            "size_bytes": sum(len(b) for b in files.values()),
            "downloaded_at": "2025-03-01T08:00:00.000001",
            "last_used": "2025-03-02T09:30:00",
            "metadata": {"format": ["safetensors"], "parameter_count": 7.0},
        }
    models_dir.mkdir(parents=True, exist_ok=True)
    (models_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return models_dir


@pytest.fixture
def store(tmp_path: Path) -> DiskModelStore:
    return DiskModelStore(tmp_path / "vault")


def test_a_1_2_models_folder_is_imported_with_its_metadata_and_times(
    store: DiskModelStore, tmp_path: Path
) -> None:
    old = vault_1_2(tmp_path / "old" / "models", {"huggingface::acme/widget-7b": WIDGET})

    report = import_legacy_vault(store, old)

    assert report.imported == ("huggingface/acme/widget-7b",)
    model = store.get("huggingface", "acme/widget-7b")
    assert model is not None
    assert files_on_disk(model.path) == WIDGET
    assert model.metadata == {"format": ["safetensors"], "parameter_count": 7.0}
    assert model.downloaded_at == datetime.fromisoformat("2025-03-01T08:00:00.000001").astimezone()
    assert model.last_used == datetime.fromisoformat("2025-03-02T09:30:00").astimezone()
    assert [m["key"] for m in kitt_read_manifest(Path(store.root))] == [
        "huggingface::acme/widget-7b"
    ]
    assert_consistent(store)


def test_the_parent_of_a_1_2_models_folder_is_accepted_too(
    store: DiskModelStore, tmp_path: Path
) -> None:
    vault_1_2(tmp_path / "old" / "models", {"huggingface::acme/widget-7b": WIDGET})

    report = import_legacy_vault(store, tmp_path / "old")

    assert report.imported == ("huggingface/acme/widget-7b",)


def test_a_1_2_folder_copied_from_another_machine_is_found_where_it_is_now(
    store: DiskModelStore, tmp_path: Path
) -> None:
    old = vault_1_2(
        tmp_path / "mounted",
        {"huggingface::acme/widget-7b": WIDGET},
        recorded_root=Path("/home/someone/.devon/models"),
    )

    report = import_legacy_vault(store, old, move=True)

    assert report.imported == ("huggingface/acme/widget-7b",)
    assert not (old / "huggingface" / "acme" / "widget-7b").exists()


def test_a_1_2_entry_whose_files_are_missing_is_skipped_and_reported(
    store: DiskModelStore, tmp_path: Path
) -> None:
    old = vault_1_2(
        tmp_path / "old",
        {"huggingface::acme/widget-7b": WIDGET, "huggingface::acme/lost": {"a.gguf": b"G"}},
    )
    (old / "huggingface" / "acme" / "lost" / "a.gguf").unlink()

    report = import_legacy_vault(store, old)

    assert report.imported == ("huggingface/acme/widget-7b",)
    assert [name for name, _ in report.skipped] == ["huggingface/acme/lost"]


def test_a_1_2_models_folder_opened_as_the_vault_keeps_its_models_in_place(
    tmp_path: Path,
) -> None:
    old = vault_1_2(tmp_path / "models", {"huggingface::acme/widget-7b": WIDGET})

    store = DiskModelStore(old)

    model = store.get("huggingface", "acme/widget-7b")
    assert model is not None
    assert model.path == str(old / "huggingface" / "acme" / "widget-7b")
    assert model.metadata == {"format": ["safetensors"], "parameter_count": 7.0}
    assert model.last_used == datetime.fromisoformat("2025-03-02T09:30:00").astimezone()
