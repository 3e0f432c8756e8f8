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
The parts live beside it: `commit.py` (commits), `recovery.py` (crash recovery at open),
`rebuild.py` (the index re-derived from disk), `listing.py`, `reservations.py`,
`leftovers.py`.
"""

import builtins
import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from devon_adapters.index.backends import IndexBackend, VaultIndex, open_backend
from devon_adapters.index.copy import copy_index
from devon_adapters.index.records import Operation, Record
from devon_adapters.index.sqlite import Index
from devon_adapters.model_files.identities import forget
from devon_adapters.transfer.staging_layout import arrived_bytes
from devon_adapters.vault.batch_commit import delete_abandoned_batches
from devon_adapters.vault.commit import Commits
from devon_adapters.vault.leftovers import StagingLeftovers
from devon_adapters.vault.listing import KeptListing
from devon_adapters.vault.manifest import MANIFEST_LOCK, ManifestWriter
from devon_adapters.vault.paths import (
    VaultPaths,
    is_download_metadata,
    make_private_dirs,
    partial_files,
    placed_folder,
    walk_files,
)
from devon_adapters.vault.rebuild import rebuild_index, restore_index
from devon_adapters.vault.recovery import CrashRecovery
from devon_adapters.vault.reservations import Reservations
from devon_adapters.vault.trees import bytes_under, delete_tree
from devon_core.commit_metadata import CommitMetadata
from devon_core.errors import InvalidInput, RemovalFailed, StoreUnavailable
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
        with self._vault_lock():
            try:
                self._index, restored = self._open_index()
            except OSError as error:
                raise InvalidInput(
                    f"Cannot open the vault index {self._backend.describe()}: {error}"
                ) from None
            self._listing = KeptListing(self._paths, self._index, self._path_of)
            self._manifest = ManifestWriter(
                self._paths, self._index, self._backend.named_lock(MANIFEST_LOCK)
            )
            self._recovery = CrashRecovery(self._paths, self._index, self._backend)
            self._commits = Commits(self, self._recovery.settle, self._reservations.release)
            if self._recover() or restored:
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
        record = self._commits.commit(staging, files, downloaded_at, metadata, carry_over)
        self._tell_observers(record.source, record.model_id)
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
        """Re-derive the index from the model directories on disk; return the model count
        (see `rebuild.rebuild_index`)."""
        with self._vault_lock():
            rebuild_index(self._paths, self._index)
            self.refresh_manifest()
            return len(self._index.model_keys())

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

    def _open_index(self) -> tuple[VaultIndex, bool]:
        """The index, restored from disk if it was just created; whether that changed it."""
        index = self._backend.open_index()
        if not index.created:
            return index, False
        restored = restore_index(self._paths, index)
        self.rebuild_skipped.extend(restored.skipped)
        return index, restored.changed

    def _recover(self) -> bool:
        """Repair what crashed processes left (see `CrashRecovery`); whether the index changed."""
        changed = self._recovery.finish_abandoned()
        delete_abandoned_batches(self)
        if self._recovery.drop_vanished():
            changed = True
        return changed

    def vanished(self, keys: Iterable[tuple[str, str]]) -> "builtins.list[tuple[str, str]]":
        """The models among `keys` whose directory is gone and that no commit or removal
        is working on (see `CrashRecovery.vanished`)."""
        return self._recovery.vanished(keys)

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
