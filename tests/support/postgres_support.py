"""A PostgreSQL database of this test process, on the server at 127.0.0.1:5432.

Each test process creates `devon_test_<pid>_<random>` on first use (never touching the
server's `test` database beyond connecting to it) and drops it when the session ends; each
vault a test opens gets a schema of its own in it, named in the URL's `search_path`.
"""

import os
import uuid
from typing import Any
from urllib.parse import quote

import psycopg

SERVER = os.environ.get("DEVON_TEST_POSTGRES", "postgresql://127.0.0.1:5432")
ADMIN_DATABASE = "test"


class ScratchDatabase:
    def __init__(self) -> None:
        self.name = f"{PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with self._admin() as admin:
            _drop_orphans(admin)
            admin.execute(f'CREATE DATABASE "{self.name}"')
        self.url = f"{SERVER}/{self.name}"

    @staticmethod
    def _admin() -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(f"{SERVER}/{ADMIN_DATABASE}", autocommit=True)
        except psycopg.OperationalError as error:
            raise RuntimeError(
                f"The tests need PostgreSQL at {SERVER} (trust authentication, database "
                f"{ADMIN_DATABASE!r}); .ci/ensure-services starts it: {error}"
            ) from error

    def new_schema(self) -> str:
        schema = f"vault_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(f'CREATE SCHEMA "{schema}"')
        return schema

    def vault_url(self) -> str:
        """The URL of an empty schema of its own: one vault's index."""
        return url_with_schema(self.url, self.new_schema())

    def cut_off(self) -> None:
        """Make this database unreachable, as a server gone away would be: no new
        connection is let in and every open one is ended."""
        with self._admin() as admin:
            admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (self.name,),
            )

    def drop(self) -> None:
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


PREFIX = "devon_test_"


def _drop_orphans(admin: psycopg.Connection[Any]) -> None:
    """Drop the databases of test processes of this machine that are gone (killed before
    their session ended): their names carry their pid."""
    rows = admin.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)
    ).fetchall()
    for (name,) in rows:
        pid = str(name)[len(PREFIX) :].partition("_")[0]
        if pid.isdigit() and not _alive(int(pid)):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def url_with_schema(url: str, schema: str) -> str:
    return f"{url}?options={quote(f'-csearch_path={schema}')}"


_database: ScratchDatabase | None = None


def scratch_database() -> ScratchDatabase:
    """This process's test database, created on first use."""
    global _database
    if _database is None:
        _database = ScratchDatabase()
    return _database


def drop_scratch_database() -> None:
    global _database
    if _database is not None:
        _database.drop()
        _database = None
