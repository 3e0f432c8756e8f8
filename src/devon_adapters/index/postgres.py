"""The vault's index in PostgreSQL: the same rows, operations journal and named migrations as
the SQLite index (`devon_adapters.index.sqlite`), for several hosts sharing one vault (ADR 0180).

- Tables live in the connection's current schema (`search_path`), so one database can hold
  several vaults, one schema each.
- Rows are encoded exactly as in SQLite (ISO 8601 text times, JSON text): one encoder and
  decoder for both, and an index copies between the two without translation.
- `write()` is one transaction that first takes a transaction-level advisory lock of the
  vault: writers wait for one another as under SQLite's `BEGIN IMMEDIATE`, so every
  read-then-write decision made inside it holds across hosts. Reads take no lock.
- Ids sort and compare as bytes (`COLLATE "C"`), as in SQLite, so listings agree.
- Any failure to reach the server becomes `StoreUnavailable` (HTTP 503, exit 1).
"""

import hashlib
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg.conninfo import conninfo_to_dict

from devon_adapters.index.records import (
    SELECT_RECORDS,
    Changed,
    JournalRow,
    Operation,
    Record,
    RowBuilder,
    StoredRow,
    decoded,
    fleet_tables,
    generation_and_counter,
    jobs_tables,
    pending_migrations,
    read_changed,
    stored_row,
    time_to_text,
)
from devon_core.errors import InvalidInput, StoreUnavailable

T = TypeVar("T")
Migration = Callable[["Connection"], None]

CONNECT_TIMEOUT_S = 10
CHECK_AFTER_IDLE_S = 5.0
PUT_MANY_CHUNK = 1000
"""Rows per statement when many are written at once (7 parameters each, under 65,535)."""
POOL_SIZE = 8
POOL_WAIT_S = 30.0
FIRST_WAIT_S = 1.0

KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
"""The client notices a dead server within about a minute; `_configure` asks the same of
the server, so that a lost host's sessions end and its advisory locks are freed."""


def _configure(db: psycopg.Connection[Any]) -> None:
    for name, value in (("idle", 30), ("interval", 10), ("count", 3)):
        db.execute(f"SET tcp_keepalives_{name} = {value}")


class Rows:
    """The rows of one statement, already fetched: readable after its connection went back
    to the pool. Offers what the index's callers use of a sqlite3 cursor."""

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows, self.rowcount = rows, rowcount

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


@lru_cache(maxsize=512)
def pyformat(sql: str) -> str:
    """SQL written with SQLite's `?` parameters, for psycopg (`%s`): the SQL of the index
    and of the job store is written once, in that form, for both backends. `IS ?` (null-safe
    equality in SQLite) becomes `IS NOT DISTINCT FROM`. No statement holds a `?` in a
    literal."""
    return sql.replace("%", "%%").replace(" IS ?", " IS NOT DISTINCT FROM ?").replace("?", "%s")


