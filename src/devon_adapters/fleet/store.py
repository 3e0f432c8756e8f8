"""Hosts and placements of the fleet in the vault's index (SQLite or PostgreSQL: the same
`?` SQL through either backend's connection), ADR 0240."""

import json
from collections.abc import Sequence
from typing import Any

from devon_adapters.index.backends import VaultIndex
from devon_core.fleet import Host, HostReport, Placement, PlacementState
from devon_core.serialization import converter, parse_timestamp, timestamp, unstructure

_PLACEMENT_COLUMNS = (
    "source, model_id, host, pin, state, bytes_done, bytes_total, reason, updated_at"
)


def _placement(row: tuple[Any, ...]) -> Placement:
    source, model_id, host, pin, state, done, total, reason, updated = row
    return Placement(
        source=source,
        model_id=model_id,
        host=host,
        pin=bool(pin),
        state=PlacementState.parse(state),
        bytes_done=int(done),
        bytes_total=None if total is None else int(total),
        reason=reason,
        updated_at=parse_timestamp(updated),
    )


class IndexFleetStore:
    """The `FleetStore` port on the vault's index."""

    def __init__(self, index: VaultIndex) -> None:
        self._index = index

    def record_host(self, host: Host) -> None:
        report = json.dumps(unstructure(host.report), sort_keys=True)
        with self._index.write() as db:
            db.execute(
                "INSERT INTO fleet_hosts (name, report, last_seen, beat_s) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET report = excluded.report,"
                " last_seen = excluded.last_seen, beat_s = excluded.beat_s",
                (host.name, report, timestamp(host.last_seen), host.interval_s),
            )

    def hosts(self) -> list[Host]:
        rows = self._index.reader().execute(
            "SELECT report, last_seen, beat_s FROM fleet_hosts ORDER BY name"
        )
        return [
            Host(
                report=converter.structure(json.loads(report), HostReport),
                last_seen=parse_timestamp(seen),
                interval_s=float(beat),
            )
            for report, seen, beat in rows
        ]

    def put_placements(self, placements: Sequence[Placement]) -> None:
        with self._index.write() as db:
            for p in placements:
                db.execute(
                    f"INSERT INTO fleet_placements ({_PLACEMENT_COLUMNS})"  # noqa: S608
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (source, model_id, host) DO UPDATE SET pin = excluded.pin,"
                    " state = excluded.state, bytes_done = excluded.bytes_done,"
                    " bytes_total = excluded.bytes_total, reason = excluded.reason,"
                    " updated_at = excluded.updated_at",
                    (
                        p.source,
                        p.model_id,
                        p.host,
                        int(p.pin),
                        p.state.value,
                        p.bytes_done,
                        p.bytes_total,
                        p.reason,
                        timestamp(p.updated_at),
                    ),
                )

    def placements(self, host: str | None = None) -> list[Placement]:
        select = f"SELECT {_PLACEMENT_COLUMNS} FROM fleet_placements"  # noqa: S608
        order = " ORDER BY source, model_id, host"
        db = self._index.reader()
        rows = (
            db.execute(select + order)
            if host is None
            else db.execute(select + " WHERE host = ?" + order, (host,))
        )
        return [_placement(tuple(row)) for row in rows]

    def delete_placements(self, source: str, model_id: str, hosts: Sequence[str] | None) -> int:
        where = "DELETE FROM fleet_placements WHERE source = ? AND model_id = ?"
        with self._index.write() as db:
            if hosts is None:
                return int(db.execute(where, (source, model_id)).rowcount)
            return sum(
                int(db.execute(where + " AND host = ?", (source, model_id, h)).rowcount)
                for h in hosts
            )
