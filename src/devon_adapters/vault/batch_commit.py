"""Many models brought into the vault at once (a DEVON 1.x import): staged, then committed
together, so that the cost per model is a few file operations and two rows, not a
transaction, a lock and a manifest write each (ADR 0212).

1. Staging, with no vault-wide lock: each model's files are put (by `bring`: a hard link or
   a copy) under `.devon/staging/.batch-<id>/<source>/<model_id>/`, a directory only this
   batch uses; its named lock tells a later open whether it is still in use.
2. Under the vault lock (an open, and so its recovery, waits; downloads go on): one write
   transaction journals a commit for every model still absent, unclaimed and clashing with
   nothing; the staged directories are renamed into place; one write transaction records
   every model whose journal entry is still this batch's and closes those entries.
3. The manifest is brought up to date once.

A crash leaves each model either whole and recorded or absent: the next open finishes a
journaled commit whose directory is in place (its record is in the journal) and drops the
others', and deletes the staging of a batch whose lock is free. A rerun brings in the rest.
"""

import contextlib
import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import attrs

from devon_adapters.index.backends import IndexBackend, VaultIndex
from devon_adapters.index.records import Operation, Record
from devon_adapters.vault.locks import Timeout
from devon_adapters.vault.paths import DIR_MODE, VaultPaths, make_private_dirs
from devon_core.errors import InvalidInput
from devon_core.identifiers import validate_model_id, validate_source_name


class BatchVault(Protocol):
    """What a batch commit needs of the vault it commits into (`DiskModelStore` is one)."""

    after_step: Callable[[str], None]
    """Called with the name of each step as it completes (a test hook)."""

    @property
    def paths(self) -> VaultPaths: ...

    @property
    def index(self) -> VaultIndex: ...

    @property
    def index_backend(self) -> IndexBackend: ...

    def vault_lock(self) -> AbstractContextManager[None]: ...

    def hold(self, lock: Any) -> AbstractContextManager[None]: ...

    def delete_leftover(self, path: Path) -> None: ...

    def refresh_manifest(self) -> None: ...

    def refuse_clash(self, source: str, model_id: str, db: Any = None) -> None: ...


BATCH_PREFIX = ".batch-"
"""Staging directories of batches: `.devon/staging/.batch-<id>` (no source is named so)."""


@attrs.frozen
class Arrival:
    """A model to bring in: its record (files relative to `origin`, their sizes summed in
    `size_bytes`) and the folder its files come from."""

    record: Record
    origin: str


@attrs.frozen
class BatchResult:
    committed: tuple[tuple[str, str], ...]
    """(source, model_id) of each model now in the vault, in the order given."""
    refused: tuple[tuple[tuple[str, str], str], ...]
    """Each model left out, and why."""


Bring = Callable[[str, str], None]
"""Puts the file at the first path at the second (a new path in staging); called from
several threads at once."""


def commit_batch(store: BatchVault, arrivals: Sequence[Arrival], bring: Bring) -> BatchResult:
    batch = f"{BATCH_PREFIX}{uuid.uuid4().hex}"
    base = store.paths.staging_root / batch
    with store.hold(store.index_backend.named_lock(batch)):
        try:
            staged, refused = _stage(base, arrivals, bring)
            with store.vault_lock():
                committed = _commit(store, batch, staged, refused)
        finally:
            store.delete_leftover(base)
    with contextlib.suppress(OSError):  # the lock's file, when locks are files (SQLite)
        (store.paths.locks / batch).unlink()
    if committed:
        store.refresh_manifest()
    return BatchResult(tuple(committed), tuple(refused))


def delete_abandoned_batches(store: BatchVault) -> None:
    """Delete the staging of every batch whose process is gone (its lock is free)."""
    for directory in store.paths.staging_root.glob(f"{BATCH_PREFIX}*"):
        lock = store.index_backend.named_lock(directory.name)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue  # still being staged or committed
        try:
            store.delete_leftover(directory)
        finally:
            lock.release()


Staged = tuple[Record, str]
"""A record and the directory holding its files in the batch's staging."""
Refused = list[tuple[tuple[str, str], str]]


def _stage(base: Path, arrivals: Sequence[Arrival], bring: Bring) -> tuple[list[Staged], Refused]:
    """Each arrival's files under `base`, by `_STAGING_THREADS` threads: making a folder or
    a file waits on the filesystem (its journal, the kernel's own time), and the waits of
    several threads overlap. Measured on this project's ext4 disk with its cores busy: 1.6
    to 0.3 ms a model in some runs, no gain in others (the cores were then the limit)."""
    owners: set[str] = set()
    jobs: list[tuple[Arrival, str]] = []
    for arrival in arrivals:
        record = arrival.record
        # Strings, not Paths, in this loop: at 10,000 models pathlib's parsing cost a second.
        directory = f"{base}{os.sep}{record.source}{os.sep}{record.model_id}"
        owners.add(os.path.dirname(directory))
        jobs.append((arrival, directory))
    made: set[str] = set()
    for owner in sorted(owners):  # parents before children: no two threads make one
        _make_dirs(owner, made)

    def stage_share(share: list[tuple[Arrival, str]]) -> list[str | None]:
        return [_stage_one(arrival, directory, bring) for arrival, directory in share]

    shares = [jobs[i::_STAGING_THREADS] for i in range(_STAGING_THREADS)]
    with ThreadPoolExecutor(_STAGING_THREADS, thread_name_prefix="devon-stage") as pool:
        done = list(pool.map(stage_share, shares))
    problems: list[str | None] = [None] * len(jobs)  # back in the order given
    for i, share in enumerate(done):
        problems[i::_STAGING_THREADS] = share
    staged: list[Staged] = []
    refused: Refused = []
    for (arrival, directory), problem in zip(jobs, problems, strict=True):
        record = arrival.record
        if problem is None:
            staged.append((record, directory))
        else:
            refused.append(((record.source, record.model_id), problem))
    return staged, refused


