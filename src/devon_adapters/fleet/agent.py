"""A fleet host's agent (docs/fleet.md, ADR 0241): every `heartbeat_interval` it reports to
its upstream DEVON (name, URL, room, models, how each placement goes) and, from the answer,
pulls the models placed on it (one at a time, making room by evicting the least recently
used unpinned models first) and drops those whose placement was deleted.

The placements the host last heard of are kept in its own index (as placements of its own
name), so a host that restarts knows what it was asked to hold; `devon ensure --pin` keeps
its pins there too (placements of `THIS_HOST`)."""

import json
import logging
import queue
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import filelock

from devon_adapters.transfer.staging_layout import landed_file, landed_files
from devon_adapters.vault.paths import VaultPaths
from devon_core.devon import Devon
from devon_core.errors import SourceUnavailable
from devon_core.fleet import (
    HEARTBEAT_MAX_BYTES,
    THIS_HOST,
    WANTED,
    HeldModel,
    LandedFile,
    Placement,
    PlacementReport,
    PlacementState,
    choose_evictions,
    no_room_reason,
    room,
)
from devon_core.jobs import JobStatus, error_of
from devon_core.rules import format_bytes
from devon_core.serialization import parse_timestamp, unstructure

log = logging.getLogger("devon.fleet")

Key = tuple[str, str]
COPY_POLL_S = 0.5
COPY_ATTEMPTS = 3
"""Copies of one placement tried while the upstream (or a peer) is unavailable."""
RETRY_PAUSE_S = 2.0
SETTLED = frozenset({PlacementState.READY, PlacementState.FAILED, PlacementState.EVICTED})


@attrs.frozen
class AgentConfig:
    """What a host agent needs to know (the composition root reads it from the settings)."""

    host_name: str
    upstream: str | None
    upstream_key: str | None
    public_url: str | None
    heartbeat_interval: float
    max_storage_bytes: int | None
    storage_path: Path


class ReportTooLarge(RuntimeError):
    """A heartbeat larger than a central accepts (HEARTBEAT_MAX_BYTES): not sent."""


