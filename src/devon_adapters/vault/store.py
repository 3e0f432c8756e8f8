"""`DiskModelStore`: the vault on a local disk, indexed in SQLite.

How a crash can never leave the index pointing at missing files, nor list a half model:

- A download lives in staging until `commit`, which is journaled in the index first
  (`operations` table), then moves the old copy (if any) aside into `.devon/trash/`, renames
  staging into place, and in one transaction records the model and closes the journal
  entry. Only then is the old copy deleted.
- `remove` deletes the row and journals the removal in one transaction, then renames the
  directory into the trash and deletes it.
- On open, journal entries whose owner is gone (their model lock is free) are finished or
  undone from what is on disk, unreferenced trash is deleted, and rows whose directory
  vanished are dropped. A damaged or missing index is rebuilt from `manifest.json` (times
  and metadata kept) and the model directories.

`manifest.json` at the root is derived from the index after every change (see manifest.py).
"""

import builtins
import contextlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from devon_adapters.index.backends import IndexBackend, VaultIndex, open_backend
from devon_adapters.index.copy import copy_index
from devon_adapters.index.records import Operation, Record
from devon_adapters.index.sqlite import CHECKED_FILE, Index
from devon_adapters.model_files.identities import forget, record_declared
from devon_adapters.transfer.staging_layout import arrived_bytes
from devon_adapters.vault.batch_commit import delete_abandoned_batches
from devon_adapters.vault.checked_times import SETTLED_NS, read_checked, write_checked
from devon_adapters.vault.leftovers import StagingLeftovers
from devon_adapters.vault.listing import LISTING_FILE, KeptListing
from devon_adapters.vault.locks import Timeout
from devon_adapters.vault.manifest import (
    MANIFEST_LOCK,
    MANIFEST_NAME,
    ManifestWriter,
    placed_in_manifest,
    read_manifest,
    records_from_manifest,
)
from devon_adapters.vault.paths import (
    DIR_MODE,
    VaultPaths,
    check_relative_file,
    half_written_file,
    is_download_metadata,
    make_private_dirs,
    partial_files,
    placed_folder,
    walk_files,
)
from devon_adapters.vault.reservations import Reservations
from devon_adapters.vault.trees import bytes_under, delete_tree, valid_children
from devon_core.commit_metadata import CommitMetadata
from devon_core.errors import DownloadFailed, InvalidInput, RemovalFailed, StoreUnavailable
from devon_core.identifiers import LOCAL_SOURCE, validate_model_id, validate_source_name
from devon_core.models import LocalModel
from devon_core.results import (
    IndexCopy,
    ScanResult,
    SourceUsage,
    StagedDownload,
    StagingArea,
    StorageSpace,
    StorageStatus,
)

log = logging.getLogger(__name__)

FOLDERS_FILE = "folders.json"


