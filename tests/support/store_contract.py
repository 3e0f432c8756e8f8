"""What every `ModelStore` must do, as harnesses the contract suite runs against each store.

A harness owns one store and knows how to put bytes into its staging area the way a source
does, and how a person places a folder in the vault by hand or deletes one (what `scan`
finds). Adding a store means adding a harness to `HARNESSES`; the suite then runs for it.
"""

import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from devon_adapters import DiskModelStore
from devon_core import LocalModel, StagingArea
from devon_core.commit_metadata import CommitMetadata
from devon_core.ports import ModelStore
from tests.support.fakes import MemoryStore
from tests.support.postgres_support import scratch_database


class StoreHarness(Protocol):
    store: ModelStore

    def write_staged(self, staging: StagingArea, files: Mapping[str, bytes]) -> None: ...

    def place_folder(self, relative: str, files: Mapping[str, bytes]) -> None:
        """Put a folder holding `files` at `<root>/<relative>`, as a person copying it in."""
        ...

    def delete_folder(self, model: LocalModel) -> None:
        """Delete the model's folder behind the store's back."""
        ...


class MemoryHarness:
    def __init__(self, _tmp: Path) -> None:
        self.memory = MemoryStore()
        self.store: ModelStore = self.memory

    def write_staged(self, staging: StagingArea, files: Mapping[str, bytes]) -> None:
        staged = self.memory.disk.setdefault(staging.path, {})
        staged.update({path: len(data) for path, data in files.items()})

    def place_folder(self, relative: str, files: Mapping[str, bytes]) -> None:
        folder = self.memory.disk.setdefault(f"{self.memory.root}/{relative}", {})
        folder.update({path: len(data) for path, data in files.items()})

    def delete_folder(self, model: LocalModel) -> None:
        del self.memory.disk[model.path]


class DiskHarness:
    def __init__(self, tmp: Path) -> None:
        self.store: ModelStore = DiskModelStore(str(tmp / "vault"))

    def write_staged(self, staging: StagingArea, files: Mapping[str, bytes]) -> None:
        for relative, data in files.items():
            path = Path(staging.path) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def place_folder(self, relative: str, files: Mapping[str, bytes]) -> None:
        for name, data in files.items():
            path = Path(self.store.root, relative, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def delete_folder(self, model: LocalModel) -> None:
        shutil.rmtree(model.path)


class PostgresHarness(DiskHarness):
    """The disk vault with its index and locks in PostgreSQL (a schema of its own)."""

    def __init__(self, tmp: Path) -> None:
        url = scratch_database().vault_url()
        self.store = DiskModelStore(str(tmp / "vault"), database_url=url)


HARNESSES: dict[str, Callable[[Path], StoreHarness]] = {
    "memory": MemoryHarness,
    "disk": DiskHarness,
    "postgres": PostgresHarness,
}


@contextmanager
def harness_for(name: str, tmp: Path) -> Iterator[StoreHarness]:
    harness = HARNESSES[name](tmp)
    try:
        yield harness
    finally:
        close = getattr(harness.store, "close", None)
        if close is not None:
            close()


def put(
    harness: StoreHarness,
    model_id: str,
    files: Mapping[str, bytes],
    when: Any,
    *,
    source: str = "huggingface",
    metadata: dict[str, Any] | None = None,
) -> LocalModel:
    """Stage `files` and commit them, as a download does."""
    staging = harness.store.stage(source, model_id)
    harness.write_staged(staging, files)
    return harness.store.commit(
        staging, list(files), when, CommitMetadata.as_recorded(metadata or {})
    )
