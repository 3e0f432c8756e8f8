"""The seam between the vault's files and its index: what differs when the index is SQLite
(one host: a file in `.devon/`, lock files) or PostgreSQL (many hosts: a database, advisory
locks). `DiskModelStore` keeps every rule about files (staging, journal, trash, recovery) and
asks its backend only for an index and for locks (ADR 0180).
"""

import logging
import os
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from filelock import FileLock

from devon_adapters.index.records import (
    Changed,
    JournalRow,
    Operation,
    Record,
    RowBuilder,
    StoredRow,
)
from devon_adapters.index.reserve import SpaceReserve
from devon_adapters.index.sqlite import Index, IndexDamaged
from devon_adapters.vault.locks import model_lock
from devon_adapters.vault.paths import FILE_MODE, VaultPaths

if TYPE_CHECKING:
    from devon_adapters.index.advisory_locks import LockSessions
    from devon_adapters.index.postgres import PostgresIndex

log = logging.getLogger(__name__)

T = TypeVar("T")
VAULT_LOCK = "vault.lock"


class VaultIndex(Protocol):
    """What the store needs of an index; `Index` (SQLite) and `PostgresIndex` have it."""

    created: bool

    def close(self) -> None: ...
    def write(self) -> AbstractContextManager[Any]: ...
    def reader(self) -> Any:
        """Something with `execute(sql, params)` (SQL with `?` parameters) for reads outside
        `write()`: a sqlite3 connection, or PostgreSQL's `Reader`."""
        ...

    def schema_version(self) -> int: ...
    def get(self, source: str, model_id: str) -> Record | None: ...
    def records(self, source: str | None = None) -> list[Record]: ...
    def stored_rows(self) -> list[tuple[str, str, int, str, str | None, str, str]]: ...
    def stamped_rows(self) -> tuple[str, int, list[StoredRow]]: ...
    def changed_since(self, counter: int, limit: int) -> tuple[str, int, list[Changed] | None]: ...
    def raw_rows(self, source: str | None = None) -> list[tuple[Any, ...]]: ...
    def change_counter(self) -> int: ...
    def change_stamp(self) -> str: ...
    def folders(self) -> list[tuple[str, str]]: ...
    def names_in(self, source: str, owner: str) -> set[str]: ...
    def each(self, build: RowBuilder[T], source: str | None = None) -> list[T]: ...
    def clash(self, source: str, model_id: str, db: Any = None) -> str | None: ...
    def model_keys(self) -> list[tuple[str, str]]: ...
    def usage(self) -> dict[str, tuple[int, int]]: ...
    def used_bytes(self) -> int: ...
    def operations(self) -> list[Operation]: ...

    # Writes, each inside `write()` with the connection it yields.
    def put(self, db: Any, record: Record) -> None: ...
    def put_many(self, db: Any, records: Sequence[Record]) -> None: ...
    def put_rows(self, db: Any, rows: Sequence[StoredRow]) -> None: ...
    def delete(self, db: Any, source: str, model_id: str) -> bool: ...
    def set_last_used(self, db: Any, source: str, model_id: str, when: datetime) -> None: ...
    def begin_operation(self, db: Any, operation: Operation) -> None: ...
    def end_operation(self, db: Any, source: str, model_id: str) -> None: ...
    def begin_operations(self, db: Any, rows: Sequence[JournalRow]) -> None: ...
    def journaled_aside(self, db: Any, aside: str) -> set[tuple[str, str]]: ...
    def end_operations_aside(self, db: Any, aside: str) -> None: ...


class Lock(Protocol):
    """A lock as `filelock.FileLock` offers it: re-entrant within a thread, exclusive
    otherwise; `acquire(timeout=0)` raises `filelock.Timeout` when it is taken."""

    def acquire(self, timeout: float | None = None) -> Any: ...
    def release(self) -> None: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, *exc: Any) -> Any: ...