class HostAgent:
    """The agent of the host `config.host_name`, reporting to `config.upstream`."""

    def __init__(self, devon: Devon, config: AgentConfig) -> None:
        if config.upstream is None:
            raise ValueError("a host agent needs DEVON_UPSTREAM")
        self.devon = devon
        self.name = config.host_name
        self.upstream = config.upstream.rstrip("/")
        self.key = config.upstream_key
        self.url = config.public_url
        self.interval_s = config.heartbeat_interval
        self.quota = config.max_storage_bytes
        self._paths = VaultPaths.at(config.storage_path)
        self._reports: dict[Key, PlacementReport] = {}
        self._queued: set[Key] = set()
        self._work: queue.Queue[Placement | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = filelock.FileLock(str(config.storage_path / ".devon" / "fleet-agent.lock"))

    # -- life ----------------------------------------------------------------------------

    def start(self) -> None:
        beat = threading.Thread(target=self._run, name="devon-fleet-heartbeat", daemon=True)
        copy = threading.Thread(target=self._copier, name="devon-fleet-copier", daemon=True)
        self._threads = [beat, copy]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._work.put(None)
        for thread in self._threads:
            thread.join(5)
        if self._lock.is_locked:
            self._lock.release()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                # One agent per vault: the other server workers wait their turn.
                self._lock.acquire(timeout=0)
            except filelock.Timeout:
                self._stop.wait(self.interval_s)
                continue
            try:
                self.beat()
            except Exception as error:  # an upstream away is normal: say so and go on
                log.warning("heartbeat to %s failed: %s", self.upstream, error)
            self._stop.wait(self.interval_s)

    # -- one heartbeat -------------------------------------------------------------------

    def beat(self) -> list[Placement]:
        """Report to the upstream, then act on the placements its answer gives."""
        answer = self._post(f"/api/v1/hosts/{self.name}/heartbeat", self.heartbeat_body())
        placed = [_placement(row) for row in answer["placements"]]
        self._follow(placed, {_key(row) for row in answer["placements"] if row.get("go", True)})
        return placed

    def report(self) -> dict[str, Any]:
        space = self.devon.space()
        models = self._held()
        capacity = self.quota or shutil.disk_usage(self.devon.storage_path).total
        return {
            "url": self.url,
            "capacity_bytes": capacity,
            "free_bytes": room(space),
            "interval_s": self.interval_s,
            "models": [unstructure(m) for m in models],
            "placements": [unstructure(r) for r in list(self._reports.values())],
        }

    def heartbeat_body(self) -> bytes:
        """The report as the heartbeat's body: compact JSON (no spaces), as long as a central
        accepts it; ReportTooLarge (naming the size, the limit and the way out) when it is
        not, since the central would cut the connection before it could answer why."""
        report = self.report()
        body = json.dumps(report, separators=(",", ":")).encode()
        if len(body) > HEARTBEAT_MAX_BYTES:
            raise ReportTooLarge(
                f"the report of the {len(report['models']):,} models this host holds is"
                f" {format_bytes(len(body))}, over the {format_bytes(HEARTBEAT_MAX_BYTES)} a"
                " central DEVON accepts, so it is not sent; the central shows this host"
                " offline until it holds fewer models (docs/fleet.md)"
            )
        return body

    def _follow(self, placed: list[Placement], go: set[Key]) -> None:
        store = self.devon.fleet_of().store
        before = {(p.source, p.model_id): p for p in store.placements(self.name)}
        now = {(p.source, p.model_id): p for p in placed}
        for key in before.keys() - now.keys():
            self._drop(key)
            store.delete_placements(key[0], key[1], [self.name])
        store.put_placements(list(placed))
        for key in self._reports.keys() - now.keys() - self._queued:
            del self._reports[key]  # of no placement (any more)
        for key, placement in now.items():  # an outcome the upstream has recorded is not resent
            told = self._reports.get(key)
            if told is not None and told.state in SETTLED and told.state is placement.state:
                del self._reports[key]
        held = {(m.source, m.model_id) for m in self.devon.list()}
        for key, placement in now.items():
            if placement.state not in WANTED or key in self._queued or key not in go:
                continue
            if key in held and placement.state is PlacementState.READY:
                continue
            self._queued.add(key)
            self._reports[key] = _said(placement, PlacementState.PENDING)
            self._work.put(placement)

    def _drop(self, key: Key) -> None:
        """A placement deleted upstream: remove the model unless this host pins it."""
        self._reports.pop(key, None)
        if key in self._pinned(own_only=True):
            return
        if self.devon.get(key[1], source=key[0]) is not None:
            self.devon.remove(key[1], source=key[0])
            log.info("removed %s/%s: its placement was deleted", *key)

    def _held(self) -> list[HeldModel]:
        """The models this host holds, marked pinned where a placement or `ensure` pins them."""
        pins = self._pinned()
        return [
            HeldModel(
                m.source, m.model_id, m.size_bytes, m.last_used, (m.source, m.model_id) in pins
            )
            for m in self.devon.list()
        ]

    def _pinned(self, own_only: bool = False) -> set[Key]:
        rows = self.devon.fleet_of().store.placements()
        hosts = {THIS_HOST} if own_only else {THIS_HOST, self.name}
        return {(p.source, p.model_id) for p in rows if p.pin and p.host in hosts}

    # -- copying -------------------------------------------------------------------------

    def _copier(self) -> None:
        while (placement := self._work.get()) is not None:
            key = (placement.source, placement.model_id)
            try:
                self._reports[key] = self._copy_patiently(placement)
            except Exception as error:  # reported to the upstream, never fatal to the host
                self._reports[key] = _said(placement, PlacementState.FAILED, reason=str(error))
            finally:
                self._queued.discard(key)
            state = self._reports[key]
            log.info("%s/%s %s %s", key[0], key[1], state.state, state.reason or "")

    def _copy_patiently(self, placement: Placement) -> PlacementReport:
        """`_copy`, tried again (`COPY_ATTEMPTS` in all) when the upstream was unavailable: a
        dropped connection while the central is busy pulling the model for the first wave
        must not fail a later wave's placement (what is staged stays for the next try)."""
        for attempt in range(1, COPY_ATTEMPTS + 1):
            try:
                return self._copy(placement)
            except SourceUnavailable as error:
                if attempt == COPY_ATTEMPTS or self._stop.is_set():
                    raise
                log.warning("%s/%s: %s; trying again", placement.source, placement.model_id, error)
                self._stop.wait(RETRY_PAUSE_S * attempt)
        raise AssertionError("unreachable")

    def _copy(self, placement: Placement) -> PlacementReport:
        source, model_id = placement.source, placement.model_id
        held = self.devon.get(model_id, source=source)
        if held is None:
            remote = self.devon.info(model_id, source=source).remote
            needed = remote.total_size_bytes if remote is not None else 0
            if (failed := self._make_room(placement, needed)) is not None:
                return failed
        job = self.devon.start_download(model_id, source=source)
        while not job.finished and not self._stop.is_set():
            self._reports[(source, model_id)] = _said(
                placement,
                PlacementState.COPYING,
                bytes_done=job.bytes_done,
                bytes_total=job.bytes_total,
                landed=self._landed(source, model_id),
            )
            self._stop.wait(COPY_POLL_S)
            job = self.devon.job(job.id)
        if job.status is not JobStatus.COMPLETED:
            reason = job.error or job.status.value
            if job.finished and isinstance(error_of(job.error_kind, reason), SourceUnavailable):
                raise SourceUnavailable(reason)
            return _said(placement, PlacementState.FAILED, reason=reason)
        model = self.devon.held(model_id, source=source)
        return _said(
            placement,
            PlacementState.READY,
            bytes_done=model.size_bytes,
            bytes_total=model.size_bytes,
        )

    def _landed(self, source: str, model_id: str) -> tuple[str, ...]:
        """The files of the copy in progress that are complete in staging: this host serves
        them to its peers already (ADR 0282)."""
        if not self.url:
            return ()  # nobody could fetch them from here
        return tuple(sorted(landed_files(self._paths.staging(source, model_id))))

    def _make_room(self, placement: Placement, needed: int) -> PlacementReport | None:
        """Evict least recently used unpinned models until `needed` bytes fit; the failed
        report when they cannot."""
        space = self.devon.space()
        held = self._held()
        chosen = choose_evictions(held, needed, room(space))
        if chosen is None:
            return _said(placement, PlacementState.FAILED, reason=no_room_reason(needed, space))
        for model in chosen:
            self.devon.remove(model.model_id, source=model.source)
            key = (model.source, model.model_id)
            reason = f"evicted (least recently used) for {placement.model_id}"
            self._reports[key] = PlacementReport(
                model.source, model.model_id, PlacementState.EVICTED, reason=reason
            )
            log.info("evicted %s/%s (%d bytes) for %s", *key, model.size_bytes, placement.model_id)
        return None

    # -- the upstream --------------------------------------------------------------------

    def _post(self, path: str, body: bytes) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 (the configured upstream's URL)
            self.upstream + path,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        if self.key:
            request.add_header("Authorization", f"Bearer {self.key}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                answer: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            raise RuntimeError(f"{error.code} {detail}") from None
        return answer


def landed_on_host(devon: Devon, storage_path: Path) -> Callable[[str, str], LandedFile | None]:
    """(model id, path) -> that file of the host's download of the model (of the default
    source) if it has landed in staging: what the host's Hub paths send its peers while it
    is still copying (ADR 0282)."""
    paths = VaultPaths.at(storage_path)

    def landed(model_id: str, path: str) -> LandedFile | None:
        return landed_file(paths.staging(devon.default_source, model_id), path)

    return landed


def _said(
    placement: Placement,
    state: PlacementState,
    *,
    bytes_done: int = 0,
    bytes_total: int | None = None,
    reason: str | None = None,
    landed: tuple[str, ...] = (),
) -> PlacementReport:
    return PlacementReport(
        placement.source, placement.model_id, state, bytes_done, bytes_total, reason, landed
    )


def _key(row: dict[str, Any]) -> Key:
    return (row["source"], row["model_id"])


def _placement(row: dict[str, Any]) -> Placement:
    return Placement(
        source=row["source"],
        model_id=row["model_id"],
        host=row["host"],
        pin=bool(row["pin"]),
        state=PlacementState.parse(row["state"]),
        updated_at=parse_timestamp(row["updated_at"]),
        bytes_done=int(row["bytes_done"]),
        bytes_total=row["bytes_total"],
        reason=row["reason"],
    )
