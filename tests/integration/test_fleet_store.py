"""Hosts and placements in the vault's index, on SQLite and on PostgreSQL alike: what one
process writes another reads, after the first is gone (a central that restarts)."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devon_adapters.fleet.store import IndexFleetStore
from devon_adapters.index.backends import VaultIndex
from devon_adapters.index.postgres import PostgresIndex
from devon_adapters.index.sqlite import Index
from devon_core.fleet import (
    Fleet,
    HeldModel,
    HostReport,
    HostState,
    PlacementReport,
    PlacementRequest,
    PlacementState,
)
from tests.support.postgres_support import scratch_database

T0 = datetime(2026, 11, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


@pytest.fixture(params=["sqlite", "postgres"])
def open_fleet(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[Clock], Fleet]]:
    url = scratch_database().vault_url() if request.param == "postgres" else None
    opened: list[VaultIndex] = []

    def open_one(clock: Clock) -> Fleet:
        index: VaultIndex = PostgresIndex(url) if url else Index(tmp_path / "index.sqlite3")
        opened.append(index)
        return Fleet(IndexFleetStore(index), clock)

    yield open_one
    for index in opened:
        index.close()


def test_a_heartbeat_is_kept_and_read_back_by_another_process(
    open_fleet: Callable[[Clock], Fleet],
) -> None:
    clock = Clock()
    report = HostReport(
        "gpu1",
        url="http://gpu1:8000",
        capacity_bytes=10**12,
        free_bytes=10**11,
        models=(HeldModel("huggingface", "acme/m", 5 * 10**9, T0, pinned=True),),
    )
    open_fleet(clock).heartbeat(report, 10.0)

    (host,) = open_fleet(clock).hosts()
    assert host.report == report
    assert host.state(T0) is HostState.ONLINE
    assert host.state(T0 + timedelta(seconds=31)) is HostState.OFFLINE


def test_placements_are_put_updated_by_reports_and_deleted(
    open_fleet: Callable[[Clock], Fleet],
) -> None:
    clock = Clock()
    fleet = open_fleet(clock)
    fleet.place(PlacementRequest("huggingface", "acme/m", ("gpu1", "gpu2"), pin=True))
    copying = PlacementReport("huggingface", "acme/m", PlacementState.COPYING, 7, 10)
    fleet.heartbeat(HostReport("gpu1", placements=(copying,)), 10.0)

    again = open_fleet(clock)
    rows = {p.host: p for p in again.placements("huggingface", "acme/m")}
    assert (rows["gpu1"].state, rows["gpu1"].bytes_done, rows["gpu1"].bytes_total) == (
        PlacementState.COPYING,
        7,
        10,
    )
    assert (rows["gpu2"].state, rows["gpu2"].pin) == (PlacementState.PENDING, True)
    assert again.unplace("huggingface", "acme/m", ["gpu2"]) == 1
    assert [p.host for p in again.placements()] == ["gpu1"]


def test_a_failed_placement_put_again_is_pending_again(
    open_fleet: Callable[[Clock], Fleet],
) -> None:
    clock = Clock()
    fleet = open_fleet(clock)
    request = PlacementRequest("huggingface", "acme/m", ("gpu1",))
    fleet.place(request)
    failed = PlacementReport("huggingface", "acme/m", PlacementState.FAILED, reason="no room")
    fleet.heartbeat(HostReport("gpu1", placements=(failed,)), 10.0)

    (retried,) = fleet.place(request)

    assert (retried.state, retried.reason) == (PlacementState.PENDING, None)
