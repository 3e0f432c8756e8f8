"""Many models brought into the vault at once (a DEVON 1.x import): staged, then committed
together, so that the cost per model is a few file operations and two rows, not a
transaction, a lock and a manifest write each (ADR 0212).

1. Staging, with no vault-wide lock: each model's files are put (by `bring`: a hard link or
   a copy) under `.devon/staging/.batch-<id>/<source>/<model_id>/`, a directory only this
   batch uses; its named lock tells a later open whether it is still in use. Models are
   staged by several threads as the caller yields them, and meanwhile the rows the commit
   will write are encoded.
2. Under the vault lock (an open, and so its recovery, waits; downloads go on): one write
   transaction journals a commit for every model still absent, unclaimed and clashing with
   nothing; the staged directories are renamed into place (an owner's folder new to the
   vault whole, when it holds only journaled models); one write transaction records every
   model whose journal entry is still this batch's and closes those entries.
3. The manifest is brought up to date once.

A crash leaves each model either whole and recorded or absent: the next open finishes a
journaled commit whose directory is in place (its record is in the journal) and drops the
others', and deletes the staging of a batch whose lock is free. A rerun brings in the rest.
"""

import contextlib
import os
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import attrs

from devon_adapters.index.backends import IndexBackend, VaultIndex
from devon_adapters.index.records import JournalRow, Record, StoredRow, journaled_and_stored
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


def commit_batch(store: BatchVault, arrivals: Iterable[Arrival], bring: Bring) -> BatchResult:
    """Bring in `arrivals` (consumed as they come: their files are staged meanwhile, so a
    caller that checks each one as it yields it overlaps its checks with the copying)."""
    batch = f"{BATCH_PREFIX}{uuid.uuid4().hex}"
    base = store.paths.staging_root / batch
    with store.hold(store.index_backend.named_lock(batch)):
        try:
            staging = _stage(base, batch, arrivals, bring)
            with store.vault_lock():
                committed = _commit(store, batch, staging)
        finally:
            store.delete_leftover(base)
    with contextlib.suppress(OSError):  # the lock's file, when locks are files (SQLite)
        (store.paths.locks / batch).unlink()
    if committed:
        store.refresh_manifest()
    return BatchResult(tuple(committed), tuple(staging.refused))


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


Refused = list[tuple[tuple[str, str], str]]


class _Job:
    """One arrival on its way: where it is staged, and the rows the commit writes for it."""

    __slots__ = ("arrival", "directory", "journal", "key", "moved", "row")

    def __init__(self, arrival: Arrival, directory: str) -> None:
        self.arrival = arrival
        self.key = (arrival.record.source, arrival.record.model_id)
        self.directory = directory
        """Its folder in the batch's staging."""
        self.journal: JournalRow
        self.row: StoredRow
        self.moved = False
        """Whether its folder is in place in the vault."""


@attrs.define
class _Staging:
    staged: list[_Job]
    """The arrivals whose files are all staged, in the order given."""
    refused: Refused
    per_folder: dict[str, int]
    """How many arrivals were staged (or begun) in each folder of the batch's staging."""


def _stage(base: Path, batch: str, arrivals: Iterable[Arrival], bring: Bring) -> _Staging:
    """Each arrival's files under `base`, by `_STAGING_THREADS` threads, `_SHARE` arrivals
    at a time, handed out as they come: making a folder or a file waits on the filesystem
    (its journal, the kernel's own time), and the waits of several threads overlap one
    another and this thread's work (the caller's checks of each arrival, then the rows the
    commit will write). Folders holding models are made here, before the models are handed
    out, so that no two threads make one."""
    made: set[str] = set()
    per_folder: dict[str, int] = {}
    jobs: list[_Job] = []
    with ThreadPoolExecutor(_STAGING_THREADS, thread_name_prefix="devon-stage") as pool:
        shares = []
        for arrival in arrivals:
            record = arrival.record
            validate_source_name(record.source)  # before a path is made of them
            validate_model_id(record.model_id)
            # Strings, not Paths, in this loop: at 10,000 models pathlib's parsing cost a second.
            directory = f"{base}{os.sep}{record.source}{os.sep}{record.model_id}"
            folder = os.path.dirname(directory)
            _make_dirs(folder, made)
            per_folder[folder] = per_folder.get(folder, 0) + 1
            jobs.append(_Job(arrival, directory))
            if len(jobs) % _SHARE == 0:
                shares.append(pool.submit(_stage_share, jobs[-_SHARE:], bring))
        if len(jobs) % _SHARE:
            shares.append(pool.submit(_stage_share, jobs[-(len(jobs) % _SHARE) :], bring))
        for job in jobs:  # while the files are staged
            job.journal, job.row = journaled_and_stored(job.arrival.record, batch)
        problems = [problem for share in shares for problem in share.result()]
    staging = _Staging([], [], per_folder)
    for job, problem in zip(jobs, problems, strict=True):
        if problem is None:
            staging.staged.append(job)
        else:
            staging.refused.append((job.key, problem))
    return staging