class DiskModelStore:
    """The `ModelStore` port on a directory tree. Usable from several threads and processes."""

    def __init__(
        self,
        root: Path | str,
        *,
        quota_bytes: int | None = None,
        quota_setting: str | None = None,
        database_url: str | None = None,
    ) -> None:
        """The vault at `root`; its index in `root/.devon/` (SQLite), or in the PostgreSQL
        database at `database_url` when given (several hosts sharing `root`). `quota_setting`
        is what a refusal over the quota tells a person to raise (see `StorageSpace`)."""
        try:
            make_private_dirs(VaultPaths.at(root).root)
            self._paths = VaultPaths.at(root)  # its real root is resolved once it exists
            self._root = str(self._paths.root)
            self._prefix = f"{self._root}{os.sep}"  # of every model directory
            for directory in (
                self._paths.staging_root,
                self._paths.trash,
                self._paths.locks,
                self._paths.reservations,
            ):
                make_private_dirs(directory)
        except OSError as error:
            raise InvalidInput(
                f"Cannot use {root} as the vault ({error.strerror or error}): "
                "set DEVON_STORAGE_PATH to a directory you can write to"
            ) from None
        self.quota_bytes = quota_bytes
        self.quota_setting = quota_setting
        self._backend: IndexBackend = open_backend(self._paths, database_url)
        self._leftovers = StagingLeftovers(self._paths, self._backend)
        self._reservations = Reservations(self._paths, self._backend, self.space)
        self._observers: builtins.list[Callable[[str, str], None]] = []
        self.rebuild_skipped: builtins.list[tuple[str, str]] = []
        """(model, reason) for each manifest entry an index rebuild at open left out."""
        self._changed_on_open = False
        with self._vault_lock():
            try:
                self._index: VaultIndex = self._open_index()
            except OSError as error:
                raise InvalidInput(
                    f"Cannot open the vault index {self._backend.describe()}: {error}"
                ) from None
            self._listing = KeptListing(self._paths, self._index, self._path_of)
            self._manifest = ManifestWriter(
                self._paths, self._index, self._backend.named_lock(MANIFEST_LOCK)
            )
            self._recover()
            if self._changed_on_open:
                self.refresh_manifest()
            else:
                try:
                    self._manifest.ensure()
                except OSError as error:  # the vault is usable; the next change retries
                    log.warning("Could not update %s: %s", self._manifest.path, error)

    # A test hook: called with the name of each step of commit and remove as it completes.
    after_step: Callable[[str], None] = staticmethod(lambda step: None)

    @property
    def root(self) -> str:
        return self._root

    @property
    def paths(self) -> VaultPaths:
        return self._paths

    @property
    def index(self) -> VaultIndex:
        """The vault's index (SQLite or PostgreSQL)."""
        return self._index

    def describe_index(self) -> str:
        """Where the index is: the SQLite file, or the PostgreSQL database and schema."""
        return self._backend.describe()

    @property
    def index_backend(self) -> IndexBackend:
        """Where the index and the locks live."""
        return self._backend

    def vault_lock(self) -> AbstractContextManager[None]:
        """The lock held while the vault is opened, repaired or its index rebuilt or copied."""
        return self._vault_lock()

    @property
    def manifest_path(self) -> Path:
        """`<root>/manifest.json`, the index's view for readers of the folder (KITT)."""
        return self._manifest.path

    def close(self) -> None:
        try:
            self._manifest.flush()
        except (OSError, StoreUnavailable) as error:
            log.warning("Could not bring %s up to date: %s", self._manifest.path, error)
        self._index.close()
        self._backend.close()

    def grouped(self) -> AbstractContextManager[None]:
        """Changes made inside (by this thread) update the manifest once, at the end."""
        return self._manifest.grouped()

    def flush_manifest(self) -> None:
        """Reflect a pending `last_used` change in the manifest now, not within seconds."""
        self._manifest.flush()

    # -- reads -------------------------------------------------------------------------

    def get(self, source: str, model_id: str) -> LocalModel | None:
        record = self._index.get(validate_source_name(source), validate_model_id(model_id))
        return self._local(record) if record else None

    def change_counter(self) -> int:
        return self._index.change_counter()

    def list(self, source: str | None = None) -> list[LocalModel]:
        if source is not None:
            validate_source_name(source)
        prefix = self._prefix

        def local(
            source: str,
            model_id: str,
            size_bytes: int,
            downloaded_at: datetime,
            last_used: datetime | None,
            files: tuple[str, ...],
            metadata: dict[str, Any],
        ) -> LocalModel:
            if source == LOCAL_SOURCE:
                path = self._path_of(source, model_id, metadata)
            else:
                path = f"{prefix}{source}{os.sep}{model_id}"
            return LocalModel(
                source, model_id, path, size_bytes, downloaded_at, last_used, files, metadata
            )

        # Built straight from the rows: at 100,000 models the intermediate records and
        # per-row path building were a quarter of the time (docs/benchmarks.md).
        return self._index.each(local, source)

    def list_json(self, source: str | None = None) -> tuple[int, str]:
        """The listing as JSON, with its count (see `KeptListing`)."""
        return self._listing.list_json(source)

    def write_list_json(self, out: BinaryIO, head: bytes = b"") -> int:
        """`head` and then `list_json()`'s text written to `out` (see `KeptListing`)."""
        return self._listing.write_list_json(out, head)

    def status(self) -> StorageStatus:
        usage = self._index.usage()
        return StorageStatus(
            model_count=sum(count for count, _ in usage.values()),
            total_size_bytes=sum(size for _, size in usage.values()),
            storage_path=self.root,
            sources={name: SourceUsage(count, size) for name, (count, size) in usage.items()},
            staging_bytes=self.staging_bytes(),
            partial_bytes=self.partial_bytes(),
        )

    def staging_bytes(self) -> int:
        return bytes_under(self._paths.staging_root)

    def file_sizes(self, model: LocalModel, paths: Sequence[str]) -> dict[str, int]:
        sizes = {}
        for relative in paths:
            with contextlib.suppress(OSError):
                sizes[relative] = os.stat(os.path.join(model.path, relative)).st_size
        return sizes

    def partial_bytes(self) -> int:
        return arrived_bytes(self._paths.staging_root)

    def space(self) -> StorageSpace:
        free = shutil.disk_usage(self._paths.root).free
        reserve = self._index.reserve if isinstance(self._index, Index) else None
        if reserve is not None:  # the index's room, given back to it on a full disk
            free = max(free - reserve.missing_bytes(), 0)
        return StorageSpace(
            free_bytes=free,
            used_bytes=self._index.used_bytes(),
            quota_bytes=self.quota_bytes,
            quota_setting=self.quota_setting,
        )

    # -- downloads ---------------------------------------------------------------------

    def lock(self, source: str, model_id: str) -> AbstractContextManager[None]:
        validate_source_name(source)
        validate_model_id(model_id)
        return self.hold(self._backend.model_lock(source, model_id))

    def stage(self, source: str, model_id: str) -> StagingArea:
        staging = self._paths.staging(source, model_id)
        self.refuse_clash(source, model_id)
        self._paths.ensure_inside(staging)
        make_private_dirs(staging)
        present = {relative: stat.st_size for relative, stat in walk_files(staging)}
        return StagingArea(
            source,
            model_id,
            str(staging),
            present_files=present,
            partial_files=partial_files(staging),
        )

    def reserve(
        self,
        staging: StagingArea,
        adding_bytes: int,
        replacing_bytes: int,
        check: Callable[[StorageSpace], None],
    ) -> AbstractContextManager[None]:
        """Hold room for the download into `staging` while it runs (see `Reservations`)."""
        return self._reservations.hold(staging, adding_bytes, replacing_bytes, check)

    def commit(
        self,
        staging: StagingArea,
        files: Sequence[str],
        downloaded_at: datetime,
        metadata: CommitMetadata,
        carry_over: Sequence[str] = (),
    ) -> LocalModel:
        source, model_id = staging.source, staging.model_id
        staged = self._paths.staging(source, model_id)
        if Path(staging.path) != staged:
            raise InvalidInput(f"{staging.path} is not the staging directory of {model_id}")
        wanted = sorted({check_relative_file(f) for f in files})
        if metadata_files := [f for f in wanted if is_download_metadata(f)]:
            raise InvalidInput(f"Download metadata is not a model file: {metadata_files}")
        with self.lock(source, model_id):
            self.refuse_clash(source, model_id)
            self._paths.ensure_inside(staged)
            target = self._paths.model_dir(source, model_id)
            self._paths.ensure_inside(target)
            previous = self._index.get(source, model_id)
            if carry_over:
                _carry_over(target, staged, [check_relative_file(f) for f in carry_over])
            sizes = _keep_only(staged, wanted)
            make_private_dirs(target.parent)
            aside = uuid.uuid4().hex if os.path.lexists(target) else None
            record = Record(
                source=source,
                model_id=model_id,
                size_bytes=sum(sizes.values()),
                downloaded_at=downloaded_at,
                last_used=previous.last_used if previous else None,
                files=tuple(wanted),
                metadata=metadata.as_dict(),
            )
            operation = Operation(source, model_id, "commit", aside, record)
            # Before the journal: a commit that does not finish leaves a record of another
            # revision or size, which readers ignore (ADR 0220).
            record_declared(
                self._paths,
                source,
                model_id,
                metadata.described.revision if metadata.described else None,
                metadata.declared_files,
                carried=carry_over,
            )
            with self._index.write() as db:
                # Checked again in the transaction that journals the commit: of two commits
                # whose folders nest, the second to journal sees the first and is refused.
                self.refuse_clash(source, model_id, db)
                self._index.begin_operation(db, operation)
            try:
                self.after_step("commit:journaled")
                if aside:
                    os.rename(target, self._paths.trash / aside)
                    self.after_step("commit:old-aside")
                os.rename(staged, target)
                self.after_step("commit:moved")
                with self._index.write() as db:
                    self._index.put(db, record)
                    self._index.end_operation(db, source, model_id)
            except BaseException as error:
                # Settled now, not at the next open: a long-lived server would otherwise
                # list the model while its old copy sits in the trash.
                self._settle(operation)
                if isinstance(error, OSError):
                    raise DownloadFailed(
                        f"Could not move {source}/{model_id} into the vault "
                        f"({error.strerror or error}); the vault keeps what it held before "
                        "and the download stays staged for a retry"
                    ) from error
                raise
            self.after_step("commit:recorded")
            self._reservations.release(source, model_id)  # its bytes now count as used
            self.refresh_manifest()
            if aside:
                self.delete_leftover(self._paths.trash / aside)
        self._tell_observers(source, model_id)
        return self._local(record)

    def observe(self, changed: Callable[[str, str], None]) -> None:
        self._observers.append(changed)

    def _tell_observers(self, source: str, model_id: str) -> None:
        """Once the change is complete (the caller may still hold the model's lock); an
        observer that fails is logged, and never fails the change."""
        for observer in self._observers:
            try:
                observer(source, model_id)
            except Exception:
                log.exception("Could not follow the change of %s/%s", source, model_id)

    def unstage(self, staging: StagingArea) -> None:
        staged = self._paths.staging(staging.source, staging.model_id)
        if Path(staging.path) != staged or not _nothing_to_resume(staged):
            return
        try:
            delete_tree(staged)
            parent = staged.parent
            while parent != self._paths.staging_root and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
        except OSError as error:  # another attempt began meanwhile: its directory stays
            log.debug("Kept staging %s: %s", staged, error)

    def remove(self, source: str, model_id: str) -> LocalModel | None:
        self._paths.model_dir(source, model_id)  # validates both
        with self.lock(source, model_id):
            record = self._index.get(source, model_id)
            if record is None:
                return None
            target = self._paths.folder_of(source, model_id, record.metadata)
            self._paths.ensure_inside(target)
            aside = uuid.uuid4().hex
            # A placed folder's record goes in the journal: a restart must know where it is.
            journaled = record if placed_folder(source, record.metadata) else None
            with self._index.write() as db:
                self._index.delete(db, source, model_id)
                self._index.begin_operation(
                    db, Operation(source, model_id, "remove", aside, journaled)
                )
            try:
                self.after_step("remove:unindexed")
                # Before the files go: the manifest never lists a model being deleted.
                self.refresh_manifest()
                if os.path.lexists(target):
                    os.rename(target, self._paths.trash / aside)
            except BaseException as error:
                with self._index.write() as db:  # still in place: keep it listed
                    self._index.put(db, record)
                    self._index.end_operation(db, source, model_id)
                self.refresh_manifest()
                if isinstance(error, OSError):
                    raise RemovalFailed(
                        f"Could not remove {source}/{model_id} from {target.parent} "
                        f"({error.strerror or error}): it stays in the vault as it was"
                    ) from error
                raise
            self.after_step("remove:trashed")
            with self._index.write() as db:
                self._index.end_operation(db, source, model_id)
            forget(self._paths, source, model_id)
            self.delete_leftover(self._paths.trash / aside)
        self._tell_observers(source, model_id)
        return self._local(record)

    def mark_used(self, source: str, model_id: str, when: datetime) -> LocalModel | None:
        validate_source_name(source)
        validate_model_id(model_id)
        with self._index.write() as db:
            self._index.set_last_used(db, source, model_id, when)
        model = self.get(source, model_id)
        if model is not None:
            self._manifest.refresh_soon()
        return model

    # -- unfinished downloads ----------------------------------------------------------

    def staged(self) -> "builtins.list[StagedDownload]":
        return self._leftovers.staged()

    def discard_staging(self, source: str, model_id: str) -> int | None:
        return self._leftovers.discard_staging(source, model_id)

    # -- recovery ----------------------------------------------------------------------

    def unfinished_operations(self) -> "builtins.list[str]":
        """Commits and removals in flight (or left by a crash not yet repaired), as
        `<kind> <source>/<model_id>`."""
        return [f"{op.kind} {op.source}/{op.model_id}" for op in self._index.operations()]

    def copy_index(self, target: str, *, replace: bool = False) -> IndexCopy:
        """Copy the index to `target`: `sqlite` (the index file in the vault) or a
        postgresql:// URL (see `devon_adapters.index.copy`)."""
        return copy_index(self, target, replace=replace)

    def rebuild_index(self) -> int:
        """Re-derive the index from the model directories on disk; return the model count.

        Models still on disk keep their recorded times and metadata; new ones are dated by
        their directory's modification time; rows whose directory is gone are dropped.

        The scan runs outside any transaction (other processes keep committing meanwhile);
        inside the write transaction, where no commit or removal can start or finish, every
        model whose scan disagrees with its row is looked at again, so a model committed or
        removed during the scan is neither dropped nor brought back."""
        with self._vault_lock():
            found = self._found_outside(self._placed_folders().values())
            with self._index.write() as db:
                busy = {(op.source, op.model_id) for op in self._index.operations()}
                recorded = {(r.source, r.model_id): r for r in self._index.records()}
                fresh = []
                for key in sorted(set(recorded) | set(found)):
                    if key in busy:
                        continue
                    old = recorded.get(key)
                    files = found.get(key)
                    if old is None or files is None or sorted(old.files) != sorted(files):
                        files = self._files_now(key, old)  # it may have changed since the scan
                    if files:
                        fresh.append(self._rebuilt_record(key, files, old))
                    elif old is not None:
                        self._index.delete(db, *key)
                self._index.put_many(db, fresh)
            self.refresh_manifest()
            return len(self._index.model_keys())

    def _files_now(self, key: tuple[str, str], old: Record | None) -> dict[str, int] | None:
        directory = self._paths.folder_of(*key, old.metadata if old else {})
        if directory.is_symlink() or not directory.is_dir():
            return None
        return {path: stat.st_size for path, stat in walk_files(directory)} or None

    def scan(
        self,
        known_sources: Collection[str],
        reconcile: bool = False,
        *,
        move: bool = False,
        dry_run: bool = False,
    ) -> ScanResult:
        """Register the model folders the index lacks, where they are (or, with `move`,
        under `local/`); with `reconcile`, drop the models whose folder is gone; with
        `dry_run`, only say so (see scanning.py)."""
        from devon_adapters.vault.scanning import scan_vault  # reads weights' headers: only here

        with self.grouped():
            return scan_vault(self, known_sources, reconcile, move=move, dry_run=dry_run)

    def _rebuilt_record(
        self, key: tuple[str, str], files: dict[str, int], old: Record | None
    ) -> Record:
        """The row of a model found on disk: its recorded times and metadata (`old`) kept."""
        source, model_id = key
        directory = self._paths.folder_of(source, model_id, old.metadata if old else {})
        mtime = datetime.fromtimestamp(directory.stat().st_mtime, UTC)
        return Record(
            source=source,
            model_id=model_id,
            size_bytes=sum(files.values()),
            downloaded_at=old.downloaded_at if old else mtime,
            last_used=old.last_used if old else None,
            files=tuple(sorted(files)),
            metadata=old.metadata if old else {},
        )

    def _found_outside(self, placed: Iterable[Path]) -> dict[tuple[str, str], dict[str, int]]:
        """`_scan`'s models, less what lies in the folders of `local` models registered where
        they were placed (`<root>/team/model-a` is not source `team`'s model)."""
        folders = tuple(placed)
        return {
            key: files
            for key, files in self._scan()
            if not any(self._paths.model_dir(*key).is_relative_to(f) for f in folders)
        }

    def _scan(self) -> Iterator[tuple[tuple[str, str], dict[str, int]]]:
        """Every model directory: `<root>/<source>/<owner>/<name>` or `<root>/<source>/<name>`
        (a directory holding files of its own is a model, else an owner of models). One
        still being written (a `.part` file) is left out until it is complete."""
        for source_dir in valid_children(self._paths.root, validate_source_name):
            for first in valid_children(source_dir, validate_model_id):
                if any(entry.is_file(follow_symlinks=False) for entry in os.scandir(first)):
                    candidates = [first]
                else:
                    candidates = list(valid_children(first, validate_model_id))
                for directory in candidates:
                    files = {path: stat.st_size for path, stat in walk_files(directory)}
                    if not files:
                        continue
                    unfinished = half_written_file(directory, files)
                    if unfinished:
                        log.warning(
                            "Not indexing %s: %s is still being written", directory, unfinished
                        )
                        continue
                    model_id = directory.relative_to(source_dir).as_posix()
                    yield (source_dir.name, model_id), files

    def _open_index(self) -> VaultIndex:
        index = self._backend.open_index()
        # Missing, emptied (`: > index.sqlite3`) or just set aside: the models on disk
        # are the truth, not an empty table.
        if index.created:
            self._index = index
            manifest = read_manifest(self._paths.root / MANIFEST_NAME)
            placed = placed_in_manifest(manifest or {}, self._paths)
            found = self._found_outside(placed.values())
            for key, folder in placed.items():
                found[key] = {path: stat.st_size for path, stat in walk_files(folder)}
            described, skipped = records_from_manifest(manifest or {}, found)
            with index.write() as db:
                index.put_many(db, list(described.values()))
                index.put_many(
                    db,
                    [
                        self._rebuilt_record(key, files, None)
                        for key, files in found.items()
                        if key not in described and key not in skipped
                    ],
                )
            for (source, model_id), reason in sorted(skipped.items()):
                log.warning(
                    "Not restoring %s/%s from %s: %s", source, model_id, MANIFEST_NAME, reason
                )
                self.rebuild_skipped.append((f"{source}/{model_id}", reason))
            restored = len(index.model_keys())
            if restored or skipped:
                self._changed_on_open = True
                log.warning(
                    "Rebuilt the vault index: %d models (%d described by %s)",
                    restored,
                    len(described),
                    MANIFEST_NAME,
                )
        return index

    def _recover(self) -> None:
        trash = list(self._paths.trash.iterdir())  # listed before the journal is read
        for operation in self._index.operations():
            lock = self._backend.model_lock(operation.source, operation.model_id)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue  # its owner is alive and still working on it
            try:
                self._finish(operation)
                self._changed_on_open = True
            finally:
                lock.release()
        in_flight = {op.aside for op in self._index.operations()}
        for item in trash:
            if item.name not in in_flight:
                delete_tree(item)
        _delete_stale_listings(self._paths.state)
        delete_abandoned_batches(self)
        # Outside any transaction: holding the write lock for this pass made every other
        # process's commits wait for it (0.4 s at 100,000 models).
        vanished = self.vanished(self._unlisted())
        if vanished:
            with self._index.write() as db:  # checked again now that writers wait
                for key in self.vanished(vanished):
                    log.warning("Dropping %s/%s from the index: its directory is gone", *key)
                    self._index.delete(db, *key)
                    self._changed_on_open = True

    def _unlisted(self) -> "builtins.list[tuple[str, str]]":
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

    def vanished(self, keys: Iterable[tuple[str, str]]) -> "builtins.list[tuple[str, str]]":
        """The models among `keys` whose directory is gone and that no commit or removal
        is working on (ids were validated when recorded)."""
        busy = {(op.source, op.model_id) for op in self._index.operations()}
        listings: dict[str, frozenset[str]] = {}

        placed = self._placed_folders()

        def present(source: str, model_id: str) -> bool:
            if (source, model_id) in placed:
                return os.path.isdir(placed[source, model_id])
            # One directory listing per owner folder instead of one lstat per model; a name
            # not listed as such (another case on a case-insensitive disk) is looked up.
            owner, _, name = model_id.rpartition("/")
            parent = f"{self._prefix}{source}" + (f"{os.sep}{owner}" if owner else "")
            if parent not in listings:
                listings[parent] = _names_in(parent)
            return name in listings[parent] or os.path.lexists(self._path_of(source, model_id))

        return [k for k in keys if k not in busy and not present(*k)]

    def _placed_folders(self) -> dict[tuple[str, str], Path]:
        """The folder of each `local` model registered where a person placed it (few)."""
        return {
            (r.source, r.model_id): self._paths.root / folder
            for r in self._index.records(LOCAL_SOURCE)
            if (folder := placed_folder(r.source, r.metadata))
        }

    def _finish(self, operation: Operation) -> None:
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

    def _settle(self, operation: Operation) -> None:
        """Finish or undo a commit that failed part-way, as a restart would; if even that
        fails, the journal keeps it for the next open."""
        try:
            self._finish(operation)
        except Exception:
            log.exception(
                "Could not settle the %s of %s/%s now: left for the next open",
                operation.kind,
                operation.source,
                operation.model_id,
            )

    @staticmethod
    def delete_leftover(path: Path) -> None:
        """Delete an old copy already out of the vault's view: failing here must not fail
        the commit or removal that succeeded (the next open empties the trash)."""
        try:
            delete_tree(path)
        except OSError as error:
            log.warning("Could not delete %s (%s): the next open will retry", path, error)

    # -- helpers -----------------------------------------------------------------------

    def refresh_manifest(self) -> None:
        """Bring manifest.json up to date. Failing to (a full disk) never fails the change
        the index already holds: it is logged, and the next change writes it again."""
        try:
            self._manifest.refresh()
        except OSError as error:
            log.warning("Could not update %s: %s", self._manifest.path, error)

    def refuse_clash(self, source: str, model_id: str, db: Any = None) -> None:
        other = self._index.clash(source, model_id, db)
        if other is not None:
            raise InvalidInput(
                f"{source}/{model_id} would share a directory with {source}/{other}, "
                "already in the vault: remove that one first"
            )

    def _path_of(self, source: str, model_id: str, metadata: dict[str, Any] | None = None) -> str:
        """The directory of a recorded (so already validated) model, cheaply: a placed
        folder when its metadata records one."""
        placed = placed_folder(source, metadata) if metadata else None
        if placed:
            return f"{self._prefix}{placed.replace('/', os.sep)}"
        return f"{self._prefix}{source}{os.sep}{model_id}"

    def _local(self, record: Record) -> LocalModel:
        return LocalModel(
            source=record.source,
            model_id=record.model_id,
            path=self._path_of(record.source, record.model_id, record.metadata),
            size_bytes=record.size_bytes,
            downloaded_at=record.downloaded_at,
            last_used=record.last_used,
            files=record.files,
            metadata=record.metadata,
        )

    @contextmanager
    def hold(self, lock: Any) -> Iterator[None]:
        with lock:
            yield

    def _vault_lock(self) -> AbstractContextManager[None]:
        return self.hold(self._backend.vault_lock())


