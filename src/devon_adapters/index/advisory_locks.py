"""Per-model and vault-wide locks as PostgreSQL session advisory locks (ADR 0181).

What `devon_adapters.vault.locks` does with lock files, for a vault whose index is in PostgreSQL:
file locks on NFS, CephFS or Lustre are not reliable between hosts, the database is. A held
lock is one session (its own connection, outside the index's pool) holding
`pg_advisory_lock(key)`; the server frees it when that session ends, so a process killed or a
host lost (noticed through TCP keep-alives) never leaves a model locked.
"""

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import psycopg
from filelock import Timeout

from devon_adapters.index.postgres import connect, unavailable

__all__ = ["AdvisoryLock", "LockSessions", "Timeout"]

IDLE_SESSIONS = 4


class LockSessions:
    """Connections for holding locks, kept for reuse once their lock is released (opening
    one costs a server process: most of a commit's time when each lock opened its own)."""

    def __init__(self, url: str, connect_to: Callable[[str], psycopg.Connection[Any]] = connect):
        self.url = url
        self._connect = connect_to
        self._idle: list[psycopg.Connection[Any]] = []
        self._guard = threading.Lock()

    def take(self) -> tuple[psycopg.Connection[Any], bool]:
        """A connection, and whether it was used before (and so may have died meanwhile)."""
        with self._guard:
            while self._idle:
                db = self._idle.pop()
                if not db.closed and not db.broken:
                    return db, True
        return self._connect(self.url), False

    def give(self, db: psycopg.Connection[Any]) -> None:
        """Back for reuse: it holds no lock any more."""
        with self._guard:
            if len(self._idle) < IDLE_SESSIONS and not db.closed and not db.broken:
                self._idle.append(db)
                return
        db.close()

    def close(self) -> None:
        with self._guard:
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()


class AdvisoryLock:
    """One advisory lock: re-entrant within a thread, exclusive between threads, processes
    and hosts. `acquire(timeout=...)` raises `Timeout` (filelock's, as the file locks do)
    when the lock is not free in time; `timeout=0` only tries."""

    def __init__(self, sessions: LockSessions, key: int, name: str) -> None:
        self.sessions, self.key, self.name = sessions, key, name
        self._local = threading.local()

    @property
    def is_locked(self) -> bool:
        """Whether this thread holds it."""
        return getattr(self._local, "depth", 0) > 0

    def acquire(self, timeout: float | None = None) -> None:
        if self.is_locked:
            self._local.depth += 1
            return
        db, reused = self.sessions.take()
        try:
            taken = self._take(db, timeout)
        except psycopg.OperationalError as error:
            db.close()
            if not reused:
                raise unavailable(self.sessions.url, error) from None
            # A kept connection the server has dropped meanwhile: once more, on a new one.
            db, reused = connect(self.sessions.url), False
            try:
                taken = self._take(db, timeout)
            except psycopg.OperationalError as again:
                db.close()
                raise unavailable(self.sessions.url, again) from None
        except BaseException:
            db.close()
            raise
        if not taken:
            self.sessions.give(db)
            raise Timeout(self.name)
        self._local.db, self._local.depth = db, 1

    def _take(self, db: psycopg.Connection[Any], timeout: float | None) -> bool:
        if timeout is not None and timeout <= 0:
            row = db.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            return bool(row and row[0])
        wait_ms = 0 if timeout is None else max(1, int(timeout * 1000))
        try:  # one round trip: the FROM (the session's lock timeout) is set first
            db.execute(
                "SELECT pg_advisory_lock(%s)"
                " FROM (SELECT set_config('lock_timeout', %s, false)) AS wait",
                (self.key, f"{wait_ms}ms"),
            )
            return True
        except psycopg.errors.LockNotAvailable:
            return False

    def release(self) -> None:
        if not self.is_locked:
            raise RuntimeError(f"{self.name} is not held by this thread")
        self._local.depth -= 1
        if self._local.depth:
            return
        db: psycopg.Connection[Any] = self._local.db
        self._local.db = None
        try:
            row = db.execute("SELECT pg_advisory_unlock(%s)", (self.key,)).fetchone()
        except psycopg.Error:
            db.close()  # the session is gone, and the server freed the lock with it
            return
        if row and row[0]:
            self.sessions.give(db)
        else:
            db.close()  # not what we held: never reuse a session in an unknown state

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