_STAGING_THREADS = 16
_SHARE = 32


def _stage_share(share: list[_Job], bring: Bring) -> list[str | None]:
    return [_stage_one(job.arrival, job.directory, bring) for job in share]


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


def _commit(store: BatchVault, batch: str, staging: _Staging) -> list[tuple[str, str]]:
    index, paths, refused = store.index, store.paths, staging.refused
    journaled: list[tuple[_Job, str]] = []
    with index.write() as db:
        listed = set(index.model_keys())
        busy = {(op.source, op.model_id) for op in index.operations()}
        # The index's clash rule can only find a model or commit of the same source: for a
        # source with neither (an import into a new vault), its thousands of lookups are
        # skipped.
        sources_in_use = {source for source, _ in listed | busy}
        checked_parents: dict[str, str | None] = {}
        batch_ids = _BatchIds()
        root = f"{paths.root}{os.sep}"
        # Every check before the first journal entry: the index's clash rule scans the few
        # commits in flight, which must not grow by this batch's thousands meanwhile.
        for job in staging.staged:
            key = source, model_id = job.key
            # paths.model_dir's path, as a string: Paths cost most of this loop's time.
            target = f"{root}{source}{os.sep}{model_id}"
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
            journaled.append((job, target))
        index.begin_operations(db, [job.journal for job, _ in journaled])
    store.after_step("batch:journaled")
    moved = _move_into_place(store, journaled, staging)
    with index.write() as db:
        ours = index.journaled_aside(db, batch)
        kept = [job for job in moved if job.key in ours]
        index.put_rows(db, [job.row for job in kept])
        index.end_operations_aside(db, batch)
    for job in moved:
        if job.key not in ours:
            refused.append((job.key, "taken over by another process"))
    return [job.key for job in kept]


def _move_into_place(
    store: BatchVault, journaled: list[tuple[_Job, str]], staging: _Staging
) -> list[_Job]:
    """Rename each journaled model's folder to its place in the vault; the models moved,
    in the order given. An owner folder of the staging holding only journaled models, whose
    place in the vault is free, is renamed whole: one rename for all its models (an import
    into a new vault makes one per owner, not one per model)."""
    by_folder: dict[str, list[tuple[_Job, str]]] = {}
    for job, target in journaled:
        by_folder.setdefault(os.path.dirname(job.directory), []).append((job, target))
    made: set[str] = set()
    for folder, group in by_folder.items():
        owner = os.path.dirname(group[0][1])
        if (
            "/" in group[0][0].key[1]  # an owner's folder, not the source's
            and len(group) == staging.per_folder[folder]  # nothing else staged in it
            and not os.path.lexists(owner)
        ):
            try:
                _make_parent(owner, made)
                os.rename(folder, owner)
            except OSError:
                pass  # made meanwhile (a download into it): model by model below
            else:
                for job, _ in group:
                    job.moved = True
                    store.after_step("batch:moved")
                continue
        for job, target in group:
            try:
                _make_parent(target, made)
                os.rename(job.directory, target)
            except OSError as error:
                staging.refused.append((job.key, f"could not move into place: {error}"))
                continue
            job.moved = True
            store.after_step("batch:moved")
    return [job for job, _ in journaled if job.moved]


def _make_parent(path: str, made: set[str]) -> None:
    parent = os.path.dirname(path)
    if parent not in made:
        make_private_dirs(Path(parent))
        made.add(parent)


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
