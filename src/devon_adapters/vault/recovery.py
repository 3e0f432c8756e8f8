"""Crash recovery: commits and removals a crashed process left half done, finished or undone
from what is on disk; the trash and half-written records it left, deleted; and rows whose
directory vanished, dropped. Run at open (`DiskModelStore`), and for one operation when a
commit fails part-way (`settle`)."""

import logging
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from devon_adapters.index.backends import IndexBackend, VaultIndex
from devon_adapters.index.records import Operation
from devon_adapters.index.sqlite import CHECKED_FILE
from devon_adapters.vault.checked_times import SETTLED_NS, read_checked, write_checked
from devon_adapters.vault.listing import LISTING_FILE
from devon_adapters.vault.locks import Timeout
from devon_adapters.vault.paths import VaultPaths, walk_files
from devon_adapters.vault.rebuild import placed_folders
from devon_adapters.vault.trees import delete_tree

log = logging.getLogger(__name__)

FOLDERS_FILE = "folders.json"
STALE_LISTING_S = 3600


class CrashRecovery:
    """The repairs of one vault: its folders (`paths`), its index and where its locks live."""

    def __init__(self, paths: VaultPaths, index: VaultIndex, backend: IndexBackend) -> None:
        self._paths = paths
        self._index = index
        self._backend = backend
        self._prefix = f"{paths.root}{os.sep}"  # of every model directory

    def finish_abandoned(self) -> bool:
        """Finish or undo every journaled operation whose owner is gone (its model lock is
        free), delete the trash no operation still needs and half-written listings; say
        whether the index changed."""
        changed = False
        trash = list(self._paths.trash.iterdir())  # listed before the journal is read
        for operation in self._index.operations():
            lock = self._backend.model_lock(operation.source, operation.model_id)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue  # its owner is alive and still working on it
            try:
                self.finish(operation)
                changed = True
            finally:
                lock.release()
        in_flight = {op.aside for op in self._index.operations()}
        for item in trash:
            if item.name not in in_flight:
                delete_tree(item)
        _delete_stale_listings(self._paths.state)
        return changed

    def drop_vanished(self) -> bool:
        """Drop the rows whose directory is gone; say whether any was."""
        changed = False
        # Outside any transaction: holding the write lock for this pass made every other
        # process's commits wait for it (0.4 s at 100,000 models).
        vanished = self.vanished(self._unlisted())
        if vanished:
            with self._index.write() as db:  # checked again now that writers wait
                for key in self.vanished(vanished):
                    log.warning("Dropping %s/%s from the index: its directory is gone", *key)
                    self._index.delete(db, *key)
                    changed = True
        return changed

    def vanished(self, keys: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The models among `keys` whose directory is gone and that no commit or removal
        is working on (ids were validated when recorded)."""
        busy = {(op.source, op.model_id) for op in self._index.operations()}
        listings: dict[str, frozenset[str]] = {}

        placed = placed_folders(self._paths, self._index)

        def present(source: str, model_id: str) -> bool:
            if (source, model_id) in placed:
                return os.path.isdir(placed[source, model_id])
            # One directory listing per owner folder instead of one lstat per model; a name
            # not listed as such (another case on a case-insensitive disk) is looked up.
            owner, _, name = model_id.rpartition("/")
            parent = f"{self._prefix}{source}" + (f"{os.sep}{owner}" if owner else "")
            if parent not in listings:
                listings[parent] = _names_in(parent)
            return name in listings[parent] or os.path.lexists(
                f"{self._prefix}{source}{os.sep}{model_id}"
            )

        return [k for k in keys if k not in busy and not present(*k)]

    def finish(self, operation: Operation) -> None:
        """Complete or undo a commit or removal a crashed process left half done."""
        source, model_id = operation.source, operation.model_id
        target = self._paths.model_dir(source, model_id)
        aside = self._paths.trash / operation.aside if operation.aside else None
        if operation.kind == "remove":
            if operation.record:
                target = self._paths.folder_of(source, model_id, operation.record.metadata)
            if aside and os.path.lexists(target):
                os.rename(target, aside)
        elif (
            operation.record
            and not os.path.lexists(self._paths.staging(source, model_id))
            and _holds_exactly(target, operation.record.files)
        ):
            with self._index.write() as db:  # the new copy was in place: keep it
                self._index.put(db, operation.record)
        elif aside and os.path.lexists(aside) and not os.path.lexists(target):
            os.rename(aside, target)  # the old copy was set aside: put it back
            aside = None
        if aside:
            delete_tree(aside)
        with self._index.write() as db:
            self._index.end_operation(db, source, model_id)

    def settle(self, operation: Operation) -> None:
        """Finish or undo a commit that failed part-way, as a restart would; if even that
        fails, the journal keeps it for the next open."""
        try:
            self.finish(operation)
        except Exception:
            log.exception(
                "Could not settle the %s of %s/%s now: left for the next open",
                operation.kind,
                operation.source,
                operation.model_id,
            )

    def _unlisted(self) -> list[tuple[str, str]]:
        """The models whose name is missing from their folder's listing: one listing per
        folder, compared as sets with the names the index holds for it (ADR 0132; per model
        in Python this was the larger half of opening a vault of 100,000 models).

        A folder whose modification time is still the one recorded in `.devon/folders.json`
        when every model of it was last found is not listed again: removing a model's
        directory changes its folder's time. Only times at least `SETTLED_NS` old are
        recorded, so that a change within the filesystem's time resolution of the one
        recorded cannot hide."""
        record = self._paths.state / FOLDERS_FILE
        checked = read_checked(record)
        now_ns = time.time_ns()
        settled: dict[str, int] = {}
        unlisted = []
        for source, owner in self._index.folders():
            folder = f"{self._prefix}{source}" + (f"{os.sep}{owner}" if owner else "")
            try:
                mtime: int | None = os.stat(folder).st_mtime_ns  # before the listing
            except OSError:
                mtime = None
            if mtime is not None and checked.get(folder) == mtime:
                settled[folder] = mtime
                continue
            missing = self._index.names_in(source, owner) - _names_in(folder)
            unlisted += [(source, f"{owner}/{name}" if owner else name) for name in missing]
            if mtime is not None and not missing and now_ns - mtime > SETTLED_NS:
                settled[folder] = mtime
        if settled != checked:
            write_checked(record, settled)
        return unlisted


def _delete_stale_listings(state: Path) -> None:
    """Half-written listings a killed process left (another may be writing one now: only
    those untouched for an hour go)."""
    cutoff = time.time() - STALE_LISTING_S
    records = (LISTING_FILE, FOLDERS_FILE, CHECKED_FILE)
    for leftover in [path for name in records for path in state.glob(f"{name}.*.tmp")]:
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            continue


def _holds_exactly(directory: Path, files: Sequence[str]) -> bool:
    return sorted(path for path, _ in walk_files(directory)) == sorted(files)


def _names_in(directory: str) -> frozenset[str]:
    """The names of every entry of `directory` (none if it cannot be listed)."""
    try:
        with os.scandir(directory) as entries:
            return frozenset(entry.name for entry in entries)
    except OSError:
        return frozenset()