class IndexBackend(Protocol):
    def describe(self) -> str:
        """Where the index is, for people."""
        ...

    def open_index(self) -> VaultIndex: ...
    def close(self) -> None: ...
    def model_lock(self, source: str, model_id: str) -> Lock: ...
    def vault_lock(self) -> Lock: ...
    def named_lock(self, name: str) -> Lock:
        """A vault-wide lock of its own name (e.g. the manifest's)."""
        ...


class SqliteBackend:
    """The index in `<vault>/.devon/index.sqlite3`, locks as files in `.devon/locks/`."""

    def __init__(self, paths: VaultPaths) -> None:
        self.paths = paths

    def describe(self) -> str:
        return str(self.paths.index)

    def open_index(self) -> Index:
        """The index; a damaged file is kept aside and a new one created (the store then
        rebuilds it from the model directories)."""
        path = self.paths.index
        try:
            return Index(path, self.reserve())
        except IndexDamaged as error:
            kept = path.with_name(f"{path.name}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
            log.warning("Vault index damaged (%s): kept as %s, rebuilding", error, kept)
            os.replace(path, kept)
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return Index(path, self.reserve())

    def reserve(self) -> SpaceReserve:
        """The index's reserve on the vault's disk, made now if missing and there is room."""
        reserve = SpaceReserve(self.paths.index_reserve)
        reserve.restore()
        return reserve

    def close(self) -> None:
        pass

    def model_lock(self, source: str, model_id: str) -> FileLock:
        return model_lock(self.paths.locks, source, model_id)

    def vault_lock(self) -> FileLock:
        return self.named_lock(VAULT_LOCK)

    def named_lock(self, name: str) -> FileLock:
        return FileLock(self.paths.locks / name, mode=FILE_MODE, is_singleton=True)


class PostgresBackend:
    """The index in a PostgreSQL schema, locks as that database's advisory locks."""

    def __init__(self, url: str, named_by: str | None = None) -> None:
        """`named_by`: where the user gave `url`, as messages name it (default: the
        setting `postgres.URL_SETTING` names)."""
        from devon_adapters.index.postgres import URL_SETTING, current_schema, database_label

        self.url = url
        self.schema = current_schema(url, named_by or URL_SETTING)
        self._label = f"{database_label(url)} schema {self.schema}"
        self._locks: dict[str, Lock] = {}
        self._guard = threading.Lock()
        self._sessions: LockSessions | None = None

    def describe(self) -> str:
        return self._label

    def open_index(self) -> "PostgresIndex":
        from devon_adapters.index.postgres import PostgresIndex

        return PostgresIndex(self.url)

    def model_lock(self, source: str, model_id: str) -> Lock:
        return self._lock(f"model\0{source}\0{model_id}", f"{source}/{model_id}")

    def vault_lock(self) -> Lock:
        return self._lock("vault", "the vault")

    def named_lock(self, name: str) -> Lock:
        return self._lock(f"named\0{name}", name)

    def _lock(self, name: str, label: str) -> Lock:
        """One object per lock, so that a thread taking it again is let through."""
        from devon_adapters.index.advisory_locks import AdvisoryLock, LockSessions
        from devon_adapters.index.postgres import lock_key

        with self._guard:
            if self._sessions is None:
                self._sessions = LockSessions(self.url)
            lock = self._locks.get(name)
            if lock is None:
                key = lock_key(self.schema, name)
                lock = self._locks[name] = AdvisoryLock(self._sessions, key, f"lock of {label}")
            return lock

    def close(self) -> None:
        """Close the connections kept for locks (held locks keep theirs)."""
        if self._sessions is not None:
            self._sessions.close()


def open_backend(paths: VaultPaths, database_url: str | None) -> IndexBackend:
    """PostgreSQL when a database URL is given, else SQLite in the vault."""
    return PostgresBackend(database_url) if database_url else SqliteBackend(paths)
