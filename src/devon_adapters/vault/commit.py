"""Committing a download: the staged files moved into the vault and recorded, journaled in
the index first (`operations`) so that a crash at any step is finished or undone at the next
open (see `recovery.py`).

The steps: the journal entry; the old copy (if any) moved aside into `.devon/trash/`;
staging renamed into place; in one transaction the model recorded and the journal entry
closed. Only then is the old copy deleted."""

import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from devon_adapters.index.backends import VaultIndex
from devon_adapters.index.records import Operation, Record
from devon_adapters.model_files.identities import record_declared
from devon_adapters.vault.paths import (
    DIR_MODE,
    VaultPaths,
    check_relative_file,
    is_download_metadata,
    make_private_dirs,
)
from devon_core.commit_metadata import CommitMetadata
from devon_core.errors import DownloadFailed, InvalidInput
from devon_core.results import StagingArea


class CommitVault(Protocol):
    """What a commit needs of the vault it commits into (`DiskModelStore` is one)."""

    after_step: Callable[[str], None]
    """Called with the name of each step as it completes (a test hook)."""

    @property
    def paths(self) -> VaultPaths: ...

    @property
    def index(self) -> VaultIndex: ...

    def lock(self, source: str, model_id: str) -> AbstractContextManager[None]: ...

    def refuse_clash(self, source: str, model_id: str, db: Any = None) -> None: ...

    def refresh_manifest(self) -> None: ...

    def delete_leftover(self, path: Path) -> None: ...


class Commits:
    """The commits into one vault. `settle` finishes or undoes an operation that failed
    part-way (`CrashRecovery.settle`); `release` gives back the room a download held."""

    def __init__(
        self,
        vault: CommitVault,
        settle: Callable[[Operation], None],
        release: Callable[[str, str], None],
    ) -> None:
        self._vault = vault
        self._settle = settle
        self._release = release

    def commit(
        self,
        staging: StagingArea,
        files: Sequence[str],
        downloaded_at: datetime,
        metadata: CommitMetadata,
        carry_over: Sequence[str] = (),
    ) -> Record:
        """Move `files` of `staging` into the vault (`carry_over`: files kept from the copy
        it replaces) and record them; return the model's row."""
        vault, paths = self._vault, self._vault.paths
        source, model_id = staging.source, staging.model_id
        staged = paths.staging(source, model_id)
        if Path(staging.path) != staged:
            raise InvalidInput(f"{staging.path} is not the staging directory of {model_id}")
        wanted = sorted({check_relative_file(f) for f in files})
        if metadata_files := [f for f in wanted if is_download_metadata(f)]:
            raise InvalidInput(f"Download metadata is not a model file: {metadata_files}")
        with vault.lock(source, model_id):
            vault.refuse_clash(source, model_id)
            paths.ensure_inside(staged)
            target = paths.model_dir(source, model_id)
            paths.ensure_inside(target)
            index = vault.index
            previous = index.get(source, model_id)
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
                paths,
                source,
                model_id,
                metadata.described.revision if metadata.described else None,
                metadata.declared_files,
                carried=carry_over,
            )
            with index.write() as db:
                # Checked again in the transaction that journals the commit: of two commits
                # whose folders nest, the second to journal sees the first and is refused.
                vault.refuse_clash(source, model_id, db)
                index.begin_operation(db, operation)
            try:
                vault.after_step("commit:journaled")
                if aside:
                    os.rename(target, paths.trash / aside)
                    vault.after_step("commit:old-aside")
                os.rename(staged, target)
                vault.after_step("commit:moved")
                with index.write() as db:
                    index.put(db, record)
                    index.end_operation(db, source, model_id)
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
            vault.after_step("commit:recorded")
            self._release(source, model_id)  # its bytes now count as used
            vault.refresh_manifest()
            if aside:
                vault.delete_leftover(paths.trash / aside)
        return record


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
