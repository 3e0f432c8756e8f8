"""The fleet's pure rules: which models make room, when a host is offline, what a host's
report does to its placements."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from devon_core.fleet import (
    Fleet,
    HeldModel,
    Host,
    HostReport,
    HostState,
    LandedFile,
    MemoryFleetStore,
    Placement,
    PlacementReport,
    PlacementState,
    apply_report,
    choose_evictions,
    first_wave,
    may_start,
    takes_from_central,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def held(name: str, size: int, used_days_ago: int | None, pinned: bool = False) -> HeldModel:
    used = None if used_days_ago is None else T0 - timedelta(days=used_days_ago)
    return HeldModel("huggingface", name, size, used, pinned)


def test_evictions_take_the_least_recently_used_first_and_never_used_before_all() -> None:
    models = [held("new", 10, 1), held("old", 10, 30), held("never", 10, None)]

    chosen = choose_evictions(models, needed=25, free=5)

    assert [m.model_id for m in chosen or []] == ["never", "old"]


def test_evictions_skip_pinned_models_and_give_none_when_room_cannot_be_made() -> None:
    models = [held("pinned", 100, 99, pinned=True), held("small", 10, 1)]

    assert choose_evictions(models, needed=50, free=5) is None
    assert choose_evictions(models, needed=15, free=5) == [models[1]]


def test_nothing_is_evicted_when_the_model_fits() -> None:
    assert choose_evictions([held("a", 10, 1)], needed=5, free=5) == []


def test_a_host_is_offline_after_three_missing_heartbeats() -> None:
    host = Host(HostReport("gpu1"), last_seen=T0, interval_s=10)

    assert host.state(T0 + timedelta(seconds=29)) is HostState.ONLINE
    assert host.state(T0 + timedelta(seconds=31)) is HostState.OFFLINE


def test_a_report_sets_the_state_it_tells_and_a_held_model_is_ready() -> None:
    placements = [
        Placement("huggingface", m, "gpu1", False, PlacementState.PENDING, T0) for m in ("a", "b")
    ]
    report = HostReport(
        "gpu1",
        models=(held("b", 7, 1),),
        placements=(PlacementReport("huggingface", "a", PlacementState.COPYING, 3, 9),),
    )

    updated = {p.model_id: p for p in apply_report(placements, report, T0)}

    assert (updated["a"].state, updated["a"].bytes_done, updated["a"].bytes_total) == (
        PlacementState.COPYING,
        3,
        9,
    )
    assert (updated["b"].state, updated["b"].bytes_done) == (PlacementState.READY, 7)


def _hosts(*names: str) -> dict[str, Host]:
    return {n: Host(HostReport(n, url=f"http://{n}:8000"), T0, 10) for n in names}


def _placed(host: str, state: PlacementState) -> Placement:
    return Placement("huggingface", "m", host, False, state, T0)


def test_two_hosts_go_first_and_the_others_wait_for_a_peer() -> None:
    hosts = _hosts("a", "b", "c")
    placed = [_placed(n, PlacementState.PENDING) for n in "abc"]

    assert [may_start(p, placed, hosts, T0) for p in placed] == [True, True, False]


def test_every_host_goes_once_a_reachable_peer_holds_the_model() -> None:
    hosts = _hosts("a", "b", "c")
    placed = [
        _placed("a", PlacementState.READY),
        *(_placed(n, PlacementState.PENDING) for n in "bc"),
    ]

    assert all(may_start(p, placed, hosts, T0) for p in placed)


def _copying(name: str, landed: tuple[str, ...]) -> Host:
    told = PlacementReport("huggingface", "m", PlacementState.COPYING, 5, 10, landed=landed)
    return Host(HostReport(name, url=f"http://{name}:8000", placements=(told,)), T0, 10)


def test_later_hosts_go_once_a_peer_still_copying_has_landed_a_file() -> None:
    hosts = _hosts("b", "c", "d")
    placed = [
        _placed("a", PlacementState.COPYING),
        *(_placed(n, PlacementState.PENDING) for n in "bcd"),
    ]

    hosts["a"] = _copying("a", ())
    assert [may_start(p, placed, hosts, T0) for p in placed] == [True, True, False, False]
    hosts["a"] = _copying("a", ("model-1.safetensors",))
    assert all(may_start(p, placed, hosts, T0) for p in placed)


def test_the_first_wave_is_the_first_two_by_name_and_a_failed_host_gives_its_place() -> None:
    hosts = _hosts("a", "b", "c")
    placed = [_placed(n, PlacementState.COPYING) for n in "abc"]

    assert first_wave(placed, hosts, T0) == ["a", "b"]
    assert [takes_from_central(p, placed, hosts, T0) for p in placed] == [True, True, False]
    placed[0] = _placed("a", PlacementState.FAILED)
    assert first_wave(placed, hosts, T0) == ["b", "c"]
    assert takes_from_central(placed[2], placed, hosts, T0)
    assert takes_from_central(placed[0], placed, hosts, T0)  # outside the waves: never waits


def test_seeds_name_whole_holders_the_files_copying_peers_landed_and_who_waits() -> None:
    store = MemoryFleetStore()
    held = HeldModel("huggingface", "m", 10)
    store.record_host(Host(HostReport("a", url="http://a:8000", models=(held,)), T0, 10))
    store.record_host(_copying("b", ("x.safetensors",)))
    store.record_host(_copying("c", ()))
    store.record_host(Host(HostReport("d", url="http://d:8000"), T0, 10))
    store.put_placements(
        [
            _placed("a", PlacementState.READY),
            _placed("b", PlacementState.COPYING),
            _placed("c", PlacementState.COPYING),
            _placed("d", PlacementState.PENDING),
        ]
    )
    fleet = Fleet(store, FixedClock(T0))

    seeds = fleet.seeds("huggingface", "m", "d")

    assert seeds.whole == ("http://a:8000",)
    assert seeds.landed == (("http://b:8000", ("x.safetensors",)),)
    assert seeds.holding("x.safetensors") == ["http://a:8000", "http://b:8000"]
    assert seeds.holding("y.safetensors") == ["http://a:8000"]
    assert not seeds.from_central  # b and c are the first wave
    assert fleet.seeds("huggingface", "m", "b").from_central
    assert fleet.seeds("huggingface", "m", "nobody").from_central


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


def landed(sha256: str | None, revision: str = "c0ffee") -> LandedFile:
    return LandedFile("model.safetensors", Path("/staging/model.safetensors"), 8, sha256, revision)


def test_a_landed_lfs_file_answers_a_pull_at_its_own_commit_only() -> None:
    file = landed("ab" * 32)

    assert file.answers_pull("c0ffee")
    assert not file.answers_pull("decade")


def test_a_landed_small_file_waits_for_the_pulls_end_but_still_serves_a_peer() -> None:
    file = landed(None)

    assert not file.answers_pull("c0ffee")  # no sha256: no ETag a Hub client could file it by
    assert file.serves("c0ffee")
    assert not file.serves("decade")
