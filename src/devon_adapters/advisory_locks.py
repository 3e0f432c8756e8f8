"""Per-model and vault-wide locks as PostgreSQL session advisory locks (ADR 0181).

What `devon_adapters.locks` does with lock files, for a vault whose index is in PostgreSQL:
file locks on NFS, CephFS or Lustre are not reliable between hosts, the database is. A held
lock is one session (its own connection, outside the index's pool) holding
`pg_advisory_lock(key)`; the server frees it when that session ends, so a process killed or a
host lost (noticed through TCP keep-alives) never leaves a model locked.
"""

import threading
from types import TracebackType
from typing import Any

import psycopg
from filelock import Timeout

from devon_adapters.postgres_index import connect, unavailable

__all__ = ["AdvisoryLock", "Timeout"]


class AdvisoryLock:
    """One advisory lock: re-entrant within a thread, exclusive between threads, processes
    and hosts. `acquire(timeout=...)` raises `Timeout` (filelock's, as the file locks do)
    when the lock is not free in time; `timeout=0` only tries."""

    def __init__(self, url: str, key: int, name: str) -> None:
        self.url, self.key, self.name = url, key, name
        self._local = threading.local()

    @property
    def is_locked(self) -> bool:
        """Whether this thread holds it."""
        return getattr(self._local, "depth", 0) > 0

    def acquire(self, timeout: float | None = None) -> None:
        if self.is_locked:
            self._local.depth += 1
            return
        db = connect(self.url)
        try:
            if not self._take(db, timeout):
                raise Timeout(self.name)
        except BaseException:
            db.close()
            raise
        self._local.db, self._local.depth = db, 1

    def _take(self, db: psycopg.Connection[Any], timeout: float | None) -> bool:
        try:
            if timeout is not None and timeout <= 0:
                row = db.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
                return bool(row and row[0])
            if timeout is not None:
                db.execute(f"SET lock_timeout = {max(1, int(timeout * 1000))}")
            db.execute("SELECT pg_advisory_lock(%s)", (self.key,))
            return True
        except psycopg.errors.LockNotAvailable:
            return False
        except psycopg.OperationalError as error:
            raise unavailable(self.url, error) from None

    def release(self) -> None:
        if not self.is_locked:
            raise RuntimeError(f"{self.name} is not held by this thread")
        self._local.depth -= 1
        if self._local.depth:
            return
        db: psycopg.Connection[Any] = self._local.db
        self._local.db = None
        try:
            db.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        except psycopg.Error:
            pass  # the session is gone, and the server freed the lock with it
        finally:
            db.close()

    def __enter__(self) -> "AdvisoryLock":
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()
