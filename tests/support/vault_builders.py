"""Builders for vault tests: a store on a temp dir, and a model committed with given bytes."""

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devon_adapters import DiskModelStore
from devon_core import LocalModel
from devon_core.commit_metadata import CommitMetadata

T0 = datetime(2025, 2, 12, 14, 30, 0, 123456, tzinfo=UTC)

WIDGET = {"config.json": b"{}", "model.safetensors": b"x" * 1000}


def put_model(
    store: DiskModelStore,
    model_id: str = "acme/widget-7b",
    files: Mapping[str, bytes] = WIDGET,
    *,
    source: str = "huggingface",
    when: datetime = T0,
    metadata: dict[str, Any] | None = None,
) -> LocalModel:
    """Stage `files` and commit them, as a download would."""
    staging = store.stage(source, model_id)
    for relative, data in files.items():
        path = Path(staging.path) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return store.commit(staging, list(files), when, CommitMetadata.as_recorded(metadata or {}))


def files_on_disk(directory: Path | str) -> dict[str, bytes]:
    """Every regular file under `directory` (relative POSIX path -> bytes)."""
    root = Path(directory)
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def assert_consistent(store: DiskModelStore) -> None:
    """The vault's invariant: every listed model's directory holds exactly its files, with
    its size; nothing is half done (no trash, no operations in flight)."""
    for model in store.list():
        on_disk = files_on_disk(model.path)
        assert sorted(on_disk) == list(model.files), model.key
        assert sum(len(b) for b in on_disk.values()) == model.size_bytes, model.key
    assert os.listdir(store.paths.trash) == []


def legacy_vault(root: Path, models: dict[str, dict[str, bytes]]) -> Path:
    """A 1.x vault: files at models/<source>/<id>/, index keyed `source::id`."""
    index: dict[str, Any] = {}
    for key, files in models.items():
        source, model_id = key.split("::")
        directory = root / "models" / source / model_id
        for relative, data in files.items():
            (directory / relative).parent.mkdir(parents=True, exist_ok=True)
            (directory / relative).write_bytes(data)
        index[key] = {
            "source": source,
            "model_id": model_id,
            "path": str(directory),
            "metadata": {"downloads": 12},
            "files": sorted(files),
            "downloaded_at": "2025-01-05T10:20:30.123456",
            "last_used": None,
            "size_bytes": sum(len(b) for b in files.values()),
        }
    (root / "index.json").write_text(json.dumps(index, indent=2))
    return root
