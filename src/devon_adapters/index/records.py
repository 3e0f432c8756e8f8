"""The rows of the vault's index as both backends (SQLite, PostgreSQL) store and read them:
the record, its encoding in columns, the changes log read, the migration bookkeeping, and the
tables both create alike (the jobs', the fleet's: each backend gives its column types). One
SQL spelling (`?` parameters) serves both (ADR 0182)."""

import json
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs

from devon_core.errors import DevonError
from devon_core.serialization import timestamp


def time_to_text(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds: sorts as text, reads back as an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the vault stores aware UTC times")
    return timestamp(moment)


def text_to_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


@attrs.frozen
class Record:
    """One row of the index."""

    source: str
    model_id: str
    size_bytes: int
    downloaded_at: datetime
    last_used: datetime | None
    files: tuple[str, ...]
    metadata: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(
            {
                "source": self.source,
                "model_id": self.model_id,
                "size_bytes": self.size_bytes,
                "downloaded_at": time_to_text(self.downloaded_at),
                "last_used": time_to_text(self.last_used) if self.last_used else None,
                "files": list(self.files),
                "metadata": self.metadata,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> "Record":
        data = json.loads(text)
        return cls(
            source=data["source"],
            model_id=data["model_id"],
            size_bytes=data["size_bytes"],
            downloaded_at=text_to_time(data["downloaded_at"]),
            last_used=text_to_time(data["last_used"]) if data["last_used"] else None,
            files=tuple(data["files"]),
            metadata=data["metadata"],
        )


@attrs.frozen
class Operation:
    """A commit or removal in flight (see DiskModelStore for how a restart resolves it)."""

    source: str
    model_id: str
    kind: str
    aside: str | None
    record: Record | None


SELECT_COUNTER = "SELECT counter FROM changes WHERE id = 0"
SELECT_STAMP = "SELECT counter, generation FROM changes WHERE id = 0"
SELECT_RECORDS = (
    "SELECT source, model_id, size_bytes, downloaded_at, last_used, files, metadata FROM models"
)


StoredRow = tuple[str, str, int, str, str | None, str, str]
"""A row as stored: source, model_id, size_bytes, downloaded_at and last_used as text,
files and metadata as JSON text."""
Changed = tuple[str, str, StoredRow | None]
"""A model changed since a count: its source, id, and row (None: it was removed)."""

_CHANGED = (
    "SELECT c.source, c.model_id, m.size_bytes, m.downloaded_at, m.last_used, m.files,"
    " m.metadata FROM model_changes c LEFT JOIN models m"
    " ON m.source = c.source AND m.model_id = c.model_id"
    " WHERE c.counter > ? ORDER BY c.source, c.model_id LIMIT ?"
)
"""The models changed after a count, with their rows if they are still there (one SQL for
both index backends, `?` parameters)."""


def _changed(row: Sequence[Any]) -> Changed:
    source, model_id, size, downloaded_at, last_used, files, metadata = row
    if size is None:  # no row joined: the model was removed
        return source, model_id, None
    return source, model_id, (source, model_id, size, downloaded_at, last_used, files, metadata)


def read_changed(db: Any, counter: int, limit: int) -> tuple[str, int, list[Changed] | None]:
    """`changed_since` read with `db` (inside a snapshot), for either index backend."""
    generation, now = generation_and_counter(db)
    rows = db.execute(_CHANGED, (counter, limit + 1)).fetchall()
    if len(rows) > limit:
        return generation, now, None
    return generation, now, [_changed(row) for row in rows]


def generation_and_counter(db: Any) -> tuple[str, int]:
    counter, generation = db.execute(SELECT_STAMP).fetchone()
    return str(generation), int(counter)


def as_record(row: tuple[Any, ...]) -> Record:
    return decoded(Record, row)


T = TypeVar("T")
RowBuilder = Callable[[str, str, int, datetime, datetime | None, tuple[str, ...], Any], T]
"""Called with a row's decoded columns in order: source, model_id, size_bytes,
downloaded_at, last_used, files, metadata."""


def decoded(build: RowBuilder[T], row: tuple[Any, ...]) -> T:
    source, model_id, size, downloaded_at, last_used, files, metadata = row
    return build(
        source,
        model_id,
        size,
        text_to_time(downloaded_at),
        text_to_time(last_used) if last_used else None,
        tuple(json.loads(files)),
        json.loads(metadata),
    )


def stored_row(record: Record) -> StoredRow:
    return (
        record.source,
        record.model_id,
        record.size_bytes,
        time_to_text(record.downloaded_at),
        time_to_text(record.last_used) if record.last_used else None,
        json.dumps(list(record.files)),
        json.dumps(record.metadata, sort_keys=True),
    )


JournalRow = tuple[str, str, str, str | None, str | None]
"""An operation as the journal stores it: source, model_id, kind, aside, and its record as
`Record.to_json` wrote it (or None)."""


def journaled_and_stored(record: Record, aside: str) -> tuple[JournalRow, StoredRow]:
    """The journal row of a commit of `record` set aside as `aside`, and the index row it
    records: what `begin_operation` and `put` write for it."""
    return (record.source, record.model_id, "commit", aside, record.to_json()), stored_row(record)


M = TypeVar("M")


def pending_migrations(
    migrations: Sequence[tuple[str, M]], applied: Collection[str], where: str
) -> list[tuple[str, M]]:
    """The migrations of `migrations` not in `applied`, in order (every index backend keys
    its migrations by name this way, ADR 0010). Raises IndexTooNew when `applied` names one
    this DEVON does not know."""
    if unknown := set(applied) - {name for name, _ in migrations}:
        raise IndexTooNew(
            f"{where}: the index has migrations this DEVON does not know "
            f"({', '.join(sorted(unknown))}): it is newer than this DEVON; upgrade DEVON"
        )
    return [(name, migration) for name, migration in migrations if name not in applied]


class IndexTooNew(DevonError):
    """The index was written by a newer DEVON: left alone rather than rebuilt."""


def fleet_tables(byte_count: str) -> tuple[str, str]:
    """The CREATE TABLE statements of the fleet's hosts and placements (the migration "create
    fleet hosts and placements", `devon_adapters.fleet.store`, ADR 0240), with `byte_count`
    the backend's type for a byte count (SQLite's INTEGER is 64-bit; PostgreSQL needs BIGINT)."""
    return (
        """CREATE TABLE fleet_hosts (
            name      TEXT PRIMARY KEY,
            report    TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            beat_s    REAL NOT NULL
        )""",
        f"""CREATE TABLE fleet_placements (
            source      TEXT NOT NULL,
            model_id    TEXT NOT NULL,
            host        TEXT NOT NULL,
            pin         INTEGER NOT NULL,
            state       TEXT NOT NULL,
            bytes_done  {byte_count} NOT NULL DEFAULT 0,
            bytes_total {byte_count},
            reason      TEXT,
            updated_at  TEXT NOT NULL,
            PRIMARY KEY (source, model_id, host)
        )""",
    )


def jobs_tables(*, serial_key: str, key_text: str, byte_count: str, real: str) -> tuple[str, ...]:
    """The statements of the migration "create download jobs" (`devon_adapters.jobs.store`):
    the `jobs` table, whose `seq` orders the queue and the history, and its two indexes. Each
    backend gives its types: `serial_key`, an auto-numbered 64-bit primary key; `key_text`,
    text compared byte for byte (SQLite's TEXT is; PostgreSQL's needs COLLATE "C"); `byte_count`,
    a 64-bit integer; `real`, a double-precision float."""
    return (
        f"""CREATE TABLE jobs (
            seq              {serial_key},
            id               TEXT NOT NULL UNIQUE,
            source           {key_text} NOT NULL,
            model_id         {key_text} NOT NULL,
            status           TEXT NOT NULL,
            include_patterns TEXT,
            force            INTEGER NOT NULL,
            bytes_done       {byte_count} NOT NULL DEFAULT 0,
            bytes_total      {byte_count},
            files_done       INTEGER NOT NULL DEFAULT 0,
            files_total      INTEGER,
            bytes_per_second {real},
            error            TEXT,
            error_kind       TEXT,
            created_at       TEXT NOT NULL,
            started_at       TEXT,
            completed_at     TEXT,
            result           TEXT,
            owner            TEXT,
            heartbeat_at     TEXT,
            committing       INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX jobs_by_status ON jobs (status, seq)",
        "CREATE INDEX jobs_by_model ON jobs (source, model_id, status)",
    )