_STAGING_THREADS = 16


def _stage_one(arrival: Arrival, directory: str, bring: Bring) -> str | None:
    """Stage one arrival's files in `directory` (new); why not, if it failed."""
    origin = arrival.origin
    made: set[str] = set()
    try:
        os.mkdir(directory, DIR_MODE)
        made.add(directory)
        for relative in arrival.record.files:
            destination = f"{directory}{os.sep}{relative}"
            if "/" in relative:
                _make_dirs(os.path.dirname(destination), made)
            bring(f"{origin}{os.sep}{relative}", destination)
    except OSError as error:
        return str(error)
    return None


def _commit(
    store: BatchVault, batch: str, staged: list[Staged], refused: Refused
) -> list[tuple[str, str]]:
    index, paths = store.index, store.paths
    journaled: list[tuple[Record, str, str]] = []
    with index.write() as db:
        listed = set(index.model_keys())
        busy = {(op.source, op.model_id) for op in index.operations()}
        # The index's clash rule can only find a model or commit of the same source: for a
        # source with neither (an import into a new vault), its thousands of lookups are
        # skipped.
        sources_in_use = {source for source, _ in listed | busy}
        checked_parents: dict[str, str | None] = {}
        batch_ids = _BatchIds()
        # Every check before the first journal entry: the index's clash rule scans the few
        # commits in flight, which must not grow by this batch's thousands meanwhile.
        for record, directory in staged:
            key = source, model_id = record.source, record.model_id
            # paths.model_dir's path, as a string: Paths cost most of this loop's time.
            validate_source_name(source)
            validate_model_id(model_id)
            target = f"{paths.root}{os.sep}{source}{os.sep}{model_id}"
            problem = (
                ("already in the vault" if key in listed else None)
                or ("being committed by another process" if key in busy else None)
                or (_clash(store, key, db) if source in sources_in_use else None)
                or batch_ids.clash(*key)
                or (f"{target} already exists" if os.path.lexists(target) else None)
                or _outside(os.path.dirname(target), checked_parents, store)
            )
            if problem:
                refused.append((key, problem))
                continue
            journaled.append((record, directory, target))
        for record, _, _ in journaled:
            operation = Operation(record.source, record.model_id, "commit", batch, record)
            index.begin_operation(db, operation)
    store.after_step("batch:journaled")
    moved: list[Record] = []
    made: set[str] = set()
    for record, directory, target in journaled:
        try:
            parent = os.path.dirname(target)
            if parent not in made:
                make_private_dirs(Path(parent))
                made.add(parent)
            os.rename(directory, target)
        except OSError as error:
            refused.append(
                ((record.source, record.model_id), f"could not move into place: {error}")
            )
            continue
        moved.append(record)
        store.after_step("batch:moved")
    with index.write() as db:
        ours = {(op.source, op.model_id) for op in index.operations() if op.aside == batch}
        kept = [record for record in moved if (record.source, record.model_id) in ours]
        index.put_many(db, kept)
        for source, model_id in ours:
            index.end_operation(db, source, model_id)
    for record in moved:
        if (record.source, record.model_id) not in ours:
            refused.append(((record.source, record.model_id), "taken over by another process"))
    return [(record.source, record.model_id) for record in kept]


class _BatchIds:
    """The index's clash rule (ids whose folders would overlap: the same id in another
    case, a bare id naming another's owner folder) among the models of one batch."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], str] = {}
        self._owners: dict[tuple[str, str], str] = {}

    def clash(self, source: str, model_id: str) -> str | None:
        folded = model_id.casefold()
        owner, slash, _ = folded.partition("/")
        other = self._ids.get((source, folded)) or (
            self._ids.get((source, owner)) if slash else self._owners.get((source, folded))
        )
        if other is not None:
            return (
                f"{source}/{model_id} would share a directory with {source}/{other}, also imported"
            )
        self._ids[source, folded] = model_id
        if slash:
            self._owners.setdefault((source, owner), model_id)
        return None


def _clash(store: BatchVault, key: tuple[str, str], db: object) -> str | None:
    try:
        store.refuse_clash(*key, db)
    except InvalidInput as error:
        return str(error)
    return None


def _outside(parent: str, checked: dict[str, str | None], store: BatchVault) -> str | None:
    """Why a model cannot go in `parent` (a link on the way out of the vault), checked once
    per parent folder; the model's own folder is new (renamed into place)."""
    if parent not in checked:
        try:
            store.paths.ensure_inside(Path(parent))
            checked[parent] = None
        except InvalidInput as error:
            checked[parent] = str(error)
    return checked[parent]


def _make_dirs(directory: str, made: set[str]) -> None:
    if directory not in made:
        with contextlib.suppress(FileExistsError):
            os.makedirs(directory, mode=DIR_MODE, exist_ok=True)
        made.add(directory)
