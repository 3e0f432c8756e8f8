"""The vault's index: one SQLite file (WAL mode), shared by every process using the vault.

Schema changes are an ordered list of small migration functions, applied at open and
recorded in `schema_migrations`. Each thread gets its own connection; writes run in
`BEGIN IMMEDIATE` transactions and wait (`busy_timeout`) for one another.
"""

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from devon_adapters.index.records import (
    SELECT_COUNTER,
    SELECT_RECORDS,
    SELECT_STAMP,
    Changed,
    IndexTooNew,
    JournalRow,
    Operation,
    Record,
    RowBuilder,
    StoredRow,
    as_record,
    decoded,
    fleet_tables,
    generation_and_counter,
    jobs_tables,
    pending_migrations,
    read_changed,
    stored_row,
    time_to_text,
)
from devon_adapters.index.reserve import SpaceReserve
from devon_adapters.vault.checked_times import SETTLED_NS, read_checked, write_checked
from devon_adapters.vault.paths import FILE_MODE
from devon_core.errors import InsufficientStorage

BUSY_TIMEOUT_MS = 60_000
T = TypeVar("T")

CHECKED_FILE = "index-checked.json"
"""Beside the index: its sizes and times when its last `quick_check` passed."""

Migration = Callable[[sqlite3.Connection], None]


def _create_models(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE models (
            source        TEXT NOT NULL,
            model_id      TEXT NOT NULL,
            size_bytes    INTEGER NOT NULL,
            downloaded_at TEXT NOT NULL,
            last_used     TEXT,
            files         TEXT NOT NULL,
            metadata      TEXT NOT NULL,
            PRIMARY KEY (source, model_id)
        ) WITHOUT ROWID"""
    )
    # Lets status() and space() aggregate without reading the wide rows.
    db.execute("CREATE INDEX models_usage ON models (source, size_bytes)")


def _create_operations(db: sqlite3.Connection) -> None:
    # The journal of commits and removals in flight: what a restart must finish or undo.
    db.execute(
        """CREATE TABLE operations (
            source   TEXT NOT NULL,
            model_id TEXT NOT NULL,
            kind     TEXT NOT NULL CHECK (kind IN ('commit', 'remove')),
            aside    TEXT,
            record   TEXT,
            PRIMARY KEY (source, model_id)
        ) WITHOUT ROWID"""
    )


def _index_ids_without_case(db: sqlite3.Connection) -> None:
    # Finds ids that would share a directory on a case-insensitive filesystem.
    db.execute("CREATE INDEX models_nocase ON models (source, model_id COLLATE NOCASE)")


def _count_changes(db: sqlite3.Connection) -> None:
    # The change counter: one row, bumped by triggers in the very transaction that changes
    # `models`, whoever writes (this process, another one, an older DEVON of this schema).
    # Readers compare it with the value their cached answers were built at (ADR 0130).
    # `generation` names this index file: a rebuilt index starts counting again.
    db.execute(
        "CREATE TABLE changes (id INTEGER PRIMARY KEY CHECK (id = 0),"
        " counter INTEGER NOT NULL, generation TEXT NOT NULL)"
    )
    db.execute("INSERT INTO changes VALUES (0, 0, ?)", (uuid.uuid4().hex,))
    bump = "BEGIN UPDATE changes SET counter = counter + 1 WHERE id = 0; END"
    db.execute("CREATE TRIGGER models_insert_counted AFTER INSERT ON models " + bump)
    db.execute("CREATE TRIGGER models_update_counted AFTER UPDATE ON models " + bump)
    db.execute("CREATE TRIGGER models_delete_counted AFTER DELETE ON models " + bump)


def _create_jobs(db: sqlite3.Connection) -> None:
    statements = jobs_tables(
        serial_key="INTEGER PRIMARY KEY AUTOINCREMENT",
        key_text="TEXT",
        byte_count="INTEGER",
        real="REAL",
    )
    for statement in statements:
        db.execute(statement)


def _log_changed_models(db: sqlite3.Connection) -> None:
    # Which models changed after a given count: a writer of a view of the index (the
    # manifest) patches what changed instead of rebuilding the whole (ADR 0211). Each change
    # records the counter as it stands after its own bump (one trigger body, in order), so
    # a change committed after a reader saw counter C is logged above C, one before at or
    # below it. One row per model ever changed (a removal keeps its row, to be seen).
    db.execute(
        """CREATE TABLE model_changes (
            source   TEXT NOT NULL,
            model_id TEXT NOT NULL,
            counter  INTEGER NOT NULL,
            PRIMARY KEY (source, model_id)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX model_changes_by_counter ON model_changes (counter)")
    for name, sql in _COUNTING_TRIGGERS.items():
        db.execute(f"DROP TRIGGER {name}")
        db.execute(sql)


def _counting_triggers() -> dict[str, str]:
    """The triggers on `models` that bump the change counter and log each changed model,
    by name, as the migration "log changed models" creates them (their text is what
    `sqlite_master` keeps)."""
    bump = "UPDATE changes SET counter = counter + 1 WHERE id = 0;"
    log = (
        "INSERT OR REPLACE INTO model_changes VALUES"
        " ({0}.source, {0}.model_id, (SELECT counter FROM changes WHERE id = 0));"
    )
    triggers = {}
    for event, rows in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))):
        name = f"models_{event.lower()}_counted"
        logs = " ".join(log.format(row) for row in rows)
        triggers[name] = f"CREATE TRIGGER {name} AFTER {event} ON models BEGIN {bump} {logs} END"
    return triggers


