"""Copying a vault's index between its backends: SQLite in the vault <-> PostgreSQL.

How a vault moves from one host to many (and back): the models' rows, with their recorded
times and metadata, go over as they are; the files stay where they are. Nothing is copied
while a commit or removal is in flight, and both sides' vault locks are held throughout.
"""

from contextlib import AbstractContextManager
from typing import Protocol

from devon_adapters.index.backends import IndexBackend, PostgresBackend, VaultIndex, open_backend
from devon_adapters.vault.paths import VaultPaths
from devon_core.errors import InvalidInput
from devon_core.results import IndexCopy


class IndexedVault(Protocol):
    """What a copy needs of the vault whose index it copies (`DiskModelStore` is one)."""

    @property
    def paths(self) -> VaultPaths: ...

    @property
    def index(self) -> VaultIndex: ...

    @property
    def index_backend(self) -> IndexBackend: ...

    def vault_lock(self) -> AbstractContextManager[None]: ...

    def unfinished_operations(self) -> list[str]: ...


SQLITE = "sqlite"


def target_backend(store: IndexedVault, target: str) -> IndexBackend:
    """The backend `target` names: `sqlite` (the index file in the vault) or a PostgreSQL
    URL. InvalidInput when it is neither, or is the index the store already uses."""
    if target == SQLITE:
        backend = open_backend(store.paths, None)
    elif target.startswith(("postgresql://", "postgres://")):
        backend = PostgresBackend(target, named_by="the target URL")
    else:
        raise InvalidInput(
            f"Cannot copy the index to {target!r}: name 'sqlite' (the index file in the vault) "
            "or a postgresql:// URL"
        )
    if backend.describe() == store.index_backend.describe():
        raise InvalidInput(f"The vault's index already is {backend.describe()}: nothing to copy")
    return backend


def copy_index(store: IndexedVault, target: str, *, replace: bool = False) -> IndexCopy:
    """Copy every model row of `store`'s index into the index at `target` (see
    `target_backend`). The target must hold no models unless `replace`, which drops them."""
    backend = target_backend(store, target)
    with store.vault_lock(), backend.vault_lock():
        if busy := store.unfinished_operations():
            raise InvalidInput(
                f"Cannot copy the index while {', '.join(busy)} is in progress: retry when it ends"
            )
        records = store.index.records()
        into = backend.open_index()
        try:
            with into.write() as db:
                present = into.model_keys()
                if present and not replace:
                    raise InvalidInput(
                        f"{backend.describe()} already holds {len(present)} model(s): "
                        "pass --replace to drop them first"
                    )
                for key in present:
                    into.delete(db, *key)
                into.put_many(db, records)
        finally:
            into.close()
            backend.close()
    return IndexCopy(
        source=store.index_backend.describe(),
        target=backend.describe(),
        model_count=len(records),
        replaced=len(present),
    )