STALE_LISTING_S = 3600


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


def _carry_over(target: Path, staged: Path, files: Sequence[str]) -> None:
    """Bring `files` of the copy in the vault into staging (hard links: no bytes copied; a
    copy where links are not possible), unless staging already has them."""
    for relative in files:
        source, destination = target / relative, staged / relative
        if os.path.lexists(destination):
            continue
        if source.is_symlink() or not source.is_file():
            raise DownloadFailed(f"{relative} of the copy in the vault is missing")
        make_private_dirs(destination.parent)
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)


def _nothing_to_resume(staged: Path) -> bool:
    """No model file and no downloaded byte under `staged`: only empty folders, records of
    what a download meant to fetch (`*.json` under the download metadata) and empty files."""
    if not staged.is_dir() or staged.is_symlink():
        return False
    for current, _, names in os.walk(staged):
        for name in names:
            path = Path(current) / name
            relative = path.relative_to(staged).as_posix()
            if not is_download_metadata(relative):
                return False
            if not name.endswith(".json") and path.lstat().st_size > 0:
                return False
    return True


def _keep_only(staged: Path, wanted: Sequence[str]) -> dict[str, int]:
    """Check every file of `wanted` is in `staged`, then delete everything else (download
    metadata, files of earlier attempts, symlinks); return the sizes of `wanted`."""
    sizes = {}
    for relative in wanted:
        path = staged / relative
        if path.is_symlink() or not path.is_file():
            raise DownloadFailed(f"{relative} is missing from the download")
        sizes[relative] = path.stat().st_size
    keep = set(wanted)
    for current, dirs, names in os.walk(staged, topdown=False):
        base = Path(current)
        for name in names:
            path = base / name
            if path.relative_to(staged).as_posix() not in keep:
                path.unlink()
        for name in dirs:
            path = base / name
            if path.is_symlink():
                path.unlink()
            elif not any(path.iterdir()):
                path.rmdir()
    os.chmod(staged, DIR_MODE)
    return sizes


def _holds_exactly(directory: Path, files: Sequence[str]) -> bool:
    return sorted(path for path, _ in walk_files(directory)) == sorted(files)


def _names_in(directory: str) -> frozenset[str]:
    """The names of every entry of `directory` (none if it cannot be listed)."""
    try:
        with os.scandir(directory) as entries:
            return frozenset(entry.name for entry in entries)
    except OSError:
        return frozenset()