_COUNTING_TRIGGERS = _counting_triggers()
_INSERT_TRIGGER = "models_insert_counted"


def _create_fleet(db: sqlite3.Connection) -> None:
    for statement in fleet_tables("INTEGER"):
        db.execute(statement)


# Applied in this order, each once, and recorded by name: a released name never changes, and
# branches that each add a migration merge without renumbering (ADR 0010).
MIGRATIONS: tuple[tuple[str, Migration], ...] = (
    ("create models", _create_models),
    ("create operations journal", _create_operations),
    ("index model ids without case", _index_ids_without_case),
    ("count changes to models", _count_changes),
    ("create download jobs", _create_jobs),
    ("log changed models", _log_changed_models),
    ("create fleet hosts and placements", _create_fleet),
)
MIGRATION_NAMES = frozenset(name for name, _ in MIGRATIONS)
SCHEMA_VERSION = len(MIGRATIONS)


class IndexDamaged(Exception):
    """The index file is not a usable SQLite database."""


class IndexFull(InsufficientStorage):
    """The disk of the SQLite index is full: a write could not be recorded (nothing was
    changed). `reserve`: the index's room kept for job ends, if it has one."""

    def __init__(self, path: Path, reserve: "SpaceReserve | None") -> None:
        super().__init__(
            f"The vault's disk is full: its index ({path}) cannot record changes; free some "
            "space on that disk"
        )
        self.reserve = reserve


