"""The fleet (ADR 0240): hosts that take their models from an upstream DEVON, and the
placements that say which model belongs on which host.

Pure rules and records: what a host reports, how old a report may be before its host is
called offline, which models make room for a placement (least recently used first, pinned
never), and what a host's report says about each of its placements.
"""

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import attrs

from devon_core.errors import InsufficientStorage, InvalidInput, NotFound
from devon_core.results import StorageSpace
from devon_core.rules import check_room

FIRST_WAVE = 2
"""Hosts that take a new placement from the central before any peer holds it."""

OFFLINE_AFTER_BEATS = 3
"""A host is offline once this many of its heartbeats are missing."""

HEARTBEAT_MAX_BYTES = 32 * 1024 * 1024
"""The largest heartbeat body a central accepts (the API's other bodies: 64 KiB). A host's
report lists every model it holds, at most about 320 bytes each as compact JSON (a model id
of the longest the Hub allows; about 155 with a usual one): 100,000 models fit whatever their
ids (docs/fleet.md, ADR 0302)."""


class HostState(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class PlacementState(enum.StrEnum):
    PENDING = "pending"
    COPYING = "copying"
    READY = "ready"
    FAILED = "failed"
    EVICTED = "evicted"

    @classmethod
    def parse(cls, text: str) -> "PlacementState":
        try:
            return cls(text)
        except ValueError:
            raise InvalidInput(f"Invalid placement state {text!r}") from None


WANTED = frozenset({PlacementState.PENDING, PlacementState.COPYING, PlacementState.READY})
"""The states in which a host should hold (or be fetching) the model."""


@attrs.frozen
class HeldModel:
    """A model a host holds, as it reports it."""

    source: str
    model_id: str
    size_bytes: int
    last_used: datetime | None = None
    pinned: bool = False


@attrs.frozen
class PlacementReport:
    """What a host says of one of its placements."""

    source: str
    model_id: str
    state: PlacementState
    bytes_done: int = 0
    bytes_total: int | None = None
    reason: str | None = None
    landed: tuple[str, ...] = ()
    """While copying: the files already complete and verified in the host's staging, which
    it serves its peers (ADR 0282)."""


@attrs.frozen
class HostReport:
    """One heartbeat of a host."""

    name: str
    url: str | None = None
    capacity_bytes: int | None = None
    free_bytes: int | None = None
    models: tuple[HeldModel, ...] = ()
    placements: tuple[PlacementReport, ...] = ()


@attrs.frozen
class Host:
    """A host as the central DEVON knows it: its last report and when it came."""

    report: HostReport
    last_seen: datetime
    interval_s: float

    @property
    def name(self) -> str:
        return self.report.name

    def state(self, now: datetime) -> HostState:
        silent = now - self.last_seen
        if silent > timedelta(seconds=self.interval_s * OFFLINE_AFTER_BEATS):
            return HostState.OFFLINE
        return HostState.ONLINE


@attrs.frozen
class Placement:
    """One model on one host."""

    source: str
    model_id: str
    host: str
    pin: bool
    state: PlacementState
    updated_at: datetime
    bytes_done: int = 0
    bytes_total: int | None = None
    reason: str | None = None


@attrs.frozen
class PlacementRequest:
    """`PUT /api/v1/placements`: put `model_id` of `source` on each of `hosts`."""

    source: str
    model_id: str
    hosts: tuple[str, ...]
    pin: bool = False

    def __attrs_post_init__(self) -> None:
        if not self.hosts:
            raise InvalidInput("A placement names at least one host ('hosts': [\"gpu1\"])")
        if any(not h.strip() for h in self.hosts):
            raise InvalidInput("A host name is never empty")


def apply_report(
    placements: Sequence[Placement], report: HostReport, now: datetime
) -> list[Placement]:
    """The placements of `report`'s host, as its report leaves them: each it mentions takes
    the state it reports; one it does not mention but holds the model of is ready."""
    said = {(p.source, p.model_id): p for p in report.placements}
    held = {(m.source, m.model_id): m for m in report.models}
    updated: list[Placement] = []
    for placement in placements:
        key = (placement.source, placement.model_id)
        if (told := said.get(key)) is not None:
            new = attrs.evolve(
                placement,
                state=told.state,
                bytes_done=told.bytes_done,
                bytes_total=told.bytes_total,
                reason=told.reason,
                updated_at=now,
            )
        elif key in held and placement.state in WANTED:
            size = held[key].size_bytes
            new = attrs.evolve(
                placement,
                state=PlacementState.READY,
                bytes_done=size,
                bytes_total=size,
                reason=None,
                updated_at=now,
            )
        else:
            continue
        updated.append(new)
    return updated


@attrs.frozen
class Seeds:
    """Where a host fetching a model takes each file from (`GET /api/v1/peers`, ADR 0282)."""

    whole: tuple[str, ...] = ()
    """The URLs of the online hosts that hold the whole model."""
    landed: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(URL, files) of the online hosts still copying it: the files they have landed."""
    from_central: bool = True
    """Whether the asking host takes a file no peer holds from the central; when False it
    waits for a host of the first wave to land it."""

    def holding(self, path: str) -> list[str]:
        """The URLs of the peers that can send file `path`: whole holders and the copying
        hosts that landed it."""
        return [*self.whole, *(url for url, files in self.landed if path in files)]


def choose_evictions(held: Iterable[HeldModel], needed: int, free: int) -> list[HeldModel] | None:
    """The models to remove so that `needed` bytes fit in `free` (plus what they free):
    unpinned ones, least recently used first (never used counts as oldest). [] when it fits
    already; None when even removing every unpinned model is not enough."""
    if needed <= free:
        return []
    candidates = sorted(
        (m for m in held if not m.pinned),
        key=lambda m: (m.last_used is not None, m.last_used or datetime.min),
    )
    chosen: list[HeldModel] = []
    for model in candidates:
        chosen.append(model)
        free += model.size_bytes
        if needed <= free:
            return chosen
    return None


THIS_HOST = "."
"""The host name of a placement a vault keeps for itself (`devon ensure --pin`)."""


class FleetStore(Protocol):
    """Where hosts and placements are kept (the vault's index, both backends)."""

    def record_host(self, host: Host) -> None:
        """Keep `host`'s latest report (replacing its previous one)."""
        ...

    def hosts(self) -> list[Host]:
        """Every host that ever reported, by name."""
        ...

    def put_placements(self, placements: Sequence[Placement]) -> None:
        """Add or replace these placements (keyed by source, model id and host)."""
        ...

    def placements(self, host: str | None = None) -> list[Placement]:
        """Every placement (of one host if given), by model then host."""
        ...

    def delete_placements(self, source: str, model_id: str, hosts: Sequence[str] | None) -> int:
        """Forget the placements of a model (on `hosts` only, if given); how many."""
        ...


def room(space: StorageSpace) -> int:
    """Bytes a new model may take: the disk's free bytes, within the quota if one is set."""
    if space.quota_bytes is None:
        return space.free_bytes
    return max(min(space.free_bytes, space.quota_bytes - space.used_bytes), 0)


def no_room_reason(needed: int, space: StorageSpace) -> str:
    """The 507 wording for a placement that does not fit even after every eviction."""
    try:
        check_room(needed, space)
    except InsufficientStorage as error:
        return str(error)
    return f"Not enough room: the model needs {needed} bytes and only pinned models remain"


class Clock(Protocol):
    def now(self) -> datetime: ...


class Fleet:
    """The central DEVON's view of its hosts and placements."""

    def __init__(self, store: FleetStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def heartbeat(self, report: HostReport, interval_s: float) -> list[Placement]:
        """Record `report`, update its host's placements from it; the host's placements."""
        now = self.clock.now()
        self.store.record_host(Host(report, now, interval_s))
        self.store.put_placements(apply_report(self.store.placements(report.name), report, now))
        return self.store.placements(report.name)

    def hosts(self) -> list[Host]:
        return self.store.hosts()

    def place(self, request: PlacementRequest) -> list[Placement]:
        """Put a model on hosts: new placements are pending, failed or evicted ones pending
        again, others keep their state (with the pin asked for)."""
        now = self.clock.now()
        current = {
            p.host: p
            for p in self.store.placements()
            if (p.source, p.model_id) == (request.source, request.model_id)
        }
        placed: list[Placement] = []
        for host in dict.fromkeys(request.hosts):
            old = current.get(host)
            if old is not None and old.state in WANTED:
                placed.append(attrs.evolve(old, pin=request.pin, updated_at=now))
            else:
                placed.append(
                    Placement(
                        request.source,
                        request.model_id,
                        host,
                        request.pin,
                        PlacementState.PENDING,
                        now,
                    )
                )
        self.store.put_placements(placed)
        return placed

    def may_start(self, placed: Sequence[Placement]) -> list[bool]:
        """For each of one host's placements, whether it may fetch now (`may_start`)."""
        now = self.clock.now()
        hosts = {h.name: h for h in self.store.hosts()}
        every = self.store.placements()
        return [
            may_start(
                p,
                [o for o in every if (o.source, o.model_id) == (p.source, p.model_id)],
                hosts,
                now,
            )
            for p in placed
        ]

    def peers(self, source: str, model_id: str, asking: str | None = None) -> list[str]:
        """The URLs of the online hosts (other than `asking`) that hold the model."""
        now = self.clock.now()
        return [
            h.report.url
            for h in self.store.hosts()
            if h.report.url
            and h.name != asking
            and h.state(now) is HostState.ONLINE
            and any((m.source, m.model_id) == (source, model_id) for m in h.report.models)
        ]

    def seeds(self, source: str, model_id: str, asking: str | None = None) -> Seeds:
        """For the host `asking`: the peers that hold the model whole, those still copying
        it with the files they have landed, and whether `asking` may take the rest from the
        central (it is of the first wave) or waits for the first wave to land them."""
        now = self.clock.now()
        hosts = {h.name: h for h in self.store.hosts()}
        siblings = [
            p for p in self.store.placements() if (p.source, p.model_id) == (source, model_id)
        ]
        landed = [
            (host.report.url, files)
            for host in hosts.values()
            if host.report.url
            and host.name != asking
            and host.state(now) is HostState.ONLINE
            and (files := landed_by(host, source, model_id))
        ]
        mine = next((p for p in siblings if p.host == asking), None)
        return Seeds(
            tuple(self.peers(source, model_id, asking)),
            tuple(landed),
            mine is None or takes_from_central(mine, siblings, hosts, now),
        )

    def placements(self, source: str | None = None, model_id: str | None = None) -> list[Placement]:
        return [
            p
            for p in self.store.placements()
            if (source is None or p.source == source)
            and (model_id is None or p.model_id == model_id)
        ]

    def unplace(self, source: str, model_id: str, hosts: Sequence[str] | None = None) -> int:
        """Forget a model's placements; its hosts drop the model at their next heartbeat."""
        removed = self.store.delete_placements(source, model_id, hosts)
        if not removed:
            raise NotFound(f"No placement of {model_id} ({source})")
        return removed


def host_data(host: Host, now: datetime) -> dict[str, Any]:
    """A host as `GET /api/v1/hosts` and `devon hosts --json` show it."""
    from devon_core.serialization import timestamp, unstructure

    report = unstructure(host.report)
    del report["placements"]
    return {**report, "state": host.state(now).value, "last_seen": timestamp(host.last_seen)}


def placement_data(placement: Placement) -> dict[str, Any]:
    """A placement as `GET /api/v1/placements` and `devon placements --json` show it."""
    from devon_core.serialization import unstructure

    data: dict[str, Any] = unstructure(placement)
    data["state"] = placement.state.value
    return data


def host_report(data: Any) -> HostReport:
    """A heartbeat's body as a report; InvalidInput naming what is wrong."""
    from devon_core.serialization import converter

    try:
        return converter.structure(data, HostReport)
    except Exception as error:  # cattrs' errors carry the field that failed
        raise InvalidInput(f"Invalid heartbeat: {error}") from None


def may_start(
    placement: Placement, siblings: Sequence[Placement], hosts: Mapping[str, Host], now: datetime
) -> bool:
    """Whether a host may start fetching a placed model now (ADRs 0242, 0282): at once when
    a peer that others can reach holds it, or has landed some of its files while copying it
    (the others take those from it and wait for the rest), or nobody could seed it; else
    only the first wave fetches it from the central (`first_wave`). So the central sends a
    model about twice, whatever N."""
    if placement.state is PlacementState.READY:
        return True
    if not _reachable(hosts, placement.host):
        return True  # it could never seed the others: no reason to wait for it
    for other in siblings:
        if other.host == placement.host or not _online(hosts, other.host, now):
            continue
        if not _reachable(hosts, other.host):
            continue
        if other.state is PlacementState.READY:
            return True
        if landed_by(hosts[other.host], placement.source, placement.model_id):
            return True
    return placement.host in first_wave(siblings, hosts, now)


def first_wave(
    siblings: Sequence[Placement], hosts: Mapping[str, Host], now: datetime
) -> list[str]:
    """The hosts that fetch a model's files from the central while no peer has them: the
    first `FIRST_WAVE` by name of those placed that are online, reachable and not yet
    holding it (one that fails or goes offline gives its place to the next)."""
    return sorted(
        p.host
        for p in siblings
        if p.state in (PlacementState.PENDING, PlacementState.COPYING)
        and _online(hosts, p.host, now)
        and _reachable(hosts, p.host)
    )[:FIRST_WAVE]


def takes_from_central(
    placement: Placement, siblings: Sequence[Placement], hosts: Mapping[str, Host], now: datetime
) -> bool:
    """Whether the host of `placement` takes from the central a file no peer holds: unless
    it waits in a later wave (placed, online, reachable, not of the first wave). A host
    fetching outside a wave (its placement ready or failed: a `devon ensure`) never waits."""
    if placement.state not in (PlacementState.PENDING, PlacementState.COPYING):
        return True
    if not _reachable(hosts, placement.host) or not _online(hosts, placement.host, now):
        return True
    return placement.host in first_wave(siblings, hosts, now)


def landed_by(host: Host, source: str, model_id: str) -> tuple[str, ...]:
    """The files of a model the host has landed while copying it, as its last report says."""
    for told in host.report.placements:
        if (told.source, told.model_id) == (source, model_id):
            return told.landed if told.state is PlacementState.COPYING else ()
    return ()


def _online(hosts: Mapping[str, Host], name: str, now: datetime) -> bool:
    host = hosts.get(name)
    return host is not None and host.state(now) is HostState.ONLINE


def _reachable(hosts: Mapping[str, Host], name: str) -> bool:
    host = hosts.get(name)
    return host is not None and bool(host.report.url)


class MemoryFleetStore:
    """Hosts and placements in this process's memory: a `Devon` built without an index."""

    def __init__(self) -> None:
        self._hosts: dict[str, Host] = {}
        self._placements: dict[tuple[str, str, str], Placement] = {}

    def record_host(self, host: Host) -> None:
        self._hosts[host.name] = host

    def hosts(self) -> list[Host]:
        return [self._hosts[name] for name in sorted(self._hosts)]

    def put_placements(self, placements: Sequence[Placement]) -> None:
        for p in placements:
            self._placements[(p.source, p.model_id, p.host)] = p

    def placements(self, host: str | None = None) -> list[Placement]:
        return [
            self._placements[key]
            for key in sorted(self._placements)
            if host is None or key[2] == host
        ]

    def delete_placements(self, source: str, model_id: str, hosts: Sequence[str] | None) -> int:
        doomed = [
            key
            for key in self._placements
            if key[:2] == (source, model_id) and (hosts is None or key[2] in hosts)
        ]
        for key in doomed:
            del self._placements[key]
        return len(doomed)


@attrs.frozen
class LandedFile:
    """A file of an unfinished download that is complete in its staging directory (and was
    verified, when it has a sha256): what a fleet host still copying a model can serve its
    peers (ADR 0282)."""

    path: str
    local_path: Path
    size_bytes: int
    sha256: str | None
    revision: str | None

    def serves(self, revision: str) -> bool:
        """Whether it may answer a request for the file at `revision`: only at exactly the
        commit its download fetched."""
        return self.revision == revision

    def answers_pull(self, revision: str) -> bool:
        """Whether a request waiting for a pull may be answered with it while the pull goes on
        (ADR 0290): at that commit, and only an LFS file (with a sha256, its ETag). A small
        file's ETag is its git blob id, which staging does not record, and Hub clients file
        what they fetch under its ETag: those wait for the pull's end."""
        return self.serves(revision) and self.sha256 is not None
