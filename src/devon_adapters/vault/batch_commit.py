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
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import attrs

from devon_adapters.index.backends import IndexBackend, VaultIndex
from devon_adapters.index.records import Operation, Record
from devon_adapters.vault.locks import Timeout
from devon_adapters.vault.paths import DIR_MODE, VaultPaths, make_private_dirs
from devon_core.errors import InvalidInput


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
    origin: Path


@attrs.frozen
class BatchResult:
    committed: tuple[tuple[str, str], ...]
    """(source, model_id) of each model now in the vault, in the order given."""
    refused: tuple[tuple[tuple[str, str], str], ...]
    """Each model left out, and why."""


Bring = Callable[[Path, Path], None]
"""Puts the file at the first path at the second (a new path in staging)."""


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


Staged = tuple[Record, Path]
"""A record and the directory holding its files in the batch's staging."""
Refused = list[tuple[tuple[str, str], str]]


def _stage(base: Path, arrivals: Sequence[Arrival], bring: Bring) -> tuple[list[Staged], Refused]:
    staged: list[Staged] = []
    refused: Refused = []
    made: set[str] = set()
    for arrival in arrivals:
        record = arrival.record
        # Strings, not Paths, in this loop: at 10,000 models pathlib's parsing cost a second.
        directory = f"{base}{os.sep}{record.source}{os.sep}{record.model_id}"
        origin = str(arrival.origin)
        try:
            _make_dirs(os.path.dirname(directory), made)
            os.mkdir(directory, DIR_MODE)
            made.add(directory)
            for relative in record.files:
                destination = f"{directory}{os.sep}{relative}"
                if "/" in relative:
                    _make_dirs(os.path.dirname(destination), made)
                bring(Path(origin, relative), Path(destination))
        except OSError as error:
            refused.append(((record.source, record.model_id), str(error)))
            continue
        staged.append((record, Path(directory)))
    return staged, refused


def _commit(
    store: BatchVault, batch: str, staged: list[Staged], refused: Refused
) -> list[tuple[str, str]]:
    index, paths = store.index, store.paths
    journaled: list[tuple[Record, Path, Path]] = []
    with index.write() as db:
        listed = set(index.model_keys())
        busy = {(op.source, op.model_id) for op in index.operations()}
        checked_parents: dict[Path, str | None] = {}
        batch_ids = _BatchIds()
        # Every check before the first journal entry: the index's clash rule scans the few
        # commits in flight, which must not grow by this batch's thousands meanwhile.
        for record, directory in staged:
            key = (record.source, record.model_id)
            target = paths.model_dir(*key)
            problem = (
                ("already in the vault" if key in listed else None)
                or ("being committed by another process" if key in busy else None)
                or _clash(store, key, db)
                or batch_ids.clash(*key)
                or (f"{target} already exists" if os.path.lexists(target) else None)
                or _outside(target.parent, checked_parents, store)
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
    made: set[Path] = set()
    for record, directory, target in journaled:
        try:
            if target.parent not in made:
                make_private_dirs(target.parent)
                made.add(target.parent)
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


def _outside(parent: Path, checked: dict[Path, str | None], store: BatchVault) -> str | None:
    """Why a model cannot go in `parent` (a link on the way out of the vault), checked once
    per parent folder; the model's own folder is new (renamed into place)."""
    if parent not in checked:
        try:
            store.paths.ensure_inside(parent)
            checked[parent] = None
        except InvalidInput as error:
            checked[parent] = str(error)
    return checked[parent]


def _make_dirs(directory: str, made: set[str]) -> None:
    if directory not in made:
        with contextlib.suppress(FileExistsError):
            os.makedirs(directory, mode=DIR_MODE, exist_ok=True)
        made.add(directory)