class Index:
    """The SQLite index of one vault. Safe to share between threads and processes."""

    def __init__(self, path: Path, reserve: SpaceReserve | None = None) -> None:
        self.path = path
        self.reserve = reserve
        """Room kept on the disk to record job ends when it fills (ADR 0205)."""
        self._local = threading.local()
        self._all: dict[sqlite3.Connection, tuple[int, threading.Thread]] = {}
        """Every open connection, with the process and thread it belongs to."""
        self._guard = threading.Lock()
        self.created = False
        """Whether this open found no index (a new, or emptied, file) and created one."""
        _create_private_file(path)
        try:
            self._check()
            self._migrate()
        except IndexTooNew:
            self.close()
            raise
        except sqlite3.DatabaseError as error:
            self.close()
            raise IndexDamaged(f"{path}: {error}") from error

    # -- connections -------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            self._close_ended_threads()
            # Each connection is still used by its own thread only; leaving the check off
            # lets close() and _close_ended_threads() close it from another thread.
            db = sqlite3.connect(
                self.path,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
            )
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            self._local.db, self._local.pid = db, os.getpid()
            with self._guard:
                self._all[db] = (os.getpid(), threading.current_thread())
        return db

    def _close_ended_threads(self) -> None:
        """Close the connections of threads that have ended: a server's worker threads come
        and go, and each kept its connection (two file descriptors) open for good."""
        pid = os.getpid()
        with self._guard:
            ended = [db for db, (p, t) in self._all.items() if p == pid and not t.is_alive()]
            for db in ended:
                del self._all[db]
        for db in ended:
            db.close()

    def close(self) -> None:
        with self._guard:
            for db in self._all:
                db.close()
            self._all.clear()
        self._local = threading.local()

    def reader(self) -> sqlite3.Connection:
        """This thread's connection, for reads outside a write transaction."""
        return self._connection()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; other writers wait for it. On a full disk it raises
        IndexFull (nothing changed), with which a caller recording a job's end may give
        back the index's reserve and try again (ADR 0205)."""
        db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite may have rolled back already (a full disk)
                    db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_FULL:
                raise
            raise IndexFull(self.path, self.reserve) from error
        if self.reserve is not None:
            self.reserve.restore()

    def _check(self) -> None:
        """`PRAGMA quick_check` (it reads every page: about 0.1 s at 100,000 models), unless
        the file and its write-ahead log have the sizes and times they had when one last
        passed: a damaged or replaced file, or any write since, has other ones (ADR 0010)."""
        record = self.path.with_name(CHECKED_FILE)
        seen = _file_times(self.path)  # before the check: a write during it shows next time
        if read_checked(record) == seen:
            return
        result = self._connection().execute("PRAGMA quick_check").fetchone()
        if result is None or result[0] != "ok":
            raise sqlite3.DatabaseError(f"quick_check failed: {result}")
        newest = max(v for k, v in seen.items() if k.endswith("mtime_ns"))
        if time.time_ns() - newest > SETTLED_NS:
            write_checked(record, seen)

    def _migrate(self) -> None:
        if self._up_to_date():  # read only: an open that writes nothing leaves the file as it was
            return
        with self.write() as db:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
            if tables and "schema_migrations" not in tables:
                raise sqlite3.DatabaseError("not a DEVON index (no schema_migrations table)")
            self.created = not tables
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            applied = {name for (name,) in db.execute("SELECT name FROM schema_migrations")}
            for name, migration in pending_migrations(MIGRATIONS, applied, str(self.path)):
                migration(db)
                db.execute(
                    "INSERT INTO schema_migrations VALUES ("
                    " (SELECT COALESCE(MAX(version), 0) + 1 FROM schema_migrations), ?, ?)",
                    (name, time_to_text(datetime.now(UTC))),
                )
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _up_to_date(self) -> bool:
        """Whether the index has every migration and this DEVON's schema version (raises
        IndexTooNew for one written by a newer DEVON)."""
        db = self._connection()
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        if "schema_migrations" not in tables:
            return False
        applied = {name for (name,) in db.execute("SELECT name FROM schema_migrations")}
        if pending_migrations(MIGRATIONS, applied, str(self.path)):
            return False
        (version,) = db.execute("PRAGMA user_version").fetchone()
        return bool(version == SCHEMA_VERSION)

    def change_counter(self) -> int:
        """A number that grows with every transaction that changed a model row (a commit,
        a removal, a `mark_used`, a rebuild), by any process: equal values mean nothing
        `get`, `each` or `usage` return has changed in between. One indexed read."""
        (counter,) = self._connection().execute(SELECT_COUNTER).fetchone()
        return int(counter)

    def change_stamp(self) -> str:
        """The change counter with the index file's generation: equal stamps mean the same
        index in the same state, even across a rebuild of the index from disk."""
        counter, generation = self._connection().execute(SELECT_STAMP).fetchone()
        return f"{generation}:{counter}"

    def schema_version(self) -> int:
        row = self._connection().execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    # -- reads -------------------------------------------------------------------------

    def get(self, source: str, model_id: str) -> Record | None:
        row = (
            self._connection()
            .execute(
                SELECT_RECORDS + " WHERE source = ? AND model_id = ?",
                (source, model_id),
            )
            .fetchone()
        )
        return as_record(row) if row else None

    def records(self, source: str | None = None) -> list[Record]:
        return self.each(Record, source)

    def each(self, build: RowBuilder[T], source: str | None = None) -> list[T]:
        """`build` applied to every row (of one source if given), in (source, model_id)
        order: lets a caller make its own objects without an intermediate `Record`."""
        db = self._connection()
        if source is None:
            rows = db.execute(SELECT_RECORDS + " ORDER BY source, model_id")
        else:
            rows = db.execute(SELECT_RECORDS + " WHERE source = ? ORDER BY model_id", (source,))
        return [decoded(build, row) for row in rows]

    def raw_rows(self, source: str | None = None) -> list[tuple[Any, ...]]:
        """Every row as stored (of one source if given), in (source, model_id) order:
        source, model_id, size_bytes, downloaded_at and last_used as `time_to_text` wrote
        them, files and metadata as the JSON text `stored_row` wrote."""
        db = self._connection()
        if source is None:
            return db.execute(SELECT_RECORDS + " ORDER BY source, model_id").fetchall()
        return db.execute(
            SELECT_RECORDS + " WHERE source = ? ORDER BY model_id", (source,)
        ).fetchall()

    def stored_rows(self) -> list[tuple[str, str, int, str, str | None, str, str]]:
        """Every row as stored, in (source, model_id) order, read in one statement (one
        snapshot): times as ISO 8601 text, `files` and `metadata` as JSON text. For writers of
        JSON views (the manifest) that need not decode what they copy out."""
        return list(self._connection().execute(SELECT_RECORDS + " ORDER BY source, model_id"))

    def stamped_rows(self) -> tuple[str, int, list[StoredRow]]:
        """`stored_rows()` with the index's generation and change counter, all read in one
        snapshot (what a view written from them reflects)."""
        with self._snapshot() as db:
            generation, counter = generation_and_counter(db)
            rows = list(db.execute(SELECT_RECORDS + " ORDER BY source, model_id"))
        return generation, counter, rows

    def changed_since(self, counter: int, limit: int) -> tuple[str, int, list[Changed] | None]:
        """The models changed after the change counter stood at `counter`: each
        (source, model_id, its stored row or None once removed), in (source, model_id)
        order, with the generation and counter they were read at (one snapshot); None
        instead of the list when more than `limit` changed."""
        with self._snapshot() as db:
            return read_changed(db, counter, limit)

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection inside one read transaction (WAL: one snapshot)."""
        db = self._connection()
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def clash(self, source: str, model_id: str, db: sqlite3.Connection | None = None) -> str | None:
        """Another model whose directory overlaps this one's: the same id in another case,
        a bare id that is this id's owner folder, or models inside this bare id's folder.
        Commits in flight count as models. Inside `write()`, pass its `db`: the answer then
        holds until that transaction ends, since every commit journals in one."""
        db = db or self._connection()
        owner, sep, _ = model_id.partition("/")
        conditions: list[tuple[str, tuple[str, ...]]] = [
            ("model_id = ? COLLATE NOCASE AND model_id != ?", (model_id, model_id))
        ]
        if sep:
            conditions.append(("model_id = ? COLLATE NOCASE", (owner,)))
        else:
            conditions.append(
                (
                    "model_id >= ? COLLATE NOCASE AND model_id < ? COLLATE NOCASE",
                    (model_id + "/", model_id + "0"),  # "0" follows "/"
                )
            )
        for table, only in (("models", ""), ("operations", " AND kind = 'commit'")):
            for condition, args in conditions:
                row = db.execute(
                    f"SELECT model_id FROM {table} WHERE source = ? AND {condition}{only} LIMIT 1",  # noqa: S608 - fixed table names
                    (source, *args),
                ).fetchone()
                if row:
                    return str(row[0])
        return None

    def folders(self) -> list[tuple[str, str]]:
        """(source, owner) of every folder holding models; owner '' for bare ids, whose
        folders sit straight in the source's."""
        return (
            self._connection()
            .execute(
                "SELECT DISTINCT source, CASE WHEN instr(model_id, '/') > 0"
                " THEN substr(model_id, 1, instr(model_id, '/') - 1) ELSE '' END FROM models"
            )
            .fetchall()
        )

    def names_in(self, source: str, owner: str) -> set[str]:
        """The last part of the ids of `source`'s models in `owner`'s folder ('' for bare
        ids), read with the primary key's order."""
        db = self._connection()
        if owner:
            rows = db.execute(
                "SELECT substr(model_id, ?) FROM models"
                " WHERE source = ? AND model_id >= ? AND model_id < ?",
                (len(owner) + 2, source, owner + "/", owner + "0"),  # "0" follows "/"
            )
        else:
            rows = db.execute(
                "SELECT model_id FROM models WHERE source = ? AND instr(model_id, '/') = 0",
                (source,),
            )
        return {name for (name,) in rows}

    def model_keys(self) -> list[tuple[str, str]]:
        return list(self._connection().execute("SELECT source, model_id FROM models"))

    def usage(self) -> dict[str, tuple[int, int]]:
        """Per source: (model count, total bytes)."""
        rows = self._connection().execute(
            "SELECT source, COUNT(*), TOTAL(size_bytes) FROM models GROUP BY source ORDER BY source"
        )
        return {source: (count, int(total)) for source, count, total in rows}

    def used_bytes(self) -> int:
        (total,) = self._connection().execute("SELECT TOTAL(size_bytes) FROM models").fetchone()
        return int(total)

    def operations(self) -> list[Operation]:
        rows = self._connection().execute(
            "SELECT source, model_id, kind, aside, record FROM operations"
        )
        return [
            Operation(s, m, kind, aside, Record.from_json(record) if record else None)
            for s, m, kind, aside, record in rows
        ]

    # -- writes (inside `write()`) -----------------------------------------------------

    @staticmethod
    def put(db: sqlite3.Connection, record: Record) -> None:
        db.execute(_PUT, stored_row(record))

    @staticmethod
    def put_many(db: sqlite3.Connection, records: Sequence[Record]) -> None:
        Index.put_rows(db, [stored_row(record) for record in records])

    @staticmethod
    def put_rows(db: sqlite3.Connection, rows: Sequence[StoredRow]) -> None:
        """Rows already encoded (`stored_row`), in one statement run for each. Many rows
        are counted and logged set-based (`_put_rows_counted_at_once`)."""
        if len(rows) < SET_BASED_ROWS or not _put_rows_counted_at_once(db, rows):
            db.executemany(_PUT, rows)

    @staticmethod
    def delete(db: sqlite3.Connection, source: str, model_id: str) -> bool:
        cursor = db.execute(
            "DELETE FROM models WHERE source = ? AND model_id = ?", (source, model_id)
        )
        return cursor.rowcount > 0

    @staticmethod
    def set_last_used(db: sqlite3.Connection, source: str, model_id: str, when: datetime) -> None:
        db.execute(
            "UPDATE models SET last_used = ? WHERE source = ? AND model_id = ?",
            (time_to_text(when), source, model_id),
        )

    @staticmethod
    def begin_operation(db: sqlite3.Connection, operation: Operation) -> None:
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
    def end_operation(db: sqlite3.Connection, source: str, model_id: str) -> None:
        db.execute("DELETE FROM operations WHERE source = ? AND model_id = ?", (source, model_id))

    @staticmethod
    def begin_operations(db: sqlite3.Connection, rows: Sequence[JournalRow]) -> None:
        """Many operations journaled at once, already encoded (`journaled_and_stored`)."""
        db.executemany(_BEGIN_OPERATION, rows)

    @staticmethod
    def journaled_aside(db: sqlite3.Connection, aside: str) -> set[tuple[str, str]]:
        """(source, model_id) of every operation in the journal set aside as `aside`."""
        rows = db.execute("SELECT source, model_id FROM operations WHERE aside = ?", (aside,))
        return {(source, model_id) for source, model_id in rows}

    @staticmethod
    def end_operations_aside(db: sqlite3.Connection, aside: str) -> None:
        """End every operation in the journal set aside as `aside`."""
        db.execute("DELETE FROM operations WHERE aside = ?", (aside,))