class Connection:
    """A psycopg connection that takes SQL in the `?` form (see `pyformat`)."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> "psycopg.Cursor[Any]":
        return self.raw.execute(pyformat(sql), params)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(pyformat(sql), params)


class Reader:
    """What `PostgresIndex.reader()` gives: each statement on a pooled connection (this
    thread's transaction inside `write()`), its rows fetched before the connection returns."""

    def __init__(self, index: "PostgresIndex") -> None:
        self._index = index

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        with self._index.connection() as db:
            cursor = db.execute(sql, params)
            return Rows(cursor.fetchall() if cursor.description else [], cursor.rowcount)


def _create_models(db: Connection) -> None:
    db.execute(
        """CREATE TABLE models (
            source        TEXT COLLATE "C" NOT NULL,
            model_id      TEXT COLLATE "C" NOT NULL,
            size_bytes    BIGINT NOT NULL,
            downloaded_at TEXT NOT NULL,
            last_used     TEXT,
            files         TEXT NOT NULL,
            metadata      TEXT NOT NULL,
            PRIMARY KEY (source, model_id)
        )"""
    )
    db.execute("CREATE INDEX models_usage ON models (source, size_bytes)")


def _create_operations(db: Connection) -> None:
    db.execute(
        """CREATE TABLE operations (
            source   TEXT COLLATE "C" NOT NULL,
            model_id TEXT COLLATE "C" NOT NULL,
            kind     TEXT NOT NULL CHECK (kind IN ('commit', 'remove')),
            aside    TEXT,
            record   TEXT,
            PRIMARY KEY (source, model_id)
        )"""
    )


def _index_ids_without_case(db: Connection) -> None:
    db.execute("CREATE INDEX models_nocase ON models (source, lower(model_id))")


def _create_jobs(db: Connection) -> None:
    statements = jobs_tables(
        serial_key="BIGSERIAL PRIMARY KEY",
        key_text='TEXT COLLATE "C"',
        byte_count="BIGINT",
        real="DOUBLE PRECISION",
    )
    for statement in statements:
        db.execute(statement)


def _count_changes(db: Connection) -> None:
    # The change counter of the read path (ADR 0130): one row, bumped by a trigger in the
    # very transaction that changes `models`, whichever host writes. Once per statement
    # (SQLite's triggers fire per row): a rebuild writing 100,000 rows bumps it once per
    # row it sends, not once per row times the table.
    (schema,) = _one(db, "SELECT current_schema()")
    quoted = '"' + str(schema).replace('"', '""') + '"'
    db.execute(
        "CREATE TABLE changes (id INTEGER PRIMARY KEY CHECK (id = 0),"
        " counter BIGINT NOT NULL, generation TEXT NOT NULL)"
    )
    db.execute("INSERT INTO changes VALUES (0, 0, ?)", (uuid.uuid4().hex,))
    body = f"UPDATE {quoted}.changes SET counter = counter + 1 WHERE id = 0"  # noqa: S608
    db.execute(
        "CREATE FUNCTION count_model_changes() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN {body}; RETURN NULL; END $$"
    )
    db.execute(
        "CREATE TRIGGER models_counted AFTER INSERT OR UPDATE OR DELETE ON models"
        " FOR EACH STATEMENT EXECUTE FUNCTION count_model_changes()"
    )


def _log_changed_models(db: Connection) -> None:
    # As the SQLite index's migration of this name (ADR 0211). Row triggers fire at the end
    # of the statement, before the statement trigger that bumps the counter: each change is
    # logged as counter + 1, which is the counter once its statement is done.
    (schema,) = _one(db, "SELECT current_schema()")
    quoted = '"' + str(schema).replace('"', '""') + '"'
    db.execute(
        """CREATE TABLE model_changes (
            source   TEXT COLLATE "C" NOT NULL,
            model_id TEXT COLLATE "C" NOT NULL,
            counter  BIGINT NOT NULL,
            PRIMARY KEY (source, model_id)
        )"""
    )
    db.execute("CREATE INDEX model_changes_by_counter ON model_changes (counter)")
    log = (
        f"INSERT INTO {quoted}.model_changes VALUES ({{0}}.source, {{0}}.model_id,"  # noqa: S608
        f" (SELECT counter + 1 FROM {quoted}.changes WHERE id = 0))"
        " ON CONFLICT (source, model_id) DO UPDATE SET counter = EXCLUDED.counter"
    )
    db.execute(
        "CREATE FUNCTION log_model_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" IF TG_OP <> 'INSERT' THEN {log.format('OLD')}; END IF;"
        f" IF TG_OP <> 'DELETE' THEN {log.format('NEW')}; END IF;"
        " RETURN NULL; END $$"
    )
    db.execute(
        "CREATE TRIGGER models_logged AFTER INSERT OR UPDATE OR DELETE ON models"
        " FOR EACH ROW EXECUTE FUNCTION log_model_change()"
    )


def _create_fleet(db: Connection) -> None:
    for statement in fleet_tables("BIGINT"):
        db.execute(statement)


# Same names as the SQLite index's migrations where they make the same change (ADR 0010).
MIGRATIONS: tuple[tuple[str, Migration], ...] = (
    ("create models", _create_models),
    ("create operations journal", _create_operations),
    ("index model ids without case", _index_ids_without_case),
    ("create download jobs", _create_jobs),
    ("count changes to models", _count_changes),
    ("log changed models", _log_changed_models),
    ("create fleet hosts and placements", _create_fleet),
)

_UPSERT = (
    "INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (source, model_id) DO UPDATE SET size_bytes = EXCLUDED.size_bytes,"
    " downloaded_at = EXCLUDED.downloaded_at, last_used = EXCLUDED.last_used,"
    " files = EXCLUDED.files, metadata = EXCLUDED.metadata"
)

_BEGIN_OPERATION = (
    "INSERT INTO operations VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (source, model_id) DO UPDATE SET kind = EXCLUDED.kind,"
    " aside = EXCLUDED.aside, record = EXCLUDED.record"
)


def database_label(url: str) -> str:
    """`host:port/database` of `url`, never its password: what messages show."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the configured database"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"{host}:{port}/{parts.get('dbname') or parts.get('user') or ''}"


URL_SETTING = "DEVON_DATABASE_URL"
"""Where the URL of the vault's index comes from, as messages name it: the environment
variable of the setting `database_url` (a test holds the two together)."""


def unavailable(url: str, error: BaseException, named_by: str = URL_SETTING) -> StoreUnavailable:
    """The error for a server at `url` that cannot be reached; `named_by` is where the
    user gave the URL (the setting, or a command's argument)."""
    reason = " ".join(str(error).split()) or type(error).__name__
    return StoreUnavailable(
        f"The vault index database {database_label(url)} cannot be reached ({reason}); "
        f"nothing on disk was changed. Check {named_by} and that PostgreSQL is running"
    )


def connect(url: str, named_by: str = URL_SETTING) -> psycopg.Connection[Any]:
    """One connection to `url` with DEVON's keep-alive settings; StoreUnavailable if the
    server cannot be reached."""
    try:
        db = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, **KEEPALIVES)
        _configure(db)
        return db
    except psycopg.OperationalError as error:
        raise unavailable(url, error, named_by) from None
    except psycopg.ProgrammingError as error:  # a malformed URL
        raise InvalidInput(f"Cannot use {named_by}: {error}") from None


def current_schema(url: str, named_by: str = URL_SETTING) -> str:
    """The schema the index lives in at `url` (the first of its `search_path` that exists);
    a first connection, so an unreachable server is reported before anything else."""
    db = connect(url, named_by)
    try:
        (schema,) = _one(db, "SELECT current_schema()")
    except psycopg.OperationalError as error:
        raise unavailable(url, error, named_by) from None
    finally:
        db.close()
    if schema is None:
        raise InvalidInput(
            f"{database_label(url)}: no schema to hold the index (no schema of the search_path "
            "exists): create it, or name one with options=-csearch_path=... in the URL"
        )
    return str(schema)


def lock_key(namespace: str, name: str) -> int:
    """A 64-bit advisory lock key for `name` within `namespace` (the vault's schema)."""
    digest = hashlib.sha256(f"devon\0{namespace}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresIndex:
    """The index of one vault in a PostgreSQL schema. Safe to share between threads; each
    process (and each host) opens its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.created = False
        """Whether this open found no index in the schema and created one."""
        self.schema = current_schema(url)
        self.write_key = lock_key(self.schema, "index writes")
        self._local = threading.local()
        self._guard = threading.Lock()
        self._pid = os.getpid()
        self._returned: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = (
            weakref.WeakKeyDictionary()
        )
        """When each pooled connection last came back from work."""
        self._failed_at = 0.0
        """When a call last failed to reach the server: connections older are suspect."""
        self._pool = self._open_pool()
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresIndex({database_label(self.url)}, schema {self.schema})"

    # -- connections -------------------------------------------------------------------

    def _open_pool(self) -> psycopg_pool.ConnectionPool[psycopg.Connection[Any]]:
        pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] = psycopg_pool.ConnectionPool(
            self.url,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S, **KEEPALIVES},
            min_size=1,
            max_size=POOL_SIZE,
            timeout=POOL_WAIT_S,
            configure=_configure,
            num_workers=2,
            open=False,
            name="devon-index",
        )
        pool.open(wait=False)
        return pool

    def close(self) -> None:
        with self._guard:
            if self._pid == os.getpid():
                self._pool.close()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """This thread's transaction connection when inside `write()`, else one from the
        pool; any failure to reach the server raised as StoreUnavailable."""
        current: Connection | None = getattr(self._local, "tx", None)
        if current is not None:
            yield current
            return
        if self._pid != os.getpid():  # a forked child must not share the parent's sockets
            with self._guard:
                if self._pid != os.getpid():
                    self._pool, self._pid = self._open_pool(), os.getpid()
        try:
            raw = self._checkout()
            try:
                yield Connection(raw)
            finally:
                self._returned[raw] = time.monotonic()
                self._pool.putconn(raw)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as error:
            self._failed_at = time.monotonic()
            raise unavailable(self.url, error) from None

    def reader(self) -> Reader:
        """For reads outside `write()` (the job store's), as `Index.reader()`."""
        return Reader(self)

    def _checkout(self) -> psycopg.Connection[Any]:
        """A pooled connection that works: one found broken is dropped and another taken
        (the second one found broken raises)."""
        raw = self._checked(self._pooled())
        if raw is None:
            raw = self._pooled()
            try:
                psycopg_pool.ConnectionPool.check_connection(raw)
            except psycopg.Error:
                self._pool.putconn(raw)
                raise
        return raw

    def _pooled(self) -> psycopg.Connection[Any]:
        """A connection from the pool. One not free within a second means a busy pool or a
        server gone: a direct connection tells which, so that a server gone fails fast,
        with its own reason, instead of after the pool's whole wait."""
        try:
            return self._pool.getconn(timeout=FIRST_WAIT_S)
        except psycopg_pool.PoolTimeout:
            connect(self.url).close()  # raises StoreUnavailable when the server is gone
            return self._pool.getconn(timeout=POOL_WAIT_S)

    def _checked(self, raw: psycopg.Connection[Any]) -> psycopg.Connection[Any] | None:
        """`raw`, checked first if it sat idle long enough for the server to have gone
        away meanwhile (a restart, an idle timeout), or if it came back before a call last
        failed to reach the server (its server may be gone and back); None if it is broken
        (given back: the pool drops it). A connection back from work within the last
        seconds is used as it is: checking each one cost a round trip per call, a fifth of
        a commit's."""
        returned = self._returned.get(raw, 0.0)
        if time.monotonic() - returned < CHECK_AFTER_IDLE_S and returned > self._failed_at:
            return raw
        try:
            psycopg_pool.ConnectionPool.check_connection(raw)
        except psycopg.Error:
            self._pool.putconn(raw)
            return None
        return raw

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction; writers of the vault (on any host) wait for one another."""
        if getattr(self._local, "tx", None) is not None:
            raise RuntimeError("write() does not nest")
        with self.connection() as db:
            try:
                # One round trip: BEGIN and the lock as one simple query (no parameters).
                db.raw.execute(f"BEGIN; SELECT pg_advisory_xact_lock({int(self.write_key)})")
                self._local.tx = db
                try:
                    yield db
                except BaseException:
                    self._local.tx = None
                    if not db.raw.broken:
                        db.raw.execute("ROLLBACK")
                    raise
                self._local.tx = None
                db.raw.execute("COMMIT")
            except psycopg.OperationalError as error:
                self._failed_at = time.monotonic()
                raise unavailable(self.url, error) from None

    def _migrate(self) -> None:
        with self.write() as db:
            tables = {
                name
                for (name,) in db.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                )
            }
            if tables and "schema_migrations" not in tables:
                raise InvalidInput(
                    f"{database_label(self.url)} schema {self.schema} holds tables that are "
                    "not a DEVON index (no schema_migrations): use an empty database or schema"
                )
            self.created = "models" not in tables
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            applied = {name for (name,) in db.execute("SELECT name FROM schema_migrations")}
            where = f"{database_label(self.url)} schema {self.schema}"
            for name, migration in pending_migrations(MIGRATIONS, applied, where):
                migration(db)
                db.execute(
                    "INSERT INTO schema_migrations VALUES ("
                    " (SELECT COALESCE(MAX(version), 0) + 1 FROM schema_migrations), ?, ?)",
                    (name, time_to_text(datetime.now(UTC))),
                )

    def schema_version(self) -> int:
        with self.connection() as db:
            (version,) = _one(db, "SELECT MAX(version) FROM schema_migrations")
        return int(version or 0)

    # -- reads -------------------------------------------------------------------------

    def get(self, source: str, model_id: str) -> Record | None:
        with self.connection() as db:
            row = db.execute(
                SELECT_RECORDS + " WHERE source = ? AND model_id = ?", (source, model_id)
            ).fetchone()
        return decoded(Record, row) if row else None

    def records(self, source: str | None = None) -> list[Record]:
        return self.each(Record, source)

    def each(self, build: RowBuilder[T], source: str | None = None) -> list[T]:
        """`build` applied to every row (of one source if given), in (source, model_id)
        order, as `Index.each`."""
        with self.connection() as db:
            if source is None:
                rows = db.execute(SELECT_RECORDS + " ORDER BY source, model_id").fetchall()
            else:
                rows = db.execute(
                    SELECT_RECORDS + " WHERE source = ? ORDER BY model_id", (source,)
                ).fetchall()
        return [decoded(build, row) for row in rows]

    def change_counter(self) -> int:
        """A number that grows with every transaction that changed a model row, on any
        host (as `Index.change_counter`). One indexed read."""
        with self.connection() as db:
            (counter,) = _one(db, "SELECT counter FROM changes WHERE id = 0")
        return int(counter)

    def change_stamp(self) -> str:
        """The change counter with the index's generation (as `Index.change_stamp`)."""
        with self.connection() as db:
            counter, generation = _one(db, "SELECT counter, generation FROM changes WHERE id = 0")
        return f"{generation}:{counter}"

    def raw_rows(self, source: str | None = None) -> list[tuple[Any, ...]]:
        """Every row as stored (of one source if given), in (source, model_id) order, as
        `Index.raw_rows`."""
        with self.connection() as db:
            if source is None:
                rows = db.execute(SELECT_RECORDS + " ORDER BY source, model_id").fetchall()
            else:
                rows = db.execute(
                    SELECT_RECORDS + " WHERE source = ? ORDER BY model_id", (source,)
                ).fetchall()
        return [tuple(row) for row in rows]

    def folders(self) -> list[tuple[str, str]]:
        """(source, owner) of every folder holding models (as `Index.folders`)."""
        with self.connection() as db:
            rows = db.execute(
                "SELECT DISTINCT source, CASE WHEN strpos(model_id, '/') > 0"
                " THEN split_part(model_id, '/', 1) ELSE '' END FROM models"
            ).fetchall()
        return [(str(source), str(owner)) for source, owner in rows]

    def names_in(self, source: str, owner: str) -> set[str]:
        """The last part of the ids of `source`'s models in `owner`'s folder (as
        `Index.names_in`)."""
        with self.connection() as db:
            if owner:
                rows = db.execute(
                    "SELECT substr(model_id, ?) FROM models"
                    " WHERE source = ? AND model_id >= ? AND model_id < ?",
                    (len(owner) + 2, source, owner + "/", owner + "0"),  # "0" follows "/"
                ).fetchall()
            else:
                rows = db.execute(
                    "SELECT model_id FROM models WHERE source = ? AND strpos(model_id, '/') = 0",
                    (source,),
                ).fetchall()
        return {str(name) for (name,) in rows}

    def stored_rows(self) -> list[tuple[str, str, int, str, str | None, str, str]]:
        """Every row as stored, in (source, model_id) order, in one statement (as
        `Index.stored_rows`: the same text forms)."""
        with self.connection() as db:
            rows = db.execute(SELECT_RECORDS + " ORDER BY source, model_id").fetchall()
        return [(s, m, int(size), d, u, f, meta) for s, m, size, d, u, f, meta in rows]

    def stamped_rows(self) -> tuple[str, int, list[StoredRow]]:
        """As `Index.stamped_rows`: the rows with the generation and counter, one snapshot."""
        with self._snapshot() as db:
            generation, counter = generation_and_counter(db)
            rows = db.execute(SELECT_RECORDS + " ORDER BY source, model_id").fetchall()
        return generation, counter, [(s, m, int(n), d, u, f, x) for s, m, n, d, u, f, x in rows]

    def changed_since(self, counter: int, limit: int) -> tuple[str, int, list[Changed] | None]:
        """As `Index.changed_since`."""
        with self._snapshot() as db:
            return read_changed(db, counter, limit)

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """A pooled connection inside one repeatable-read, read-only transaction."""
        with self.connection() as db:
            try:
                db.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    yield db
                finally:
                    if not db.raw.broken:
                        db.raw.execute("COMMIT")
            except psycopg.OperationalError as error:
                raise unavailable(self.url, error) from None

    def clash(self, source: str, model_id: str, db: Any = None) -> str | None:
        """Another model whose directory overlaps this one's (as `Index.clash`), in one
        statement: the same id in another case, this id's owner folder as a bare id, or
        models inside this bare id's folder. Inside `db`'s transaction when given (the
        commit's, so that of two commits whose folders nest the second sees the first)."""
        owner, sep, _ = model_id.partition("/")
        if sep:
            other = "lower(model_id) = lower(?)"
            args: tuple[str, ...] = (owner,)
        else:
            other = "lower(model_id) >= lower(?) AND lower(model_id) < lower(?)"
            args = (model_id + "/", model_id + "0")  # "0" follows "/"
        same = "lower(model_id) = lower(?) AND model_id != ?"
        sql = f"SELECT model_id FROM models WHERE source = ? AND (({same}) OR ({other})) LIMIT 1"  # noqa: S608
        if db is not None:
            row = db.execute(sql, (source, model_id, model_id, *args)).fetchone()
        else:
            with self.connection() as fresh:
                row = fresh.execute(sql, (source, model_id, model_id, *args)).fetchone()
        return str(row[0]) if row else None

    def model_keys(self) -> list[tuple[str, str]]:
        with self.connection() as db:
            return [(s, m) for s, m in db.execute("SELECT source, model_id FROM models")]

    def usage(self) -> dict[str, tuple[int, int]]:
        """Per source: (model count, total bytes)."""
        with self.connection() as db:
            rows = db.execute(
                "SELECT source, COUNT(*), COALESCE(SUM(size_bytes), 0) FROM models"
                " GROUP BY source ORDER BY source"
            ).fetchall()
        return {source: (int(count), int(total)) for source, count, total in rows}

    def used_bytes(self) -> int:
        with self.connection() as db:
            (total,) = _one(db, "SELECT COALESCE(SUM(size_bytes), 0) FROM models")
        return int(total)

    def operations(self) -> list[Operation]:
        with self.connection() as db:
            rows = db.execute(
                "SELECT source, model_id, kind, aside, record FROM operations"
            ).fetchall()
        return [
            Operation(s, m, kind, aside, Record.from_json(record) if record else None)
            for s, m, kind, aside, record in rows
        ]

    # -- writes (inside `write()`) -----------------------------------------------------

    @staticmethod
    def put(db: Connection, record: Record) -> None:
        db.execute(_UPSERT, stored_row(record))

    @staticmethod
    def put_many(db: Connection, records: Sequence[Record]) -> None:
        """Many rows in a few statements of `PUT_MANY_CHUNK` rows each: the change counter's
        trigger fires once per statement, and a statement per row (`executemany`) made a
        100,000-model rebuild update that one row 100,000 times in one transaction, each
        update slower than the last (the row's versions pile up until the commit)."""
        PostgresIndex.put_rows(db, [stored_row(record) for record in records])

    @staticmethod
    def put_rows(db: Connection, rows: Sequence[StoredRow]) -> None:
        """Rows already encoded (`stored_row`), as `put_many` writes them."""
        latest = list({(r[0], r[1]): r for r in rows}.values())  # one row per key
        for start in range(0, len(latest), PUT_MANY_CHUNK):
            chunk = latest[start : start + PUT_MANY_CHUNK]
            values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
            db.execute(
                _UPSERT.replace("VALUES (?, ?, ?, ?, ?, ?, ?)", "VALUES " + values),
                [value for row in chunk for value in row],
            )

    @staticmethod
    def delete(db: Connection, source: str, model_id: str) -> bool:
        cursor = db.execute(
            "DELETE FROM models WHERE source = ? AND model_id = ?", (source, model_id)
        )
        return cursor.rowcount > 0

    @staticmethod
    def set_last_used(db: Connection, source: str, model_id: str, when: datetime) -> None:
        db.execute(
            "UPDATE models SET last_used = ? WHERE source = ? AND model_id = ?",
            (time_to_text(when), source, model_id),
        )

    @staticmethod
    def begin_operation(db: Connection, operation: Operation) -> None:
        db.execute(
            _BEGIN_OPERATION,
            (
                operation.source,
                operation.model_id,
                operation.kind,
                operation.aside,
                operation.record.to_json() if operation.record else None,
            ),
        )

    @staticmethod
    def end_operation(db: Connection, source: str, model_id: str) -> None:
        db.execute("DELETE FROM operations WHERE source = ? AND model_id = ?", (source, model_id))

    @staticmethod
    def begin_operations(db: Connection, rows: Sequence[JournalRow]) -> None:
        """Many operations journaled at once, already encoded (`journaled_and_stored`)."""
        db.executemany(_BEGIN_OPERATION, rows)

    @staticmethod
    def journaled_aside(db: Connection, aside: str) -> set[tuple[str, str]]:
        """(source, model_id) of every operation in the journal set aside as `aside`."""
        rows = db.execute("SELECT source, model_id FROM operations WHERE aside = ?", (aside,))
        return {(source, model_id) for source, model_id in rows}

    @staticmethod
    def end_operations_aside(db: Connection, aside: str) -> None:
        """End every operation in the journal set aside as `aside`."""
        db.execute("DELETE FROM operations WHERE aside = ?", (aside,))


def _one(db: "Connection | psycopg.Connection[Any]", sql: str) -> tuple[Any, ...]:
    row = db.execute(sql).fetchone()
    if row is None:  # pragma: no cover - aggregate queries always answer one row
        raise RuntimeError(f"no row from {sql}")
    return tuple(row)