_PUT = "INSERT OR REPLACE INTO models VALUES (?, ?, ?, ?, ?, ?, ?)"
_BEGIN_OPERATION = "INSERT OR REPLACE INTO operations VALUES (?, ?, ?, ?, ?)"
SET_BASED_ROWS = 64
"""From this many rows on, `put_rows` bumps the counter and logs the changes set-based."""


def _put_rows_counted_at_once(db: sqlite3.Connection, rows: Sequence[StoredRow]) -> bool:
    """Insert `rows` with the insert trigger's work done after them, set-based: the
    trigger is dropped and made again inside the caller's transaction (no other
    connection sees it gone), and the counter and `model_changes` end as the trigger
    leaves them (row i of n logged at the counter before plus i, the counter plus n).
    A third of the statements' time at 10,000 rows. False, with nothing done, when the
    triggers on `models` are not the ones this DEVON made (the caller then inserts row by
    row)."""
    found = dict(
        db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'models'"
        )
    )
    if found != _COUNTING_TRIGGERS:
        return False
    db.execute(f"DROP TRIGGER {_INSERT_TRIGGER}")
    db.executemany(_PUT, rows)
    (counter,) = db.execute(SELECT_COUNTER).fetchone()
    db.executemany(
        "INSERT OR REPLACE INTO model_changes VALUES (?, ?, ?)",
        [(row[0], row[1], counter + i) for i, row in enumerate(rows, 1)],
    )
    db.execute("UPDATE changes SET counter = counter + ? WHERE id = 0", (len(rows),))
    db.execute(_COUNTING_TRIGGERS[_INSERT_TRIGGER])
    return True


def _file_times(path: Path) -> dict[str, int]:
    """The size and modification time of the index file at `path` and of its write-ahead
    log, if it has one."""
    index = path.stat()
    times = {"size": index.st_size, "mtime_ns": index.st_mtime_ns}
    try:
        wal = path.with_name(f"{path.name}-wal").stat()
    except FileNotFoundError:
        return times
    return times | {"wal_size": wal.st_size, "wal_mtime_ns": wal.st_mtime_ns}


def _create_private_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)
